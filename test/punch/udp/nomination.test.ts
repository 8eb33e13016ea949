import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Nomination } from '../../../src/punch/udp/nomination.js';

const lan = { name: 'lan' };
const srflx = { name: 'srflx' };

test('probes are answered with plain acks and never select a path (they can be replayed)', () => {
  for (const role of ['initiator', 'responder'] as const) {
    const nomination = new Nomination<object>(role);
    assert.deepEqual(nomination.onProbe(), { reply: 'ack', succeed: false });
    assert.equal(nomination.selected, undefined);
  }
});

test('the initiator nominates the first verified path and is done at once', () => {
  const nomination = new Nomination<object>('initiator');
  assert.deepEqual(nomination.onVerifiedAck(lan, true, false), { reply: 'nominate', succeed: true });
  assert.equal(nomination.selected, lan);
});

test('the initiator never nominates a second path', () => {
  const nomination = new Nomination<object>('initiator');
  nomination.onVerifiedAck(lan, true, false);
  assert.deepEqual(nomination.onVerifiedAck(srflx, true, false), { reply: null, succeed: false });
  assert.deepEqual(nomination.onVerifiedAck(srflx, false, true), { reply: null, succeed: false });
  assert.equal(nomination.selected, lan);
});

test('the responder answers newly verified paths with one plain ack and waits for a nomination', () => {
  const nomination = new Nomination<object>('responder');
  assert.deepEqual(nomination.onVerifiedAck(lan, true, false), { reply: 'ack', succeed: false });
  assert.deepEqual(nomination.onVerifiedAck(lan, false, false), { reply: null, succeed: false });
  assert.equal(nomination.selected, undefined);
});

test('the responder adopts the first nominated path, confirms it, and ignores nominations of others', () => {
  const nomination = new Nomination<object>('responder');
  assert.deepEqual(nomination.onVerifiedAck(srflx, true, true), { reply: 'nominate', succeed: true });
  assert.deepEqual(nomination.onVerifiedAck(lan, true, true), { reply: null, succeed: false });
  assert.equal(nomination.selected, srflx);
});
