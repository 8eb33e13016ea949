import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Candidate } from '../../../src/punch/candidates.js';
import { RemoteCandidates } from '../../../src/punch/udp/remote-candidates.js';

const host: Candidate = { kind: 'host', address: '10.0.0.2', port: 4000 };
const srflx: Candidate = { kind: 'srflx', address: '203.0.113.7', port: 40000 };
const predicted: Candidate = { kind: 'predicted', address: '203.0.113.7', port: 40002 };

test('srflx and predicted candidates are public; a host candidate equal to a public one is not probed as a host', () => {
  const open = { kind: 'host' as const, address: srflx.address, port: srflx.port };
  const remote = new RemoteCandidates([host, srflx, predicted, open]);
  assert.deepEqual(remote.public, [srflx, predicted]);
  assert.deepEqual(remote.hosts, [host]);
  assert.equal(remote.isHostAddress(host.address), true);
  assert.equal(remote.isPublicAddress(predicted.address), true);
  assert.equal(remote.srflxAddress(), srflx.address);
});

test('a candidate learnt late is added once, to the list of its kind', () => {
  const remote = new RemoteCandidates([]);
  assert.equal(remote.srflxAddress(), undefined);
  assert.equal(remote.add(srflx), true);
  assert.equal(remote.add({ ...srflx }), false);
  assert.equal(remote.add(host), true);
  assert.deepEqual(remote.public, [srflx]);
  assert.deepEqual(remote.hosts, [host]);
  assert.equal(remote.isHostAddress(host.address), true);
});

test('the peer is behind our NAT when we share a srflx address, or, without ours, when it has host candidates', () => {
  const ours: Candidate = { kind: 'srflx', address: srflx.address, port: 50000 };
  assert.equal(new RemoteCandidates([srflx]).behindSameNatAs([ours]), true);
  assert.equal(new RemoteCandidates([{ ...srflx, address: '198.51.100.9' }]).behindSameNatAs([ours]), false);
  assert.equal(new RemoteCandidates([host]).behindSameNatAs([]), true);
  assert.equal(new RemoteCandidates([srflx]).behindSameNatAs([]), false);
});
