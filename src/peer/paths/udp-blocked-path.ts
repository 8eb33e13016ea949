import type { Coordination } from '../../broker/index.js';
import type { NatProfile } from '../../discovery/index.js';
import { UdpBlockedError } from '../errors.js';
import type { PathStrategy } from './path-strategy.js';
import { udpBlocked } from './relay-udp-path.js';
import { udpPath } from './udp-path.js';

/**
 * The direct UDP strategy for one coordination: punching, unless the peers sit behind different
 * NATs and either side's NAT profile says UDP is blocked. Then no direct path can exist and this one fails at once, so relay 'auto' takes
 * the relay without waiting for its deadline and relay 'never' fails with ERR_UDP_BLOCKED.
 */
export function directUdpPath(profile: NatProfile, coordination: Pick<Coordination, 'peer' | 'sameNat'>): PathStrategy {
  // A firewall on the router filters what it forwards: behind one NAT the LAN path may still work.
  if (coordination.sameNat) return udpPath;
  const side = udpBlocked(profile) ? 'local' : remoteUdpBlocked(coordination.peer.profile) ? 'remote' : undefined;
  if (side === undefined) return udpPath;
  return {
    name: 'udp-blocked',
    establish: () => Promise.reject(new UdpBlockedError(side)),
  };
}

/** Read from the broker's plain JSON without the whole profile schema: one field decides. */
function remoteUdpBlocked(json: Record<string, unknown> | null): boolean {
  const udp = json?.['udp'];
  return typeof udp === 'object' && udp !== null && (udp as { rfc3489Type?: unknown }).rfc3489Type === 'udp-blocked';
}
