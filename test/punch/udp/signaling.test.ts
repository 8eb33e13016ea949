import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lateCandidates, MAX_LATE_CANDIDATES, parseLateCandidates } from '../../../src/punch/udp/signaling.js';
import { isCandidate, normalizeCandidates, type Candidate } from '../../../src/punch/candidates.js';

const predicted: Candidate = { kind: 'predicted', address: '203.0.113.20', port: 20004 };

test('late candidates survive a JSON trip through the broker', () => {
  const message = JSON.parse(JSON.stringify(lateCandidates('c1', 2, [predicted]))) as unknown;
  assert.deepEqual(parseLateCandidates(message, 'c1'), { type: 'ntcp/udp-candidates', connectionId: 'c1', round: 2, candidates: [predicted] });
});

test('late candidates of another connection, or other payloads, are ignored', () => {
  assert.equal(parseLateCandidates(lateCandidates('c2', 0, [predicted]), 'c1'), undefined);
  assert.equal(parseLateCandidates({ type: 'chat', text: 'hi' }, 'c1'), undefined);
  assert.equal(parseLateCandidates(null, 'c1'), undefined);
});

test('malformed or oversized candidate lists from the peer are refused whole', () => {
  const bad = (candidates: unknown, round: unknown = 0) => parseLateCandidates({ type: 'ntcp/udp-candidates', connectionId: 'c1', round, candidates }, 'c1');
  assert.equal(bad([{ kind: 'relay', address: '1.2.3.4', port: 1 }]), undefined);
  assert.equal(bad([{ kind: 'srflx', address: '1.2.3.4', port: 70000 }]), undefined);
  assert.equal(bad([{ kind: 'srflx', address: '', port: 1 }]), undefined);
  assert.equal(bad(Array.from({ length: MAX_LATE_CANDIDATES + 1 }, () => predicted)), undefined);
  assert.equal(bad([predicted], -1), undefined);
  assert.equal(bad([predicted], 1.5), undefined);
});

test('extra fields of a candidate are not carried into the engine', () => {
  const parsed = parseLateCandidates(lateCandidates('c1', 0, [{ ...predicted, note: 'x' } as Candidate]), 'c1');
  assert.deepEqual(parsed?.candidates, [predicted]);
});

test('normalizeCandidates keeps one candidate per endpoint, host before srflx before predicted', () => {
  const list: Candidate[] = [
    predicted,
    { kind: 'srflx', address: '203.0.113.100', port: 5000 },
    { kind: 'host', address: '203.0.113.100', port: 5000 },
    { kind: 'host', address: '10.1.0.10', port: 5000 },
  ];
  assert.deepEqual(normalizeCandidates(list), [
    { kind: 'host', address: '203.0.113.100', port: 5000 },
    { kind: 'host', address: '10.1.0.10', port: 5000 },
    predicted,
  ]);
  assert.equal(isCandidate({ kind: 'host', address: '10.1.0.10', port: 0 }), false);
});
