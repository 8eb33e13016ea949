import { InvalidArgumentError } from '../errors.js';

/** RFC 4787 / RFC 5382 behaviour names, shared by mapping and filtering. */
export type NatDependence = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

/** Classic preset names; `symmetric-seq:N` allocates ports sequentially with delta N. */
export type NatPreset =
  | 'none'
  | 'full-cone'
  | 'restricted-cone'
  | 'port-restricted'
  | 'symmetric'
  | `symmetric-seq:${number}`;

/** How a router allocates the public port of a new mapping. */
export type PortAllocation =
  /** Keep the internal port when it is free (Linux's own choice; EIM only). */
  | 'preserve'
  /** A port derived from the mapping key by a seeded hash: stable, but not the internal port. */
  | 'hash'
  /** A fresh random port per mapping (APDM only). */
  | 'random'
  /** Ports handed out in order, `delta` apart, one counter per transport (APDM only). */
  | 'sequential';

/** Everything a lab router does; fields that a preset sets can be overridden one by one. */
export interface NatBehaviour {
  /** Which part of the destination selects the mapping. */
  mapping: NatDependence;
  /** `preserve` or `hash` for EIM, `hash` for ADM, `random` or `sequential` for APDM. */
  portAllocation: PortAllocation;
  /** Distance between consecutive ports with `sequential` allocation. @default 1 */
  delta: number;
  /** Which inbound packets reach a mapped internal endpoint. */
  filtering: NatDependence;
  /** What an unsolicited inbound TCP SYN gets. @default 'drop' */
  inboundSyn: 'drop' | 'rst';
  /** Whether a LAN host reaches another LAN host through the router's public address. @default true */
  hairpin: boolean;
  /** Idle time after which a UDP mapping is forgotten, seconds. @default 120 */
  udpTimeoutS: number;
  /** Idle time after which an established TCP mapping is forgotten, seconds. @default 7440 */
  tcpTimeoutS: number;
}

/** A site's `nat` option: a preset, optionally refined field by field. */
export type NatSpec = NatPreset | ({ preset?: NatPreset } & Partial<NatBehaviour>);

/** RFC 4787 REQ-5 suggests >= 2 min for UDP; RFC 5382 REQ-5 2 h 4 min for established TCP. */
export const DEFAULT_UDP_TIMEOUT_S = 120;
export const DEFAULT_TCP_TIMEOUT_S = 7440;

const CONE_BASE = {
  mapping: 'endpoint-independent',
  portAllocation: 'preserve',
  delta: 1,
  inboundSyn: 'drop',
  hairpin: true,
  udpTimeoutS: DEFAULT_UDP_TIMEOUT_S,
  tcpTimeoutS: DEFAULT_TCP_TIMEOUT_S,
} as const;

const SEQUENTIAL_PRESET = /^symmetric-seq:([1-9][0-9]{0,3})$/;
/** Keeps the explicit port map of a sequential NAT small and every port inside the range. */
export const MAX_SEQUENTIAL_DELTA = 1000;

/** The behaviour a preset stands for; `null` for `none` (hosts sit on the public network). */
export function presetBehaviour(preset: NatPreset): NatBehaviour | null {
  switch (preset) {
    case 'none':
      return null;
    case 'full-cone':
      return { ...CONE_BASE, filtering: 'endpoint-independent' };
    case 'restricted-cone':
      return { ...CONE_BASE, filtering: 'address-dependent' };
    case 'port-restricted':
      return { ...CONE_BASE, filtering: 'address-and-port-dependent' };
    case 'symmetric':
      return {
        ...CONE_BASE,
        mapping: 'address-and-port-dependent',
        portAllocation: 'random',
        filtering: 'address-and-port-dependent',
      };
    default: {
      const match = SEQUENTIAL_PRESET.exec(preset);
      const delta = match ? Number(match[1]) : NaN;
      if (!(delta >= 1 && delta <= MAX_SEQUENTIAL_DELTA)) {
        throw new InvalidArgumentError(
          `unknown NAT preset "${String(preset)}" (none, full-cone, restricted-cone, port-restricted, symmetric, symmetric-seq:N with 1 <= N <= ${MAX_SEQUENTIAL_DELTA})`,
        );
      }
      return {
        ...CONE_BASE,
        mapping: 'address-and-port-dependent',
        portAllocation: 'sequential',
        delta,
        filtering: 'address-and-port-dependent',
      };
    }
  }
}

const ALLOWED_ALLOCATION: Record<NatDependence, readonly PortAllocation[]> = {
  'endpoint-independent': ['preserve', 'hash'],
  'address-dependent': ['hash'],
  'address-and-port-dependent': ['random', 'sequential'],
};

/** Resolves a site's `nat` option to a complete behaviour (or `null` for no NAT) and checks it. */
export function resolveNat(spec: NatSpec): NatBehaviour | null {
  if (typeof spec === 'string') return presetBehaviour(spec);
  const { preset, ...overrides } = spec;
  const base = presetBehaviour(preset ?? 'port-restricted');
  if (base === null) {
    if (Object.keys(overrides).length > 0) throw new InvalidArgumentError('NAT preset "none" takes no behaviour options');
    return null;
  }
  const merged: NatBehaviour = { ...base, ...definedOnly(overrides) };
  if (overrides.mapping !== undefined && overrides.portAllocation === undefined) {
    merged.portAllocation = ALLOWED_ALLOCATION[merged.mapping][0]!;
  }
  validate(merged);
  return merged;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validate(nat: NatBehaviour): void {
  if (!ALLOWED_ALLOCATION[nat.mapping]?.includes(nat.portAllocation)) {
    throw new InvalidArgumentError(
      `port allocation "${nat.portAllocation}" does not fit ${nat.mapping} mapping (use ${ALLOWED_ALLOCATION[nat.mapping]?.join(' or ') ?? '?'})`,
    );
  }
  if (!ALLOWED_ALLOCATION[nat.filtering]) throw new InvalidArgumentError(`unknown filtering "${nat.filtering}"`);
  if (!Number.isInteger(nat.delta) || nat.delta < 1 || nat.delta > MAX_SEQUENTIAL_DELTA) {
    throw new InvalidArgumentError(`delta must be an integer in 1..${MAX_SEQUENTIAL_DELTA}, got ${nat.delta}`);
  }
  if (nat.inboundSyn !== 'drop' && nat.inboundSyn !== 'rst') {
    throw new InvalidArgumentError(`inboundSyn must be "drop" or "rst", got "${String(nat.inboundSyn)}"`);
  }
  for (const [name, value] of [['udpTimeoutS', nat.udpTimeoutS], ['tcpTimeoutS', nat.tcpTimeoutS]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 86_400) {
      throw new InvalidArgumentError(`${name} must be an integer number of seconds in 1..86400, got ${value}`);
    }
  }
}

/** A short human label, e.g. `EIM(pp)/APDF` or `APDM(seq+2)/APDF`. */
export function describeNat(nat: NatBehaviour | null): string {
  if (nat === null) return 'no NAT';
  const short = { 'endpoint-independent': 'EI', 'address-dependent': 'AD', 'address-and-port-dependent': 'APD' } as const;
  const ports = {
    preserve: 'pp',
    hash: 'hash',
    random: 'random',
    sequential: `seq+${nat.delta}`,
  }[nat.portAllocation];
  return `${short[nat.mapping]}M(${ports})/${short[nat.filtering]}F`;
}
