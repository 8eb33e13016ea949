import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import {
  attachDatagrams, attachDatagramTcp, attachUdp, type Relay, type RelayDatagramChannel,
} from '../../src/relay/index.js';
import { encodeUdpAttach, parseUdp, UdpType } from '../../src/relay/attach-protocol.js';
import { DatagramFrameReader, encodeDatagramFrame, MAX_DATAGRAM_FRAME_BODY } from '../../src/relay/datagram-frames.js';
import { withRelay } from './support/relay.js';

// UDP relay sessions for peers whose UDP is blocked: one or both peers attach over TCP
// (datagramTcpPort) and the relay bridges framed datagrams to the other side, UDP or TCP.

type Via = 'udp' | 'tcp';

async function attach(relay: Relay, token: string, via: Via): Promise<RelayDatagramChannel> {
  const { endpoints } = relay;
  if (via === 'tcp') return attachDatagramTcp({ host: endpoints.host, port: endpoints.datagramTcpPort!, token, timeoutMs: 5000 });
  return attachUdp({ host: endpoints.host, port: endpoints.udpPort, token, timeoutMs: 5000 });
}

async function pair(relay: Relay, vias: [Via, Via]): Promise<[RelayDatagramChannel, RelayDatagramChannel]> {
  const { tokens } = await relay.createSession();
  return Promise.all([attach(relay, tokens[0], vias[0]), attach(relay, tokens[1], vias[1])]);
}

function digest(payloads: Buffer[]): string[] {
  return payloads.map((payload) => createHash('sha256').update(payload).digest('hex')).sort();
}

/** Sends `count` random datagrams (1 byte up to the largest allowed) from `from`; resolves with what `to` received, in order. */
async function exchange(from: RelayDatagramChannel, to: RelayDatagramChannel, count: number): Promise<{ sent: Buffer[]; received: Buffer[] }> {
  const sent = Array.from({ length: count }, (_, index) => randomBytes(index === 0 ? from.maxDatagramSize : 1 + (index * 97) % from.maxDatagramSize));
  const received: Buffer[] = [];
  const all = new Promise<void>((resolve) => {
    const onMessage = (payload: Buffer): void => {
      received.push(Buffer.from(payload));
      if (received.length === count) {
        to.off('message', onMessage);
        resolve();
      }
    };
    to.on('message', onMessage);
  });
  for (const payload of sent) from.send(payload);
  await all;
  return { sent, received };
}

async function closeBoth(a: RelayDatagramChannel, b: RelayDatagramChannel): Promise<void> {
  const closedB = b.closed ? Promise.resolve() : once(b, 'close');
  await a.close();
  await closedB;
}

for (const vias of [['tcp', 'udp'], ['udp', 'tcp'], ['tcp', 'tcp']] as Array<[Via, Via]>) {
  test(`a session attached ${vias[0]} + ${vias[1]} carries datagrams both ways, intact`, async () => {
    await withRelay({}, async (relay) => {
      const [a, b] = await pair(relay, vias);
      assert.deepEqual([a.attachment, b.attachment], vias);
      assert.equal(a.maxDatagramSize, b.maxDatagramSize, 'a datagram that fits one attachment fits the other');
      const forth = await exchange(a, b, 20);
      assert.deepEqual(digest(forth.received), digest(forth.sent));
      const back = await exchange(b, a, 20);
      assert.deepEqual(digest(back.received), digest(back.sent));
      const bytes = [...forth.sent, ...back.sent].reduce((sum, payload) => sum + payload.length, 0);
      assert.equal(relay.counters.get('udp_bytes_relayed'), bytes);
      await closeBoth(a, b);
      assert.equal(relay.sessionCount, 0);
    });
  });
}

test('closing the TCP-attached end tells the UDP-attached one, and the other way round', async () => {
  await withRelay({}, async (relay) => {
    const [tcpEnd, udpEnd] = await pair(relay, ['tcp', 'udp']);
    const closed = once(udpEnd, 'close');
    await tcpEnd.close();
    assert.deepEqual(await closed, [{ reason: 'remote' }]);
    const [udpFirst, tcpSecond] = await pair(relay, ['udp', 'tcp']);
    const closedTcp = once(tcpSecond, 'close');
    await udpFirst.close();
    assert.deepEqual(await closedTcp, [{ reason: 'remote' }]);
    assert.equal(relay.sessionCount, 0);
  });
});

test('a wrong token over TCP is refused with ERR_RELAY_TOKEN_INVALID; a TCP stream session refuses it with ERR_RELAY_TRANSPORT_MISMATCH', async () => {
  await withRelay({ pendingTimeoutMs: 5000 }, async (relay) => {
    await assert.rejects(attach(relay, randomBytes(24).toString('base64url'), 'tcp'), { code: 'ERR_RELAY_TOKEN_INVALID' });
    const { tokens, endpoints } = await relay.createSession();
    const { attachTcp } = await import('../../src/relay/index.js');
    const stream = attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token: tokens[0], timeoutMs: 5000 }).catch((error: { code: string }) => error.code);
    while (relay.counters.get('attach_ok') < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    await assert.rejects(attach(relay, tokens[1], 'tcp'), { code: 'ERR_RELAY_TRANSPORT_MISMATCH' });
    await relay.close();
    assert.equal(await stream, 'ERR_RELAY_SESSION_CLOSED');
  });
});

test('a TCP-attached peer whose partner never comes is told ERR_RELAY_PEER_TIMEOUT; a UDP-attached one too', async () => {
  await withRelay({ pendingTimeoutMs: 200 }, async (relay) => {
    for (const via of ['tcp', 'udp'] as const) {
      const { tokens } = await relay.createSession();
      await assert.rejects(attach(relay, tokens[0], via), { code: 'ERR_RELAY_PEER_TIMEOUT' });
    }
    assert.equal(relay.sessionCount, 0);
  });
});

test('a peer whose UDP attach goes unanswered falls back to TCP with the same token', async () => {
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
  try {
    await withRelay({}, async (relay) => {
      const { tokens, endpoints } = await relay.createSession();
      const blackHoled = { ...endpoints, udpPort: silent.address().port };
      const [fallen, direct] = await Promise.all([
        attachDatagrams({ endpoints: blackHoled, token: tokens[0], udpAnswerTimeoutMs: 300, timeoutMs: 5000 }),
        attachDatagrams({ endpoints, token: tokens[1], timeoutMs: 5000 }),
      ]);
      assert.equal(fallen.attachment, 'tcp');
      assert.equal(direct.attachment, 'udp');
      const { sent, received } = await exchange(fallen, direct, 5);
      assert.deepEqual(digest(received), digest(sent));
      await closeBoth(fallen, direct);
    });
  } finally {
    silent.close();
  }
});

test('a UDP attach whose answers were lost is replaced by the TCP attach of the same token', async () => {
  await withRelay({}, async (relay) => {
    const { tokens, endpoints } = await relay.createSession();
    // The attach reaches the relay; its answer goes to a socket nobody reads.
    const lost = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => lost.bind(0, '127.0.0.1', () => resolve()));
    lost.send(encodeUdpAttach(tokens[0]), endpoints.udpPort, endpoints.host);
    while (relay.counters.get('attach_ok') < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const [replaced, other] = await Promise.all([attach(relay, tokens[0], 'tcp'), attach(relay, tokens[1], 'udp')]);
    const { sent, received } = await exchange(other, replaced, 3);
    assert.deepEqual(digest(received), digest(sent));
    lost.close();
    await closeBoth(replaced, other);
  });
});

/** A raw TCP connection to the datagram port: what a broken or hostile client sends. */
async function rawConnection(relay: Relay): Promise<{ socket: net.Socket; replies: () => Promise<number[]> }> {
  const socket = net.connect({ host: relay.endpoints.host, port: relay.endpoints.datagramTcpPort! });
  await once(socket, 'connect');
  const reader = new DatagramFrameReader();
  const statuses: number[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const read of reader.push(chunk)) {
      if (read.kind !== 'frame') continue;
      const parsed = parseUdp(read.body);
      if (parsed.type === UdpType.AttachReply) statuses.push(parsed.status);
    }
  });
  const closed = once(socket, 'close');
  return { socket, replies: async () => (await closed, statuses) };
}

test('oversize, garbage and truncated frames close only that connection; a session next to them keeps working', async () => {
  await withRelay({ handshakeTimeoutMs: 300 }, async (relay) => {
    const [a, b] = await pair(relay, ['tcp', 'udp']);
    const BAD_REQUEST = 8;

    const oversize = await rawConnection(relay);
    const header = Buffer.alloc(2);
    header.writeUInt16BE(MAX_DATAGRAM_FRAME_BODY + 1);
    oversize.socket.write(header);
    assert.deepEqual(await oversize.replies(), [BAD_REQUEST]);

    const garbage = await rawConnection(relay);
    garbage.socket.write(encodeDatagramFrame([randomBytes(40)]).fill(0xff, 2, 3));
    assert.deepEqual(await garbage.replies(), [BAD_REQUEST]);

    const truncated = await rawConnection(relay);
    truncated.socket.write(encodeDatagramFrame([randomBytes(100)]).subarray(0, 50));
    assert.deepEqual(await truncated.replies(), [BAD_REQUEST], 'the handshake deadline cuts off a frame that never completes');

    // An attached peer that breaks the framing loses its own session, and only that one.
    const { tokens } = await relay.createSession();
    const victim = await rawConnection(relay);
    const attached = relay.counters.get('attach_ok');
    victim.socket.write(encodeDatagramFrame([encodeUdpAttach(tokens[0])]));
    while (relay.counters.get('attach_ok') === attached) await new Promise((resolve) => setTimeout(resolve, 5));
    const partner = await attach(relay, tokens[1], 'udp');
    const partnerClosed = once(partner, 'close');
    victim.socket.write(Buffer.from([0xff, 0xff, 0x00]));
    assert.deepEqual(await victim.replies(), [10, 0, BAD_REQUEST], 'Waiting, Ok, then the protocol error');
    assert.deepEqual(await partnerClosed, [{ reason: 'remote' }]);

    const { sent, received } = await exchange(a, b, 5);
    assert.deepEqual(digest(received), digest(sent));
    assert.equal(relay.sessionCount, 1);
    assert.ok(relay.counters.get('attach_malformed') >= 3);
    await closeBoth(a, b);
  });
});

test('the per-peer byte rate applies to a TCP-attached peer', async () => {
  await withRelay({ bytesPerSecond: 2000 }, async (relay) => {
    const [a, b] = await pair(relay, ['tcp', 'udp']);
    let delivered = 0;
    b.on('message', (payload: Buffer) => (delivered += payload.length));
    for (let index = 0; index < 20; index++) a.send(Buffer.alloc(1000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(delivered < 20 * 1000, `delivered ${delivered} bytes: some must have been dropped`);
    assert.ok(relay.counters.get('udp_datagrams_rate_dropped') > 0);
    await closeBoth(a, b);
  });
});

test('an idle session with a TCP-attached peer is ended and both peers are told', async () => {
  await withRelay({ idleTimeoutMs: 200 }, async (relay) => {
    const [a, b] = await pair(relay, ['tcp', 'udp']);
    const closed = await Promise.all([once(a, 'close'), once(b, 'close')]);
    assert.deepEqual(closed, [[{ reason: 'remote' }], [{ reason: 'remote' }]]);
    assert.equal(relay.counters.get('sessions_ended_idle'), 1);
  });
});

test('an attach flood over TCP is refused with ERR_RELAY_RATE_LIMITED without disturbing a running session', async () => {
  await withRelay({ attachesPerSecond: 1, attachBurst: 3 }, async (relay) => {
    const [a, b] = await pair(relay, ['tcp', 'tcp']);
    const flood = await Promise.allSettled(Array.from({ length: 5 }, () => attach(relay, randomBytes(24).toString('base64url'), 'tcp')));
    const codes = flood.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as { code: string }).code : 'attached'));
    assert.ok(codes.includes('ERR_RELAY_RATE_LIMITED'), codes.join(', '));
    const { sent, received } = await exchange(a, b, 3);
    assert.deepEqual(digest(received), digest(sent));
    await closeBoth(a, b);
  });
});
