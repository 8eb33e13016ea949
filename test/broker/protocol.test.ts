import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientMessage, jsonDepthWithin, MAX_ID_BYTES, peerIdProblem } from '../../src/broker/protocol.js';
import { encodeFrame, encodeFrameWithRawJson, FrameDecoder, RAW_JSON } from '../../src/broker/framing.js';
import { planStart, RttEstimator } from '../../src/broker/schedule.js';
import { reflexiveCandidates } from '../../src/broker/candidates.js';
import { errorFromReply, MatchError } from '../../src/broker/errors.js';

test('ids: non-empty, at most 64 bytes of UTF-8, no control characters, no lone surrogates', () => {
  assert.equal(peerIdProblem('alice'), undefined);
  assert.equal(peerIdProblem('é'.repeat(MAX_ID_BYTES / 2)), undefined);
  assert.match(peerIdProblem('é'.repeat(MAX_ID_BYTES / 2 + 1))!, /64 bytes/);
  assert.match(peerIdProblem('')!, /non-empty/);
  assert.match(peerIdProblem('a\nb')!, /control/);
  assert.match(peerIdProblem('\ud800x')!, /surrogate/);
  assert.equal(peerIdProblem('😀'), undefined);
});

test('register: profile is bounded in size and depth, defaults fill transports', () => {
  const ok = ClientMessage.parse({ type: 'register', id: 'a', profile: { udp: { mapped: { address: '1.2.3.4', port: 5 } } } });
  assert.equal(ok.type, 'register');
  assert.deepEqual(ok.type === 'register' && ok.transports, ['udp', 'tcp']);
  let deep: unknown = 1;
  for (let i = 0; i < 40; i++) deep = { d: deep };
  assert.equal(ClientMessage.safeParse({ type: 'register', id: 'a', profile: deep }).success, false);
  assert.equal(ClientMessage.safeParse({ type: 'register', id: 'a', profile: { blob: 'x'.repeat(17000) } }).success, false);
  assert.equal(ClientMessage.safeParse({ type: 'register', id: 'a', privateAddresses: [{ address: 'not-an-ip' }] }).success, false);
  assert.equal(ClientMessage.safeParse({ type: 'connect', requestId: '1', peerId: 'b', transport: 'sctp' }).success, false);
  assert.equal(ClientMessage.safeParse({ type: 'nonsense' }).success, false);
});

test('jsonDepthWithin measures without recursion', () => {
  let deep: unknown = [];
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(jsonDepthWithin(deep, 16), false);
  assert.equal(jsonDepthWithin({ a: [{ b: 1 }] }, 3), true);
  assert.equal(jsonDepthWithin({ a: [{ b: {} }] }, 3), false);
});

test('frames survive arbitrary splitting and an oversize header is refused before buffering', () => {
  const frames = [encodeFrame({ type: 'ping', seq: 1 }), encodeFrame({ type: 'hello', version: 1, software: 'ü' })];
  const stream = Buffer.concat(frames);
  for (let cut = 1; cut < stream.length; cut++) {
    const decoder = new FrameDecoder(1024);
    const bodies = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
    assert.deepEqual(bodies.map((body) => JSON.parse(body.toString())), [{ type: 'ping', seq: 1 }, { type: 'hello', version: 1, software: 'ü' }]);
    assert.equal(decoder.bufferedBytes, 0);
  }
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1025);
  assert.throws(() => new FrameDecoder(1024).push(header), { code: 'ERR_FRAME_TOO_LARGE' });
  assert.throws(() => new FrameDecoder(1024).push(Buffer.alloc(4)), { code: 'ERR_BAD_MESSAGE' });
});

test('a stored profile is spliced into a frame verbatim, whatever characters it holds', () => {
  const profile = { note: 'costs $& and $1 and "quotes"', nested: { list: [1, 'two'] } };
  const frame = encodeFrameWithRawJson({ type: 'coordinate', peer: { id: 'x', profile: RAW_JSON }, relay: { endpoints: RAW_JSON } }, JSON.stringify(profile));
  const [body] = new FrameDecoder(1024).push(frame);
  const decoded = JSON.parse(body!.toString());
  assert.deepEqual(decoded.peer.profile, profile);
  assert.equal(decoded.relay.endpoints, RAW_JSON, 'only the first marker is replaced');
});

test('synchronised start: both sides start at the same broker-relative moment', () => {
  const plan = planStart({ rttMs: 20, rttVarMs: 0 }, { rttMs: 100, rttVarMs: 0 }, { minMarginMs: 10 });
  // D = max(10, 50) + 10 = 60; the near peer waits longer than the far one.
  assert.equal(plan.startAfterSendMs, 60);
  assert.equal(plan.initiatorStartInMs, 50);
  assert.equal(plan.responderStartInMs, 10);
  assert.equal(10 + plan.initiatorStartInMs, 50 + plan.responderStartInMs);
  const jittery = planStart({ rttMs: 20, rttVarMs: 30 }, { rttMs: 20, rttVarMs: 1 }, { minMarginMs: 10, maxMarginMs: 40 });
  assert.equal(jittery.startAfterSendMs, 10 + 40);
});

test('RTT estimator follows RFC 6298 smoothing', () => {
  const rtt = new RttEstimator();
  rtt.sample(100, 0);
  assert.equal(rtt.srttMs, 100);
  assert.equal(rtt.rttVarMs, 50);
  rtt.sample(200, 10);
  assert.equal(rtt.srttMs, 112.5);
  assert.equal(rtt.rttVarMs, 62.5);
  assert.equal(rtt.isFresh(20, 5), false);
  assert.equal(rtt.isFresh(12, 5), true);
});

test('reflexive candidates come from the profile mapped addresses and ignore junk', () => {
  assert.deepEqual(reflexiveCandidates({ udp: { mapped: { address: '198.51.100.7', port: 4000 } }, tcp: { mapped: { address: 'junk', port: 1 } } }), [
    { source: 'profile-udp', address: '198.51.100.7', port: 4000 },
  ]);
  assert.deepEqual(reflexiveCandidates(null), []);
});

test('error frames come back as the typed errors', () => {
  const error = errorFromReply({ code: 'ERR_MATCH', message: 'x', details: { peerId: 'b', reason: 'dead' } });
  assert.ok(error instanceof MatchError);
  assert.equal(error.reason, 'dead');
  assert.equal(errorFromReply({ code: 'ERR_SOMETHING_NEW', message: 'y' }).code, 'ERR_SOMETHING_NEW');
});

test('a frame trickled one byte at a time decodes once complete; an oversize header is refused before its body', () => {
  const stream = Buffer.concat([encodeFrame({ type: 'ping', seq: 1 }), encodeFrame({ type: 'ping', seq: 2 })]);
  const decoder = new FrameDecoder(1024);
  const bodies: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) {
    const out = decoder.push(stream.subarray(i, i + 1));
    bodies.push(...out);
    if (bodies.length === 0) assert.equal(decoder.bufferedBytes, i + 1);
  }
  assert.deepEqual(bodies.map((body) => JSON.parse(body.toString())), [{ type: 'ping', seq: 1 }, { type: 'ping', seq: 2 }]);
  assert.equal(decoder.bufferedBytes, 0);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1025);
  const split = new FrameDecoder(1024);
  assert.deepEqual(split.push(header.subarray(0, 3)), []);
  assert.throws(() => split.push(header.subarray(3)), { code: 'ERR_FRAME_TOO_LARGE' });
});
