import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttemptTally } from '../../../src/punch/udp/attempt-tally.js';

test('the attempt tally counts targets and packets per strategy, in the order strategies first acted', () => {
  const tally = new AttemptTally();
  tally.addPacket('udp-birthday');
  tally.addTargets('udp-punch');
  tally.addTargets('udp-birthday', 64);
  tally.addPacket('udp-birthday');
  assert.deepEqual(tally.list(), [
    { strategy: 'udp-birthday', packetsSent: 2, targets: 64 },
    { strategy: 'udp-punch', packetsSent: 0, targets: 1 },
  ]);
});
