/**
 * What the NAT-pair matrix must observe, derived from the lab's NAT behaviours alone (pure: no
 * sockets). It states what ntcp's engines do, which is narrower than what is possible in theory:
 * a random mapper is only reached through a cone NAT (one stable port to aim at), never through
 * a sequential or another random one, and against a port-filtering cone only by a bounded
 * birthday attempt (many holes on the random side, many probes on the cone side), which succeeds
 * with high probability, not always.
 */
import { resolveNat, type NatBehaviour, type NatSpec } from '../nat.js';

export type MatrixTransport = 'tcp' | 'udp';

/** How a side's NAT looks to the peer that has to reach it. */
export type MappingClass =
  /** No NAT: the host's own address and port. */
  | 'public'
  /** Endpoint-independent mapping: the port STUN saw is the port the peer must use. */
  | 'cone'
  /** Endpoint-dependent, ports handed out in order: the next port can be predicted. */
  | 'sequential'
  /** Endpoint-dependent, unpredictable ports. */
  | 'random';

export function mappingClass(nat: NatBehaviour | null): MappingClass {
  if (nat === null) return 'public';
  if (nat.mapping === 'endpoint-independent') return 'cone';
  return nat.portAllocation === 'sequential' ? 'sequential' : 'random';
}

/** Lets in packets from any port of an address the host has sent to (EIF or ADF), or has no NAT. */
export function filtersLeniently(nat: NatBehaviour | null): boolean {
  return nat === null || nat.filtering !== 'address-and-port-dependent';
}

export interface PairOptions {
  /** Both hosts sit behind the same NAT (the peers find each other's private addresses). */
  sameNat?: boolean;
  /** A firewall in front of either side's NAT drops all UDP (lab `firewall: { udp: 'block' }`). */
  udpBlocked?: boolean;
}

const predictable = (mapping: MappingClass): boolean => mapping !== 'random';

/**
 * - `direct`: ntcp must connect them without a relay, every time;
 * - `birthday`: only a bounded birthday attempt can: success is likely, a clean typed failure
 *   (the budget ran out) is allowed;
 * - `none`: no direct path; with the relay off, connect fails with a typed error.
 */
export type PathExpectation = 'direct' | 'birthday' | 'none';

/**
 * How ntcp's engines connect `a` and `b` (either direction):
 * - same NAT, or a side without NAT: direct (LAN dial, direct connect or connection reversal);
 * - both mappings predictable (cone or sequential): direct (punch / simultaneous open, STUNT #2,
 *   port prediction, prediction on both sides);
 * - a random mapper against a cone that filters leniently (EIF, ADF): UDP direct (the cone side
 *   punches towards the random side's address; any port of it gets in). TCP birthday: a peer
 *   registered for TCP only has no measured filtering (discovery measures it over UDP), so the
 *   TCP engine cannot tell a full cone from a port-restricted one and plays it safe;
 * - a random mapper against a port-filtering cone: birthday;
 * - a random mapper against a sequential or random one: none;
 * - UDP between two sites when either one drops UDP: none (no datagram leaves or enters it,
 *   whatever the NATs do: ERR_UDP_BLOCKED, or the relay over TCP). Two hosts behind that one
 *   NAT still connect directly: the lab's firewall sits on the router and filters only what it
 *   forwards, so their LAN carries UDP, and the peer keeps its LAN path when the broker says
 *   both sides share a NAT. TCP is unaffected by such a firewall.
 */
export function pathExpectation(a: NatSpec, b: NatSpec, transport: MatrixTransport, options: PairOptions = {}): PathExpectation {
  if (options.sameNat) return 'direct';
  if (transport === 'udp' && options.udpBlocked) return 'none';
  const [natA, natB] = [resolveNat(a), resolveNat(b)];
  const [mapA, mapB] = [mappingClass(natA), mappingClass(natB)];
  if (mapA === 'public' || mapB === 'public') return 'direct';
  if (predictable(mapA) && predictable(mapB)) return 'direct';
  const cone = mapA === 'cone' ? natA : mapB === 'cone' ? natB : undefined;
  if (cone === undefined) return 'none';
  return transport === 'udp' && filtersLeniently(cone) ? 'direct' : 'birthday';
}

/** Whether a direct path exists at all for ntcp's engines (`direct` or `birthday`). */
export function directPathExpected(a: NatSpec, b: NatSpec, transport: MatrixTransport, options: PairOptions = {}): boolean {
  return pathExpectation(a, b, transport, options) !== 'none';
}

/** Error codes a pair without a direct path may end with when the relay is off (ERR_UDP_BLOCKED: a side's profile says UDP is blocked). */
export const NO_PATH_CODES: readonly string[] = ['ERR_PUNCH_FAILED', 'ERR_TIMEOUT', 'ERR_UDP_BLOCKED'];
