import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { attachUdp, type Relay, type RelayUdpChannel } from '../../src/relay/index.js';
import { withRelay } from './support/relay.js';
import { encodeUdpAttach, UDP_DATA_HEADER } from '../../src/relay/attach-protocol.js';

async function pair(relay: Relay): Promise<{ channels: [RelayUdpChannel, RelayUdpChannel]; tokens: [string, string] }> {
  const { tokens, endpoints } = await relay.createSession();
  const attach = (token: string) => attachUdp({ host: endpoints.host, port: endpoints.udpPort, token, timeoutMs: 5000 });
  return { channels: await Promise.all([attach(tokens[0]), attach(tokens[1])]), tokens };
}

async function bindSocket(address = '127.0.0.1'): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  return socket;
}

/** Closes `a` (ending the session) and waits until the relay has told `b`. */
async function closeSession(a: RelayUdpChannel, b: RelayUdpChannel): Promise<void> {
  const closedB = b.closed ? Promise.resolve() : once(b, 'close');
  await a.close();
  await closedB;
}

function nextMessage(channel: RelayUdpChannel): Promise<string> {
  return once(channel, 'message').then(([payload]) => (payload as Buffer).toString());
}

test('a relayed UDP session carries datagrams both ways', async () => {
  await withRelay({}, async (relay) => {
    const { channels: [a, b] } = await pair(relay);
    const atB = nextMessage(b);
    a.send(Buffer.from('from a'));
    assert.equal(await atB, 'from a');
    const atA = nextMessage(a);
    b.send(Buffer.from('from b'));
    assert.equal(await atA, 'from b');
    assert.equal(relay.counters.get('udp_bytes_relayed'), 12);
    await closeSession(a, b);
  });
});

test('closing one end tells the other the session is over', async () => {
  await withRelay({}, async (relay) => {
    const { channels: [a, b] } = await pair(relay);
    const closedB = once(b, 'close');
    await a.close();
    assert.deepEqual(await closedB, [{ reason: 'remote' }]);
    assert.equal(relay.sessionCount, 0);
  });
});

test('a wrong UDP token is refused with ERR_RELAY_TOKEN_INVALID', async () => {
  await withRelay({}, async (relay) => {
    await relay.createSession();
    await assert.rejects(
      attachUdp({ host: '127.0.0.1', port: relay.endpoints.udpPort, token: randomBytes(24).toString('base64url'), timeoutMs: 5000 }),
      { code: 'ERR_RELAY_TOKEN_INVALID' },
    );
  });
});

test('a TCP-attached session refuses the UDP transport', async () => {
  await withRelay({ pendingTimeoutMs: 5000 }, async (relay) => {
    const { tokens, endpoints } = await relay.createSession();
    const { attachTcp } = await import('../../src/relay/index.js');
    const pending = attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token: tokens[0], timeoutMs: 5000 }).catch((error: { code: string }) => error.code);
    while (relay.counters.get('attach_ok') < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    await assert.rejects(attachUdp({ host: endpoints.host, port: endpoints.udpPort, token: tokens[1], timeoutMs: 5000 }), { code: 'ERR_RELAY_TRANSPORT_MISMATCH' });
    await relay.close();
    assert.equal(await pending, 'ERR_RELAY_SESSION_CLOSED');
  });
});

test('datagrams from a third party without a token are not forwarded', async () => {
  await withRelay({}, async (relay) => {
    const { channels: [a, b] } = await pair(relay);
    const stranger = await bindSocket();
    const received: string[] = [];
    b.on('message', (payload: Buffer) => received.push(payload.toString()));
    stranger.send(Buffer.concat([UDP_DATA_HEADER, Buffer.from('spoofed')]), relay.endpoints.udpPort, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const marker = nextMessage(b);
    a.send(Buffer.from('genuine'));
    await marker;
    assert.deepEqual(received, ['genuine']);
    assert.ok(relay.counters.get('udp_datagrams_dropped') >= 1);
    stranger.close();
    await closeSession(a, b);
  });
});

test('a peer whose address changed re-attaches with its token and keeps the session', async () => {
  await withRelay({}, async (relay) => {
    const { channels: [a, b], tokens } = await pair(relay);
    const moved = await bindSocket();
    const attachReply = once(moved, 'message');
    moved.send(encodeUdpAttach(tokens[0]), relay.endpoints.udpPort, '127.0.0.1');
    await attachReply;
    const atMoved = once(moved, 'message');
    b.send(Buffer.from('to the new address'));
    const [datagram] = (await atMoved) as [Buffer];
    assert.equal(datagram.subarray(1).toString(), 'to the new address');
    const atB = nextMessage(b);
    moved.send(Buffer.concat([UDP_DATA_HEADER, Buffer.from('from the new address')]), relay.endpoints.udpPort, '127.0.0.1');
    assert.equal(await atB, 'from the new address');
    moved.close();
    // The old address is no longer bound: its close is ignored, the session lives on.
    await a.close();
    await b.close();
    while (relay.sessionCount > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(relay.counters.get('sessions_ended_closed'), 1);
  });
});

test('an attach flood from one address is dropped without disturbing other sessions', async () => {
  await withRelay({ attachesPerSecond: 5, attachBurst: 10 }, async (relay) => {
    const { channels: [a, b] } = await pair(relay);
    const flooder = await bindSocket('127.0.0.9');
    for (let i = 0; i < 200; i++) flooder.send(encodeUdpAttach(randomBytes(24).toString('base64url')), relay.endpoints.udpPort, '127.0.0.1');
    const atB = nextMessage(b);
    a.send(Buffer.from('through the flood'));
    assert.equal(await atB, 'through the flood');
    while (relay.counters.get('attach_rate_limited') + relay.counters.get('attach_rejected') < 200) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(relay.counters.get('attach_rate_limited') >= 180, `rate limited ${relay.counters.get('attach_rate_limited')}`);
    const fresh = await pair(relay);
    assert.equal(fresh.channels.length, 2, 'other sources still attach');
    flooder.close();
    await closeSession(a, b);
    await closeSession(fresh.channels[0], fresh.channels[1]);
  });
});

test('an idle UDP session is ended and both peers are told', async () => {
  await withRelay({ idleTimeoutMs: 200 }, async (relay) => {
    const { tokens, endpoints } = await relay.createSession();
    const attach = (token: string) => attachUdp({ host: endpoints.host, port: endpoints.udpPort, token, timeoutMs: 5000, keepaliveMs: 60_000 });
    const [a, b] = await Promise.all([attach(tokens[0]), attach(tokens[1])]);
    assert.deepEqual(await Promise.all([once(a, 'close'), once(b, 'close')]), [[{ reason: 'remote' }], [{ reason: 'remote' }]]);
    assert.equal(relay.counters.get('sessions_ended_idle'), 1);
  });
});

test('keepalives hold an otherwise silent session open', async () => {
  await withRelay({ idleTimeoutMs: 300 }, async (relay) => {
    const { tokens, endpoints } = await relay.createSession();
    const attach = (token: string) => attachUdp({ host: endpoints.host, port: endpoints.udpPort, token, timeoutMs: 5000, keepaliveMs: 50 });
    const [a, b] = await Promise.all([attach(tokens[0]), attach(tokens[1])]);
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(relay.sessionCount, 1);
    assert.ok(!a.closed && !b.closed);
    await closeSession(a, b);
  });
});

test('a datagram larger than maxDatagramSize is refused before it is sent', async () => {
  await withRelay({}, async (relay) => {
    const { channels: [a, b] } = await pair(relay);
    assert.equal(a.maxDatagramSize, 1280 - 20 - 8 - 1);
    assert.throws(() => a.send(Buffer.alloc(a.maxDatagramSize + 1)), { code: 'ERR_INVALID_ARGUMENT' });
    await closeSession(a, b);
  });
});

test('datagrams over the per-peer byte rate are dropped', async () => {
  await withRelay({ bytesPerSecond: 1000, burstBytes: 1000 }, async (relay) => {
    const { channels: [a, b] } = await pair(relay);
    let received = 0;
    b.on('message', (payload: Buffer) => {
      received += payload.length;
    });
    for (let i = 0; i < 20; i++) a.send(Buffer.alloc(500));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(received <= 1500, `received ${received}`);
    assert.ok(relay.counters.get('udp_datagrams_rate_dropped') >= 15);
    await closeSession(a, b);
  });
});
