/**
 * The UDP punching strategy table (pure; no sockets, no timers): from the two NAT profiles to an
 * ordered list of strategies and this side's part in each. Both peers run it on the same pair of
 * profiles with the roles swapped, so the table must be symmetric: when one side is told to
 * open many sockets, the other is told to probe many ports.
 */

/** RFC 4787 behaviour names, as discovery reports them. */
export type Behaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent' | 'unknown';

/** The part of a NatProfile (src/discovery) the planner reads; a NatProfile is assignable to it. */
export interface UdpNatTraits {
  mapping: Behaviour;
  filtering: Behaviour;
  /** Allocation step of a sequential (delta-N) NAT; absent for random or unknown allocation. */
  delta?: number;
  /** false when the host sits on the public network itself. */
  natPresent?: boolean | 'unknown';
}

export interface PunchProfile {
  udp?: UdpNatTraits;
}

/**
 * How a NAT's mappings look from the peer's side:
 * - `open`: no NAT;
 * - `cone`: endpoint-independent mapping, the srflx candidate is the port the peer must use;
 * - `sequential`: address(-and-port)-dependent mapping with a known delta (predictable);
 * - `random`: dependent mapping, unpredictable ports;
 * - `unknown`: no profile, or discovery could not tell.
 */
export type NatClass = 'open' | 'cone' | 'sequential' | 'random' | 'unknown';

/** Probes from the peer get through once we sent anything to the peer's address (EIF or ADF). */
export type FilteringClass = 'lenient' | 'strict';

/** Datagrams the birthday technique may send and sockets it may open, per attempt (named budgets). */
export const BIRTHDAY_SOCKETS = 256;
export const BIRTHDAY_PROBES = 2048;
/** Successive birthday attempts (fresh port samples) before the budget is spent. */
export const BIRTHDAY_MAX_ROUNDS = 3;

/** Predicted ports announced by a sequential side whose peer can probe many ports for free (EIM). */
export const PREDICTION_WINDOW_CONE_PEER = 4;
/**
 * Sequential on both sides: each port one side probes makes a new mapping on its own NAT and
 * shifts its own prediction, so each side probes exactly the one port the other predicted.
 */
export const PREDICTION_WINDOW_SEQUENTIAL_PEER = 1;

export type UdpStrategy =
  /** Same NAT: probe the peer's host (private) candidates. */
  | { kind: 'lan' }
  /** Probe the peer's server-reflexive candidates from the main socket; answer whoever verifies. */
  | { kind: 'punch' }
  /**
   * Sequential NATs. `announce`: make a fresh mapping from a new socket, predict the next ones
   * and send them to the peer as `predicted` candidates (window ports); `probePredicted`: probe
   * the predicted candidates the peer announces; `target`: where the announcing socket sends
   * (`srflx`: the peer's known endpoint; `predicted`: the peer's announced ports).
   */
  | { kind: 'predict'; announce: boolean; window: number; probePredicted: boolean; target: 'srflx' | 'predicted' }
  /**
   * Random symmetric against an endpoint-independent, port-dependent-filtering NAT: the
   * `sockets` side opens many mappings towards the peer's srflx endpoint, the `probes` side
   * sends to random ports of the symmetric side's public address until one matches.
   */
  | { kind: 'birthday'; role: 'sockets' | 'probes'; sockets: number; probes: number; rounds: number };

export type UdpStrategyKind = UdpStrategy['kind'];

export interface UdpPlan {
  local: NatClass;
  remote: NatClass;
  /** In the order they start; all run at once, the first verified path wins. */
  strategies: UdpStrategy[];
  /** Empty when a direct path is expected; otherwise why none is. */
  noPathReason?: string;
}

export function classifyNat(profile: PunchProfile | undefined): NatClass {
  const udp = profile?.udp;
  if (udp === undefined) return 'unknown';
  if (udp.natPresent === false) return 'open';
  if (udp.mapping === 'endpoint-independent') return 'cone';
  if (udp.mapping === 'unknown') return 'unknown';
  return udp.delta !== undefined && Number.isInteger(udp.delta) && udp.delta !== 0 ? 'sequential' : 'random';
}

export function classifyFiltering(profile: PunchProfile | undefined): FilteringClass {
  const filtering = profile?.udp?.filtering;
  if (profile?.udp?.natPresent === false) return 'lenient';
  return filtering === 'endpoint-independent' || filtering === 'address-dependent' ? 'lenient' : 'strict';
}

const PUNCH: UdpStrategy = { kind: 'punch' };

function birthday(role: 'sockets' | 'probes'): UdpStrategy {
  return { kind: 'birthday', role, sockets: BIRTHDAY_SOCKETS, probes: BIRTHDAY_PROBES, rounds: BIRTHDAY_MAX_ROUNDS };
}

/**
 * The strategies for one (local, remote) class pair, lan excluded. `remoteLenient` / `localLenient`:
 * whether that side's NAT lets in packets from any port of an address it has sent to.
 */
function pairStrategies(
  local: NatClass,
  remote: NatClass,
  localLenient: boolean,
  remoteLenient: boolean,
): { strategies: UdpStrategy[]; noPathReason?: string } {
  const easy = (c: NatClass) => c === 'open' || c === 'cone' || c === 'unknown';
  // 1. Either side reachable at its srflx endpoint and the other side's mapping is stable or the
  //    easy side answers peer-reflexive sources: plain simultaneous punching.
  if (easy(local) && easy(remote)) return { strategies: [PUNCH] };
  if (local === 'unknown' || remote === 'unknown') return { strategies: [PUNCH] };
  // 2. One hard side: the easy side lets it in from any port when its filtering is lenient.
  if (easy(local)) {
    if (localLenient) return { strategies: [PUNCH] };
    if (remote === 'sequential') {
      return { strategies: [{ kind: 'predict', announce: false, window: 0, probePredicted: true, target: 'srflx' }] };
    }
    return { strategies: [birthday('probes')] };
  }
  if (easy(remote)) {
    if (remoteLenient) return { strategies: [PUNCH] };
    if (local === 'sequential') {
      return {
        strategies: [{ kind: 'predict', announce: true, window: PREDICTION_WINDOW_CONE_PEER, probePredicted: false, target: 'srflx' }],
      };
    }
    return { strategies: [birthday('sockets')] };
  }
  // 3. Both hard: only two predictable NATs meet.
  if (local === 'sequential' && remote === 'sequential') {
    return {
      strategies: [
        { kind: 'predict', announce: true, window: PREDICTION_WINDOW_SEQUENTIAL_PEER, probePredicted: true, target: 'predicted' },
      ],
    };
  }
  return {
    strategies: [],
    noPathReason: `no direct UDP path between a ${local} NAT and a ${remote} NAT (neither side endpoint-independent, not both predictable)`,
  };
}

/**
 * Plans the UDP punch for this side. `sameNat`: both peers share a public address, so their
 * host candidates are tried first ('lan') and a missing direct path is not fatal.
 */
export function planUdp(local: PunchProfile | undefined, remote: PunchProfile | undefined, options: { sameNat?: boolean } = {}): UdpPlan {
  const localClass = classifyNat(local);
  const remoteClass = classifyNat(remote);
  const pair = pairStrategies(
    localClass,
    remoteClass,
    classifyFiltering(local) === 'lenient',
    classifyFiltering(remote) === 'lenient',
  );
  if (options.sameNat) {
    return { local: localClass, remote: remoteClass, strategies: [{ kind: 'lan' }, ...pair.strategies] };
  }
  const plan: UdpPlan = { local: localClass, remote: remoteClass, strategies: pair.strategies };
  if (pair.noPathReason !== undefined) plan.noPathReason = pair.noPathReason;
  return plan;
}
