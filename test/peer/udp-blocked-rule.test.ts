import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { NatProfile, UdpProfile } from '../../src/discovery/index.js';
import { localUdpBlocked, udpBlockedSide, withPoolEvidence } from '../../src/peer/paths/udp-blocked-rule.js';

// When direct UDP is ruled out: the profile's verdict and the socket pool's own STUN evidence.

const poolAnswered = fc.constantFrom(true, false, undefined);

function profileOf(rfc3489Type: UdpProfile['rfc3489Type']): NatProfile {
  return {
    version: 1,
    server: { host: '192.0.2.1', port: 3478 },
    altServer: null,
    measuredAt: '2026-11-22T09:00:00.000Z',
    durationMs: 3000,
    local: { address: '10.0.0.2', interfaces: [] },
    udp: {
      local: { family: 'IPv4', address: '10.0.0.2', port: 40000 },
      mapped: null,
      natPresent: 'unknown',
      mapping: 'unknown',
      filtering: 'unknown',
      hairpinning: 'unknown',
      portPreserving: 'unknown',
      rfc3489Type,
      evidence: { observations: [], notes: ['udp: no answer to test I'] },
    },
  } as NatProfile;
}

describe('local UDP blocked', () => {
  test('needs the profile and the pool to agree: a pool that heard the STUN server overrules the profile', () => {
    assert.equal(localUdpBlocked(true, false), true);
    assert.equal(localUdpBlocked(true, undefined), true);
    assert.equal(localUdpBlocked(true, true), false);
  });

  test('a failing pool alone never calls UDP blocked (the profile saw answers)', () => {
    assert.equal(localUdpBlocked(false, false), false);
    assert.equal(localUdpBlocked(false, undefined), false);
  });
});

describe('which side rules out direct UDP', () => {
  test('behind one NAT neither side does, whatever the evidence', () => {
    fc.assert(fc.property(fc.boolean(), poolAnswered, fc.boolean(), (localProfileBlocked, localPoolAnswered, remoteProfileBlocked) => {
      assert.equal(udpBlockedSide({ localProfileBlocked, localPoolAnswered, remoteProfileBlocked, sameNat: true }), undefined);
    }));
  });

  test('local evidence first, then the remote profile', () => {
    assert.equal(udpBlockedSide({ localProfileBlocked: true, localPoolAnswered: false, remoteProfileBlocked: true, sameNat: false }), 'local');
    assert.equal(udpBlockedSide({ localProfileBlocked: true, localPoolAnswered: true, remoteProfileBlocked: true, sameNat: false }), 'remote');
    assert.equal(udpBlockedSide({ localProfileBlocked: true, localPoolAnswered: true, remoteProfileBlocked: false, sameNat: false }), undefined);
    assert.equal(udpBlockedSide({ localProfileBlocked: false, localPoolAnswered: false, remoteProfileBlocked: false, sameNat: false }), undefined);
  });
});

describe('the registered profile', () => {
  test('a udp-blocked verdict the pool contradicts is withdrawn, with the reason, without touching the input', () => {
    const blocked = profileOf('udp-blocked');
    const before = structuredClone(blocked);
    const registered = withPoolEvidence(blocked, true);
    assert.equal(registered.udp?.rfc3489Type, 'unknown');
    assert.match(registered.udp?.evidence.notes.at(-1) ?? '', /STUN answer/);
    assert.deepEqual(blocked, before);
  });

  test('kept as is when the pool failed or has no answer yet, or the profile is not blocked', () => {
    const blocked = profileOf('udp-blocked');
    assert.equal(withPoolEvidence(blocked, false), blocked);
    assert.equal(withPoolEvidence(blocked, undefined), blocked);
    const cone = profileOf('full-cone');
    assert.equal(withPoolEvidence(cone, true), cone);
    assert.equal(withPoolEvidence(cone, false), cone);
  });
});
