import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Nomination } from '../../../src/punch/udp/nomination.js';

const lan = { name: 'lan' };
const srflx = { name: 'srflx' };

test('the initiator nominates the first path it verified, and only that one', () => {
  const nomination = new Nomination<object>('initiator');
  assert.deepEqual(nomination.onVerifiedAck(lan, true, false), { reply: null, startNominating: true, succeed: false });
  assert.deepEqual(nomination.onVerifiedAck(srflx, true, false), { reply: null, startNominating: false, succeed: false });
  assert.equal(nomination.selected, lan);
});

test('the initiator is done when the responder confirms the nominated path', () => {
  const nomination = new Nomination<object>('initiator');
  nomination.onVerifiedAck(lan, true, false);
  assert.equal(nomination.onVerifiedAck(srflx, true, true).succeed, false, 'a confirmation on another path does not count');
  assert.equal(nomination.onVerifiedAck(lan, false, false).succeed, false, 'a plain ack is no confirmation');
  assert.equal(nomination.onVerifiedAck(lan, false, true).succeed, true);
});

test('data on the nominated path stands in for a lost confirmation (initiator only)', () => {
  const initiator = new Nomination<object>('initiator');
  assert.equal(initiator.onTraffic(lan), false, 'nothing nominated yet');
  initiator.onVerifiedAck(lan, true, false);
  assert.equal(initiator.onTraffic(srflx), false);
  assert.equal(initiator.onTraffic(lan), true);
  const responder = new Nomination<object>('responder');
  responder.onVerifiedAck(lan, true, false);
  assert.equal(responder.onTraffic(lan), false);
});

test('the responder answers each newly verified path once and waits for a nomination', () => {
  const nomination = new Nomination<object>('responder');
  assert.deepEqual(nomination.onVerifiedAck(lan, true, false), { reply: 'ack', startNominating: false, succeed: false });
  assert.deepEqual(nomination.onVerifiedAck(lan, false, false), { reply: null, startNominating: false, succeed: false });
  assert.equal(nomination.selected, undefined);
});

test('the responder adopts the first nominated path, confirms it, and ignores nominations of others', () => {
  const nomination = new Nomination<object>('responder');
  assert.deepEqual(nomination.onVerifiedAck(srflx, true, true), { reply: 'nominate', startNominating: false, succeed: true });
  assert.deepEqual(nomination.onVerifiedAck(lan, true, true), { reply: null, startNominating: false, succeed: false });
  assert.equal(nomination.selected, srflx);
});
