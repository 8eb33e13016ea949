import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { attachTcp } from '../../src/relay/index.js';
import { closed, readAll, tcpPair, withRelay } from './support/relay.js';
import { encodeTcpAttach, parseTcpReply } from '../../src/relay/attach-protocol.js';


async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('a relayed TCP stream carries bytes both ways and propagates half-close', async () => {
  await withRelay({}, async (relay) => {
    const [a, b] = await tcpPair(relay);
    const payload = randomBytes(4 * 1024 * 1024);
    const atB = readAll(b);
    a.end(payload);
    assert.equal(sha(await atB), sha(payload), 'B receives exactly what A sent, then FIN');
    // A's write side is closed, B's is still open: B answers after A's FIN.
    const atA = readAll(a);
    b.end('answer after half-close');
    assert.equal((await atA).toString(), 'answer after half-close');
    await Promise.all([closed(a), closed(b)]);
    await until(() => relay.sessionCount === 0);
    assert.equal(relay.counters.get('sessions_ended_closed'), 1);
    assert.ok(relay.counters.get('tcp_bytes_relayed') >= payload.length);
  });
});

test('a wrong token is refused with ERR_RELAY_TOKEN_INVALID', async () => {
  await withRelay({}, async (relay) => {
    await relay.createSession();
    await assert.rejects(
      attachTcp({ host: '127.0.0.1', port: relay.endpoints.tcpPort, token: randomBytes(24).toString('base64url'), timeoutMs: 5000 }),
      { code: 'ERR_RELAY_TOKEN_INVALID' },
    );
  });
});

test('a token already used is refused with ERR_RELAY_TOKEN_USED and the session still pairs', async () => {
  await withRelay({}, async (relay) => {
    const { tokens, endpoints } = await relay.createSession();
    const first = attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token: tokens[0], timeoutMs: 5000 });
    await until(() => relay.counters.get('attach_ok') === 1);
    await assert.rejects(attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token: tokens[0], timeoutMs: 5000 }), { code: 'ERR_RELAY_TOKEN_USED' });
    const second = await attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token: tokens[1], timeoutMs: 5000 });
    const a = await first;
    const atA = readAll(a);
    second.end('still mine');
    assert.equal((await atA).toString(), 'still mine');
    a.destroy();
  });
});

test('an unclaimed token expires with ERR_RELAY_TOKEN_EXPIRED', async () => {
  await withRelay({ tokenTtlMs: 100 }, async (relay) => {
    const { tokens, endpoints } = await relay.createSession();
    await until(() => relay.sessionCount === 0);
    await assert.rejects(attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token: tokens[0], timeoutMs: 5000 }), { code: 'ERR_RELAY_TOKEN_EXPIRED' });
  });
});

test('a peer left alone past the pending time gets ERR_RELAY_PEER_TIMEOUT', async () => {
  await withRelay({ pendingTimeoutMs: 150 }, async (relay) => {
    const { tokens, endpoints } = await relay.createSession();
    await assert.rejects(attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token: tokens[0], timeoutMs: 5000 }), { code: 'ERR_RELAY_PEER_TIMEOUT' });
    await assert.rejects(attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token: tokens[1], timeoutMs: 5000 }), { code: 'ERR_RELAY_TOKEN_EXPIRED' });
  });
});

test('a third party cannot join or disturb a live session', async () => {
  await withRelay({}, async (relay) => {
    const [a, b] = await tcpPair(relay);
    const other = await relay.createSession();
    await assert.rejects(attachTcp({ host: '127.0.0.1', port: relay.endpoints.tcpPort, token: other.tokens[0].replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), timeoutMs: 5000 }), { code: 'ERR_RELAY_TOKEN_INVALID' });
    // Garbage instead of an attach frame: a BadRequest reply, then the relay closes.
    const raw = net.connect({ host: '127.0.0.1', port: relay.endpoints.tcpPort });
    raw.end('GET / HTTP/1.1\r\n\r\n');
    const reply = parseTcpReply(await readAll(raw));
    assert.deepEqual(reply, { kind: 'reply', status: 8 });
    const atB = readAll(b);
    a.end('private');
    assert.equal((await atB).toString(), 'private');
    b.destroy();
  });
});

test('a peer vanishing mid-stream resets the other side and ends the session', async () => {
  await withRelay({}, async (relay) => {
    const [a, b] = await tcpPair(relay);
    a.write(randomBytes(64 * 1024));
    await once(b, 'data');
    a.resetAndDestroy();
    const [error] = (await once(b, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNRESET', 'a truncated stream must not look like a clean end');
    await until(() => relay.sessionCount === 0);
    assert.equal(relay.counters.get('sessions_ended_vanished'), 1);
  });
});

test('an attach flood from one address is rate-limited without disturbing other sessions', async () => {
  await withRelay({ attachesPerSecond: 5, attachBurst: 10 }, async (relay) => {
    const [a, b] = await tcpPair(relay);
    const flood = Array.from({ length: 60 }, () =>
      attachTcp({ host: '127.0.0.1', port: relay.endpoints.tcpPort, localAddress: '127.0.0.9', token: randomBytes(24).toString('base64url'), timeoutMs: 5000 })
        .then(() => 'attached', (error: { code: string }) => error.code));
    const echoed = readAll(a);
    b.on('data', (chunk: Buffer) => b.write(chunk));
    b.on('end', () => b.end());
    for (let i = 0; i < 50; i++) a.write(`ping ${i}\n`);
    a.end();
    const codes = await Promise.all(flood);
    assert.ok(codes.filter((code) => code === 'ERR_RELAY_RATE_LIMITED').length >= 40, `flood limited: ${codes.join(',')}`);
    assert.ok(!codes.includes('attached'));
    assert.equal((await echoed).toString().split('\n').filter(Boolean).length, 50, 'the live session kept working');
    const [c, d] = await tcpPair(relay);
    assert.ok(c.readyState === 'open' && d.readyState === 'open', 'other sources still attach');
    c.destroy();
    d.destroy();
  });
});

test('createSession refuses past maxSessions with ERR_RELAY_CAPACITY', async () => {
  await withRelay({ maxSessions: 2 }, async (relay) => {
    await relay.createSession();
    await relay.createSession();
    await assert.rejects(relay.createSession(), { code: 'ERR_RELAY_CAPACITY' });
  });
});

test('a cancelled session frees its slot at once and its tokens say the session ended', async () => {
  await withRelay({ maxSessions: 1 }, async (relay) => {
    const { id, tokens, endpoints } = await relay.createSession();
    relay.cancelSession(id);
    assert.equal(relay.sessionCount, 0);
    assert.equal(relay.counters.get('sessions_ended_cancelled'), 1);
    await assert.rejects(attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token: tokens[0], timeoutMs: 5000 }), { code: 'ERR_RELAY_SESSION_CLOSED' });
    await relay.createSession();
  });
});

test('an idle session is ended and both peers see the close', async () => {
  await withRelay({ idleTimeoutMs: 200 }, async (relay) => {
    const [a, b] = await tcpPair(relay);
    // The relay ends an idle session with a FIN to each peer.
    await Promise.all([readAll(a), readAll(b)]);
    assert.equal(relay.counters.get('sessions_ended_idle'), 1);
  });
});

test('bytes per second per peer are held to the token bucket', async () => {
  const rate = 256 * 1024;
  const burst = 32 * 1024;
  await withRelay({ bytesPerSecond: rate, burstBytes: burst }, async (relay) => {
    const [a, b] = await tcpPair(relay);
    const started = performance.now();
    let received = 0;
    b.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    a.write(randomBytes(1024 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const elapsedS = (performance.now() - started) / 1000;
    // The relay reads one socket chunk (at most 64 KiB) past its budget before pausing.
    assert.ok(received <= burst + rate * elapsedS + 64 * 1024, `received ${received} bytes in ${elapsedS.toFixed(2)} s`);
    assert.ok(received > 0);
    a.destroy();
    b.destroy();
  });
});

test('the attach frame is exact: a token longer than 255 bytes is an argument error', async () => {
  await assert.rejects(attachTcp({ host: '127.0.0.1', port: 9, token: 'x'.repeat(256) }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.equal(encodeTcpAttach('abc').length, 9);
});

test('a connection that never sends its attach frame is closed after handshakeTimeoutMs', async () => {
  await withRelay({ handshakeTimeoutMs: 150 }, async (relay) => {
    const silent = net.connect({ host: '127.0.0.1', port: relay.endpoints.tcpPort });
    const reply = parseTcpReply(await readAll(silent));
    assert.deepEqual(reply, { kind: 'reply', status: 8 });
    assert.equal(relay.counters.get('attach_timeouts'), 1);
    silent.destroy();
  });
});

test('handshakes beyond maxHandshakes are refused at once', async () => {
  await withRelay({ maxHandshakes: 2 }, async (relay) => {
    const hold = [1, 2].map(() => net.connect({ host: '127.0.0.1', port: relay.endpoints.tcpPort }));
    await Promise.all(hold.map((socket) => once(socket, 'connect')));
    await until(() => relay.counters.get('tcp_handshakes_refused') === 0 && hold.every((socket) => socket.readyState === 'open'));
    const third = net.connect({ host: '127.0.0.1', port: relay.endpoints.tcpPort }).on('error', () => third.destroy());
    await closed(third);
    assert.equal(relay.counters.get('tcp_handshakes_refused'), 1);
    for (const socket of hold) socket.destroy();
  });
});
