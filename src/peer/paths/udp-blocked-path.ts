import type { Coordination } from '../../broker/index.js';
import type { NatProfile } from '../../discovery/index.js';
import { UdpBlockedError } from '../errors.js';
import type { PathStrategy } from './path-strategy.js';
import { udpBlocked } from './relay-udp-path.js';
import { udpBlockedSide } from './udp-blocked-rule.js';
import { udpPath } from './udp-path.js';

/**
 * The direct UDP strategy for one coordination: punching, unless the peers sit behind different
 * NATs and either side is known to have UDP blocked (see udpBlockedSide). Then no direct path can
 * exist and this one fails at once, so relay 'auto' takes the relay without waiting for its
 * deadline and relay 'never' fails with ERR_UDP_BLOCKED. Decided when the attempt starts, with
 * the pool's evidence of that moment.
 */
export function directUdpPath(profile: NatProfile, coordination: Pick<Coordination, 'peer' | 'sameNat'>): PathStrategy {
  return {
    name: 'udp',
    relayHoldMs: (context) => udpPath.relayHoldMs?.(context) ?? 0,
    establish(context) {
      const side = udpBlockedSide({
        localProfileBlocked: udpBlocked(profile),
        localPoolAnswered: context.udpSockets.udpAnswered,
        remoteProfileBlocked: remoteUdpBlocked(coordination.peer.profile),
        sameNat: coordination.sameNat,
      });
      if (side !== undefined) return Promise.reject(new UdpBlockedError(side));
      return udpPath.establish(context);
    },
  };
}

/** Read from the broker's plain JSON without the whole profile schema: one field decides. */
function remoteUdpBlocked(json: Record<string, unknown> | null): boolean {
  const udp = json?.['udp'];
  return typeof udp === 'object' && udp !== null && (udp as { rfc3489Type?: unknown }).rfc3489Type === 'udp-blocked';
}
