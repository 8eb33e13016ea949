import type { NatProfile } from '../../discovery/index.js';
import type { PathContext } from './path-strategy.js';
import { udpBlocked } from './relay-udp-path.js';

/**
 * This host's UDP counts as blocked only on two pieces of evidence: discovery's test I got no
 * answer, and the socket pool's latest STUN binding (its own 3 s retransmission window, retried
 * while the pool lives) was not answered either. A pool that hears the STUN server overrules a
 * profile measured on a bad moment.
 */
export function localUdpBlocked(profileSaysBlocked: boolean, poolAnswered: boolean | undefined): boolean {
  return profileSaysBlocked && poolAnswered !== true;
}

export interface UdpBlockedEvidence {
  localProfileBlocked: boolean;
  /** The local socket pool's latest STUN binding: answered, not answered, or none completed yet. */
  localPoolAnswered: boolean | undefined;
  remoteProfileBlocked: boolean;
  sameNat: boolean;
}

/**
 * Which side rules out direct UDP, if any. Behind one NAT neither does: a firewall on the router
 * filters what it forwards, and the LAN path may still work.
 */
export function udpBlockedSide(evidence: UdpBlockedEvidence): 'local' | 'remote' | undefined {
  if (evidence.sameNat) return undefined;
  if (localUdpBlocked(evidence.localProfileBlocked, evidence.localPoolAnswered)) return 'local';
  return evidence.remoteProfileBlocked ? 'remote' : undefined;
}

/** The local side's verdict for a path context: its profile and its pool's current evidence. */
export function contextUdpBlocked(context: Pick<PathContext, 'profile' | 'udpSockets'>): boolean {
  return localUdpBlocked(udpBlocked(context.profile), context.udpSockets.udpAnswered);
}

/**
 * The profile a peer registers and acts on: a udp-blocked verdict that its own socket pool
 * contradicts (the STUN server answered the pool's binding) is withdrawn, so neither side refuses
 * direct UDP on a measurement taken at a bad moment. The UDP type becomes 'unknown', with the
 * reason in the evidence.
 */
export function withPoolEvidence(profile: NatProfile, poolAnswered: boolean | undefined): NatProfile {
  if (profile.udp === undefined || !udpBlocked(profile) || poolAnswered !== true) return profile;
  const note = 'udp: the peer\'s own socket got a STUN answer after test I heard none: not blocked';
  return {
    ...profile,
    udp: { ...profile.udp, rfc3489Type: 'unknown', evidence: { ...profile.udp.evidence, notes: [...profile.udp.evidence.notes, note] } },
  };
}
