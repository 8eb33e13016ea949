import { test } from 'node:test';
import assert from 'node:assert/strict';
import { birthdayReady, isBirthdayReady, lateCandidates, MAX_LATE_CANDIDATES, parseLateCandidates } from '../../../src/punch/udp/signaling.js';
import type { Candidate as ProtocolCandidate } from '../../../src/broker/protocol.js';
import { fromBrokerCandidates, isCandidate, type BrokerCandidate, normalizeCandidates, type Candidate } from '../../../src/punch/candidates.js';

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

test('broker candidates become host and srflx candidates of the right transport', () => {
  const fromProtocol: BrokerCandidate[] = [] as ProtocolCandidate[]; // the broker's type fits, checked by tsc
  assert.deepEqual(fromBrokerCandidates(fromProtocol, 'udp'), []);
  const fromBroker = [
    { source: 'broker-observed', address: '203.0.113.10', port: 40312 },
    { source: 'profile-udp', address: '203.0.113.10', port: 20000 },
    { source: 'profile-tcp', address: '203.0.113.10', port: 20002 },
    { source: 'private', address: '10.1.0.10', port: 5000 },
    { source: 'private', address: '10.1.0.11' },
  ] as const;
  assert.deepEqual(fromBrokerCandidates(fromBroker, 'udp'), [
    { kind: 'host', address: '10.1.0.10', port: 5000 },
    { kind: 'srflx', address: '203.0.113.10', port: 20000 },
  ]);
  assert.deepEqual(fromBrokerCandidates(fromBroker, 'tcp').find((c) => c.kind === 'srflx'), { kind: 'srflx', address: '203.0.113.10', port: 20002 });
});

test('the birthday-ready signal is recognised only for its connection', () => {
  assert.equal(isBirthdayReady(JSON.parse(JSON.stringify(birthdayReady('c1'))), 'c1'), true);
  assert.equal(isBirthdayReady(birthdayReady('c2'), 'c1'), false);
  assert.equal(isBirthdayReady(lateCandidates('c1', 0, []), 'c1'), false);
});
