import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeTcpAttach, parseTcpAttach, parseUdp, encodeUdpAttach, UdpType } from '../../src/relay/attach-protocol.js';
import { SessionTable } from '../../src/relay/session-table.js';
import { resolveLimits } from '../../src/relay/limits.js';
import { TokenBucket, SourceRateLimiter } from '../../src/util/token-bucket.js';
import { AttachStatus } from '../../src/relay/errors.js';

class ManualClock {
  time = 0;
  now(): number {
    return this.time;
  }
}

test('the TCP attach frame parses whole, asks for more when cut, and rejects garbage', () => {
  const frame = encodeTcpAttach('token-123');
  assert.deepEqual(parseTcpAttach(frame), { kind: 'attach', version: 1, token: 'token-123', consumed: frame.length });
  for (let cut = 0; cut < frame.length; cut++) assert.equal(parseTcpAttach(frame.subarray(0, cut)).kind, 'incomplete');
  assert.equal(parseTcpAttach(Buffer.from('GET / HTTP/1.1')).kind, 'invalid');
  assert.equal(parseTcpAttach(Buffer.from([...Buffer.from('NTRL'), 2, 1, 65])).kind, 'invalid', 'unknown version');
});

test('UDP datagrams classify by their type byte; a bad attach is invalid', () => {
  assert.deepEqual(parseUdp(encodeUdpAttach('abc')), { type: UdpType.Attach, token: 'abc' });
  assert.equal(parseUdp(Buffer.from([UdpType.Data, 1, 2])).type, UdpType.Data);
  assert.equal(parseUdp(Buffer.from([UdpType.Attach, 1, 9, 65])).type, 'invalid');
  assert.equal(parseUdp(Buffer.alloc(0)).type, 'invalid');
});

test('a token bucket refills at its rate and reports the debt as a delay', () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(1000, 500, clock);
  assert.equal(bucket.consume(500), 0);
  assert.equal(bucket.consume(250), 250, '250 bytes of debt at 1000/s is 250 ms');
  clock.time += 250;
  assert.equal(bucket.consume(0), 0);
  assert.equal(bucket.tryTake(1), false);
  clock.time += 100;
  assert.equal(bucket.tryTake(100), true);
});

test('the per-source limiter is per address and bounded in sources', () => {
  const clock = new ManualClock();
  const limiter = new SourceRateLimiter({ ratePerSecond: 1, burst: 2, maxSources: 3 }, clock);
  assert.ok(limiter.allow('a') && limiter.allow('a'));
  assert.ok(!limiter.allow('a'));
  assert.ok(limiter.allow('b'));
  for (const source of ['c', 'd', 'e']) limiter.allow(source);
  assert.equal(limiter.size, 3);
});

test('session tokens: single-use on TCP, re-attachable on UDP, expired and ended ones say why', () => {
  const clock = new ManualClock();
  const table = new SessionTable(resolveLimits({ tokenTtlMs: 1000, pendingTimeoutMs: 500, idleTimeoutMs: 2000 }), clock);
  const tcp = table.create();
  assert.equal(table.claim(tcp.tokens[0], 'tcp').status, AttachStatus.Ok);
  assert.equal(table.claim(tcp.tokens[0], 'tcp').status, AttachStatus.TokenUsed);
  assert.equal(table.claim(tcp.tokens[1], 'udp').status, AttachStatus.TransportMismatch);
  const udp = table.create();
  assert.equal(table.claim(udp.tokens[0], 'udp').status, AttachStatus.Ok);
  const again = table.claim(udp.tokens[0], 'udp');
  assert.ok(again.status === AttachStatus.Ok && again.reattach);
  const unused = table.create();
  clock.time = 600;
  table.sweep();
  assert.equal(table.claim(tcp.tokens[1], 'tcp').status, AttachStatus.TokenExpired, 'the partner never came: pending timeout');
  assert.equal(table.claim(tcp.tokens[0], 'tcp').status, AttachStatus.TokenUsed);
  clock.time = 1000;
  table.sweep();
  assert.equal(table.claim(unused.tokens[0], 'tcp').status, AttachStatus.TokenExpired);
  assert.equal(table.claim('never-issued', 'tcp').status, AttachStatus.TokenInvalid);
  assert.equal(table.size, 0);
});

test('an active session with no traffic for idleTimeoutMs is swept', () => {
  const clock = new ManualClock();
  const table = new SessionTable(resolveLimits({ idleTimeoutMs: 2000 }), clock);
  const ended: string[] = [];
  table.onEnd((_session, reason) => ended.push(reason));
  const session = table.create();
  table.claim(session.tokens[0], 'udp');
  table.claim(session.tokens[1], 'udp');
  clock.time = 1999;
  table.sweep();
  assert.deepEqual(ended, []);
  clock.time = 2000;
  table.sweep();
  assert.deepEqual(ended, ['idle']);
});

test('relay endpoints from the broker are checked before use', async () => {
  const { parseRelayEndpoints } = await import('../../src/relay/index.js');
  assert.deepEqual(parseRelayEndpoints({ host: '192.0.2.1', tcpPort: 3480, udpPort: 3480, extra: 1 }), { host: '192.0.2.1', tcpPort: 3480, udpPort: 3480 });
  assert.throws(() => parseRelayEndpoints({ host: '192.0.2.1', tcpPort: 70000, udpPort: 1 }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => parseRelayEndpoints('relay'), { code: 'ERR_INVALID_ARGUMENT' });
});
