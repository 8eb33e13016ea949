import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Verifier } from '../../../src/punch/udp/verify.js';
import { decodeFrame, encodeData, encodeKeepalive, FrameType, isWireFrame } from '../../../src/punch/udp/wire.js';
import { InvalidArgumentError } from '../../../src/errors.js';

const secret = randomBytes(32);
const connectionId = 'conn-42';

function pair(overrides: { secret?: Buffer; connectionId?: string } = {}) {
  const initiator = new Verifier({ secret, connectionId, role: 'initiator' });
  const responder = new Verifier({ secret: overrides.secret ?? secret, connectionId: overrides.connectionId ?? connectionId, role: 'responder' });
  return { initiator, responder };
}

test('a probe, an ack and an ack back verify the path both ways', () => {
  const { initiator, responder } = pair();
  const probeNonce = responder.checkProbe(decodeFrame(initiator.probe())!);
  assert.deepEqual(probeNonce, initiator.nonce);
  const ack = initiator.checkAck(decodeFrame(responder.ack(probeNonce!, false))!);
  assert.deepEqual(ack, { peerNonce: responder.nonce, nominate: false });
  const ackBack = responder.checkAck(decodeFrame(initiator.ack(ack!.peerNonce, true))!);
  assert.deepEqual(ackBack, { peerNonce: initiator.nonce, nominate: true });
});

test('a peer with the wrong secret is rejected at every step', () => {
  const { initiator, responder } = pair({ secret: randomBytes(32) });
  assert.equal(responder.checkProbe(decodeFrame(initiator.probe())!), undefined);
  assert.equal(initiator.checkAck(decodeFrame(responder.ack(initiator.nonce, false))!), undefined);
  assert.equal(initiator.checkClose(decodeFrame(responder.close())!), false);
});

test('a peer of another connection (same secret, other id) is rejected', () => {
  const { initiator, responder } = pair({ connectionId: 'conn-43' });
  assert.equal(responder.checkProbe(decodeFrame(initiator.probe())!), undefined);
  assert.equal(initiator.checkAck(decodeFrame(responder.ack(initiator.nonce, false))!), undefined);
});

test('an ack that does not echo our nonce (a replay from an earlier punch) is rejected', () => {
  const { initiator, responder } = pair();
  const earlier = new Verifier({ secret, connectionId, role: 'initiator' });
  assert.equal(initiator.checkAck(decodeFrame(responder.ack(earlier.nonce, false))!), undefined);
});

test('our own datagrams reflected back are not taken for the peer', () => {
  const { initiator } = pair();
  assert.equal(initiator.checkProbe(decodeFrame(initiator.probe())!), undefined);
  assert.equal(initiator.checkAck(decodeFrame(initiator.ack(initiator.nonce, false))!), undefined);
  assert.equal(initiator.checkClose(decodeFrame(initiator.close())!), false);
});

test('a tampered mac or flag is rejected', () => {
  const { initiator, responder } = pair();
  const probe = initiator.probe();
  probe[probe.length - 1]! ^= 1;
  assert.equal(responder.checkProbe(decodeFrame(probe)!), undefined);
  const ack = responder.ack(initiator.nonce, false);
  ack[5] = 1; // flags byte: turn a plain ack into a nomination
  assert.equal(initiator.checkAck(decodeFrame(ack)!), undefined);
});

test('the close frame of the peer is recognised', () => {
  const { initiator, responder } = pair();
  assert.equal(responder.checkClose(decodeFrame(initiator.close())!), true);
});

test('short secrets and empty connection ids are refused with a typed error', () => {
  assert.throws(() => new Verifier({ secret: Buffer.alloc(8), connectionId, role: 'initiator' }), InvalidArgumentError);
  assert.throws(() => new Verifier({ secret, connectionId: '', role: 'initiator' }), InvalidArgumentError);
});

test('frames never look like STUN and stray bytes never decode', () => {
  const { initiator } = pair();
  for (const frame of [initiator.probe(), initiator.ack(initiator.nonce, false), initiator.close(), encodeKeepalive(), encodeData(Buffer.from('x'))]) {
    assert.notEqual(frame[0]! & 0xc0, 0, 'STUN messages start with two zero bits');
    assert.ok(isWireFrame(frame));
  }
  const stunBinding = Buffer.from('000100002112a442' + '00'.repeat(12), 'hex');
  assert.equal(decodeFrame(stunBinding), undefined);
  assert.equal(decodeFrame(Buffer.from([0xce, 0x75, 1, FrameType.Probe, 1, 2])), undefined, 'truncated probe');
  assert.equal(decodeFrame(Buffer.from([0xce, 0x75, 9, FrameType.Keepalive])), undefined, 'other version');
  assert.deepEqual(decodeFrame(encodeData(Buffer.from('hello'))), { type: FrameType.Data, payload: Buffer.from('hello') });
});
