/**
 * Port prediction for NATs whose mappings are not endpoint-independent (pure; no I/O).
 *
 * A sequential ("delta-N symmetric", XSTUNT's XPredict) NAT gives each new mapping the port of
 * the previous one plus N, so a fresh probe (a new mapping towards the STUN server) tells where
 * the next mapping will land. A random symmetric NAT cannot be predicted; the birthday technique
 * samples its port space instead (`samplePorts`, `birthdaySuccessProbability`).
 */

/** The ports a NAT hands out. Linux picks from 1024-65535 when no range is configured. */
export interface PortRange {
  min: number;
  max: number;
}

export const FULL_PORT_RANGE: PortRange = Object.freeze({ min: 1024, max: 65535 });

/** How many delta steps ahead a window reaches by default: the next mapping and a few after it. */
export const DEFAULT_PREDICTION_WINDOW = 4;

function rangeSize(range: PortRange): number {
  return range.max - range.min + 1;
}

/** Moves `port` by `steps` inside `range`, wrapping around as a NAT's port allocator does. */
export function stepPort(port: number, steps: number, range: PortRange = FULL_PORT_RANGE): number {
  const size = rangeSize(range);
  const offset = (((port - range.min + steps) % size) + size) % size;
  return range.min + offset;
}

/** The signed difference `to - from` taking the shorter way round `range` (a wrap is not a jump). */
export function portDifference(from: number, to: number, range: PortRange = FULL_PORT_RANGE): number {
  const size = rangeSize(range);
  const forward = (((to - from) % size) + size) % size;
  return forward > size / 2 ? forward - size : forward;
}

/**
 * The allocation step of a sequential NAT from ports of successive fresh mappings (in the order
 * they were made). Returns the difference seen between most consecutive pairs, or undefined when
 * there is no majority (a random NAT, or too much traffic from other hosts in between).
 */
export function estimateDelta(ports: readonly number[], range: PortRange = FULL_PORT_RANGE): number | undefined {
  if (ports.length < 2) return undefined;
  const counts = new Map<number, number>();
  for (let i = 1; i < ports.length; i++) {
    const difference = portDifference(ports[i - 1]!, ports[i]!, range);
    counts.set(difference, (counts.get(difference) ?? 0) + 1);
  }
  const pairs = ports.length - 1;
  for (const [difference, count] of counts) {
    if (difference !== 0 && count * 2 > pairs) return difference;
  }
  return undefined;
}

export interface PredictionOptions {
  /** Port of the freshest mapping the NAT made (a fresh probe's mapped port). */
  lastPort: number;
  /** Allocation step N of the sequential NAT (may be negative). */
  delta: number;
  /** How many candidate ports, nearest first. @default DEFAULT_PREDICTION_WINDOW */
  window?: number;
  /** New mappings expected to be made before the one being predicted. @default 0 */
  skip?: number;
  /** @default FULL_PORT_RANGE */
  range?: PortRange;
}

/**
 * The ports the next mappings of a sequential NAT will get: lastPort + (skip + 1) * delta,
 * lastPort + (skip + 2) * delta, ... (`window` of them, wrapping inside `range`).
 */
export function predictPorts(options: PredictionOptions): number[] {
  const window = options.window ?? DEFAULT_PREDICTION_WINDOW;
  const skip = options.skip ?? 0;
  const range = options.range ?? FULL_PORT_RANGE;
  if (!Number.isInteger(options.delta) || options.delta === 0) return [];
  const ports: number[] = [];
  for (let step = skip + 1; step <= skip + window; step++) {
    ports.push(stepPort(options.lastPort, step * options.delta, range));
  }
  return ports;
}

/** `count` distinct ports drawn uniformly from `range` (all of them when count exceeds its size). */
export function samplePorts(count: number, range: PortRange = FULL_PORT_RANGE, random: () => number = Math.random): number[] {
  const size = rangeSize(range);
  const wanted = Math.min(Math.max(0, Math.floor(count)), size);
  const chosen = new Set<number>();
  while (chosen.size < wanted) chosen.add(range.min + Math.floor(random() * size));
  return [...chosen];
}

/**
 * Probability that `probes` distinct random ports hit at least one of `openPorts` mappings that
 * a random NAT placed uniformly in a space of `rangeSize` ports (the birthday technique).
 */
export function birthdaySuccessProbability(openPorts: number, probes: number, size: number): number {
  if (openPorts <= 0 || probes <= 0) return 0;
  if (openPorts + probes > size) return 1;
  // P(miss) = C(size - openPorts, probes) / C(size, probes), as a product to stay in range.
  let miss = 1;
  for (let i = 0; i < probes; i++) miss *= (size - openPorts - i) / (size - i);
  return 1 - miss;
}
