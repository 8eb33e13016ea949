import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyFiltering, classifyMapping, compare, expectedThrough } from '../../src/lab/classify.js';
import { resolveNat } from '../../src/lab/nat.js';

const at = (port: number, address = '203.0.113.10') => ({ address, port });

test('one public endpoint for all four destinations is EIM, port preserving when it kept the port', () => {
  const verdict = classifyMapping('10.1.0.10', 5000, [at(5000), at(5000), at(5000), at(5000)]);
  assert.equal(verdict.mapping, 'endpoint-independent');
  assert.equal(verdict.portPreserving, true);
});

test('one endpoint per destination address is ADM; one per destination endpoint is APDM with deltas', () => {
  assert.equal(classifyMapping('10.1.0.10', 5000, [at(30000), at(30000), at(31000), at(31000)]).mapping, 'address-dependent');
  const apdm = classifyMapping('10.1.0.10', 5000, [at(20000), at(20002), at(20004), at(20006)]);
  assert.equal(apdm.mapping, 'address-and-port-dependent');
  assert.deepEqual(apdm.deltas, [2, 2, 2]);
});

test('the own address and port seen everywhere means no NAT; a missing answer is unknown', () => {
  assert.equal(classifyMapping('203.0.113.100', 5000, [at(5000, '203.0.113.100'), at(5000, '203.0.113.100'), at(5000, '203.0.113.100'), at(5000, '203.0.113.100')]).mapping, 'none');
  assert.equal(classifyMapping('10.1.0.10', 5000, [at(5000), null, at(5000), at(5000)]).mapping, 'unknown');
});

test('filtering follows which unsolicited answers got in', () => {
  assert.equal(classifyFiltering(true, true, true), 'endpoint-independent');
  assert.equal(classifyFiltering(true, false, true), 'address-dependent');
  assert.equal(classifyFiltering(false, false, true), 'address-and-port-dependent');
  assert.equal(classifyFiltering(false, true, true), 'unknown');
  assert.equal(classifyFiltering(true, true, false), 'none');
});

test('through a chain of NATs the most dependent behaviour shows, and a delta survives only preserving NATs', () => {
  const home = resolveNat('full-cone');
  const cgnSeq = resolveNat('symmetric-seq:3');
  assert.deepEqual(expectedThrough([home, cgnSeq]), { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portPreserving: false, delta: 3 });
  const twoSeq = expectedThrough([resolveNat('symmetric-seq:2'), cgnSeq]);
  assert.equal(twoSeq.delta, undefined);
  assert.equal(expectedThrough([resolveNat('symmetric'), home]).randomPorts, true);
  assert.deepEqual(expectedThrough([null]), { mapping: 'none', filtering: 'none', portPreserving: true });
});

test('compare names every difference, including sequential-looking ports on a random NAT', () => {
  const expected = expectedThrough([resolveNat('symmetric')]);
  const sequential = classifyMapping('10.1.0.10', 5000, [at(20000), at(20001), at(20002), at(20003)]);
  assert.deepEqual(compare(expected, { mapping: sequential, filtering: 'address-and-port-dependent' }), ['port deltas 1,1,1 look sequential, expected random']);
  const eim = classifyMapping('10.1.0.10', 5000, [at(5000), at(5000), at(5000), at(5000)]);
  assert.equal(compare(expected, { mapping: eim, filtering: 'endpoint-independent' }).length, 3);
});
