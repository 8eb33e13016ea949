import type { NatBehaviour, NatDependence } from './nat.js';

/**
 * Pure classification of what the lab probe observed, and of what a chain of NATs should show.
 * Probes go to the server's four echo endpoints in the order
 * [A1:P1, A1:P2, A2:P1, A2:P2] (A = address, P = port), from one local port.
 */

export interface ObservedEndpoint {
  address: string;
  port: number;
}

/** What a host behind NATs should observe: the comparable part of a NAT behaviour. */
export interface ExpectedBehaviour {
  /** 'none' when the host is not behind any NAT. */
  mapping: NatDependence | 'none';
  filtering: NatDependence | 'none';
  portPreserving: boolean;
  /** Set when ports must come out exactly this far apart (sequential allocation). */
  delta?: number;
  /** Set when ports come from a random allocator (consecutive deltas must not be constant). */
  randomPorts?: boolean;
}

export interface MappingVerdict {
  mapping: NatDependence | 'none' | 'unknown';
  portPreserving: boolean;
  /** Consecutive port differences when the mapping is address-and-port-dependent. */
  deltas: number[];
  publicAddress: string | null;
}

const ORDER: Array<NatDependence | 'none'> = ['none', 'endpoint-independent', 'address-dependent', 'address-and-port-dependent'];

export function classifyMapping(localAddress: string, localPort: number, observed: ReadonlyArray<ObservedEndpoint | null>): MappingVerdict {
  const [a1p1, a1p2, a2p1, a2p2] = observed;
  if (!a1p1 || !a1p2 || !a2p1 || !a2p2) return { mapping: 'unknown', portPreserving: false, deltas: [], publicAddress: a1p1?.address ?? null };
  const all = [a1p1, a1p2, a2p1, a2p2];
  const portPreserving = a1p1.port === localPort;
  const deltas = all.slice(1).map((endpoint, i) => endpoint.port - all[i]!.port);
  const same = (x: ObservedEndpoint, y: ObservedEndpoint) => x.address === y.address && x.port === y.port;
  let mapping: MappingVerdict['mapping'];
  if (all.every((endpoint) => same(endpoint, a1p1))) {
    mapping = a1p1.address === localAddress && portPreserving ? 'none' : 'endpoint-independent';
  } else if (same(a1p1, a1p2) && same(a2p1, a2p2)) {
    mapping = 'address-dependent';
  } else if (!same(a1p1, a1p2) && !same(a2p1, a2p2)) {
    mapping = 'address-and-port-dependent';
  } else {
    mapping = 'unknown';
  }
  return { mapping, portPreserving, deltas: mapping === 'address-and-port-dependent' ? deltas : [], publicAddress: a1p1.address };
}

/**
 * Filtering from two unsolicited answers after the host talked to A1:P1 only:
 * one from A1 on another port, one from A2.
 */
export function classifyFiltering(fromOtherPort: boolean, fromOtherAddress: boolean, behindNat: boolean): NatDependence | 'none' | 'unknown' {
  if (fromOtherPort && fromOtherAddress) return behindNat ? 'endpoint-independent' : 'none';
  if (fromOtherPort) return 'address-dependent';
  if (!fromOtherAddress) return 'address-and-port-dependent';
  return 'unknown';
}

/** What a host sees through a chain of NATs (innermost first): the most dependent of each. */
export function expectedThrough(chain: ReadonlyArray<NatBehaviour | null>): ExpectedBehaviour {
  const nats = chain.filter((nat): nat is NatBehaviour => nat !== null);
  if (nats.length === 0) return { mapping: 'none', filtering: 'none', portPreserving: true };
  const most = (pick: (nat: NatBehaviour) => NatDependence) =>
    nats.map(pick).reduce((a, b) => (ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b)) as NatDependence;
  const expected: ExpectedBehaviour = {
    mapping: most((nat) => nat.mapping),
    filtering: most((nat) => nat.filtering),
    portPreserving: nats.every((nat) => nat.portAllocation === 'preserve'),
  };
  // An exact delta survives only when every other NAT on the way passes ports through unchanged.
  const sequential = nats.filter((nat) => nat.portAllocation === 'sequential');
  if (sequential.length === 1 && nats.every((nat) => nat === sequential[0] || nat.portAllocation === 'preserve')) {
    expected.delta = sequential[0]!.delta;
  }
  if (nats.some((nat) => nat.portAllocation === 'random')) expected.randomPorts = true;
  return expected;
}

export interface BehaviourVerdict {
  mapping: MappingVerdict;
  filtering: NatDependence | 'none' | 'unknown';
}

/** The differences between what was expected and what was observed (empty: as configured). */
export function compare(expected: ExpectedBehaviour, observed: BehaviourVerdict): string[] {
  const problems: string[] = [];
  if (observed.mapping.mapping !== expected.mapping) problems.push(`mapping ${observed.mapping.mapping}, expected ${expected.mapping}`);
  if (observed.filtering !== expected.filtering) problems.push(`filtering ${observed.filtering}, expected ${expected.filtering}`);
  if (observed.mapping.portPreserving !== expected.portPreserving) {
    problems.push(`port ${observed.mapping.portPreserving ? '' : 'not '}preserved, expected ${expected.portPreserving ? '' : 'not '}preserved`);
  }
  if (expected.delta !== undefined && !observed.mapping.deltas.every((delta) => delta === expected.delta)) {
    problems.push(`port deltas ${observed.mapping.deltas.join(',')}, expected ${expected.delta}`);
  }
  const { deltas } = observed.mapping;
  if (expected.randomPorts && deltas.length > 1 && deltas.every((delta) => delta === deltas[0])) {
    problems.push(`port deltas ${deltas.join(',')} look sequential, expected random`);
  }
  return problems;
}

/** Short labels for tables: EIM/ADM/APDM, EIF/ADF/APDF. */
export function shortDependence(value: NatDependence | 'none' | 'unknown', suffix: 'M' | 'F'): string {
  switch (value) {
    case 'endpoint-independent':
      return `EI${suffix}`;
    case 'address-dependent':
      return `AD${suffix}`;
    case 'address-and-port-dependent':
      return `APD${suffix}`;
    default:
      return value;
  }
}
