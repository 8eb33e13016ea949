/**
 * The NAT-pair matrix as plain data (pure): which lab sites to build and which (connect side,
 * listen side) pairs to run. One lab holds every selected variant as extra sites with their own
 * link shape, so a single build serves the whole run.
 */
import { InvalidArgumentError } from '../../errors.js';
import { resolveNat, type NatSpec } from '../nat.js';
import type { SiteFirewall, SiteOptions } from '../topology.js';
import { pathExpectation, type MatrixTransport, type PathExpectation } from './expectations.js';

export interface MatrixPreset {
  /** Row and column name in the tables. */
  key: string;
  /** One letter, the first of the lab site names that carry this preset. */
  letter: string;
  nat: NatSpec;
  /** A filter in front of the NAT. @default none */
  firewall?: SiteFirewall;
}

export const MATRIX_PRESETS: readonly MatrixPreset[] = [
  { key: 'none', letter: 'n', nat: 'none' },
  { key: 'full-cone', letter: 'f', nat: 'full-cone' },
  { key: 'restricted-cone', letter: 'r', nat: 'restricted-cone' },
  { key: 'port-restricted', letter: 'p', nat: 'port-restricted' },
  { key: 'port-restricted-rst', letter: 'x', nat: { preset: 'port-restricted', inboundSyn: 'rst' } },
  { key: 'symmetric', letter: 's', nat: 'symmetric' },
  { key: 'symmetric-seq:1', letter: 'k', nat: 'symmetric-seq:1' },
  { key: 'symmetric-seq:2', letter: 'm', nat: 'symmetric-seq:2' },
  // Issue 7's UDP-blocking site: TCP behaves as behind a port-restricted NAT; UDP has no path
  // out, so only a relay reached over TCP can carry a UDP session.
  { key: 'udp-blocked', letter: 'u', nat: 'port-restricted', firewall: { udp: 'block' } },
];

const blocksUdp = (preset: MatrixPreset): boolean => preset.firewall?.udp === 'block';
const answersRst = (preset: MatrixPreset): boolean => resolveNat(preset.nat)?.inboundSyn === 'rst';

export interface MatrixVariant {
  key: string;
  letter: string;
  /** Round trip each site's upstream link adds (so a peer-to-peer path gets it one way). */
  delayMs: number;
  lossPercent: number;
  describe: string;
}

export const MATRIX_VARIANTS: readonly MatrixVariant[] = [
  { key: 'plain', letter: 'z', delayMs: 0, lossPercent: 0, describe: 'no shaping' },
  { key: 'delay20', letter: 'd', delayMs: 20, lossPercent: 0, describe: '20 ms one-way between peers (each site link adds 20 ms RTT)' },
  { key: 'delay50', letter: 'e', delayMs: 50, lossPercent: 0, describe: '50 ms one-way between peers (each site link adds 50 ms RTT)' },
  { key: 'loss1', letter: 'l', delayMs: 0, lossPercent: 1, describe: '1% loss each way on every site link' },
];

/** The column of same-NAT pairs (two hosts of one site; for `none`, two public hosts). */
export const SAME_NAT = 'same-nat';

/** Sites per (variant, preset): a pair holds its sites exclusively, and a diagonal pair needs two. @default */
export const SLOTS_PER_PRESET = 2;
/** Hosts per site: the same-NAT pair needs two. */
export const HOSTS_PER_SITE = 2;

export interface MatrixPair {
  /** Unique in the run; also the base of the broker ids. */
  id: string;
  transport: MatrixTransport;
  variant: string;
  /** Preset key of the connecting side (the row). */
  connect: string;
  /** Preset key of the listening side, or SAME_NAT (the column). */
  listen: string;
  sameNat: boolean;
  expect: PathExpectation;
  /**
   * The runner starts nothing else while this pair runs. Two RST-answering NATs with no path delay
   * let a TCP connection through only when both hosts' SYNs are in flight within the same tens of
   * microseconds, which needs both lab hosts on a CPU at that moment; real hosts have CPUs of
   * their own, but here the two share the machine's cores with the other pairs' processes (lab,
   * 6 busy loops on 2 cores: 1 of 20 such pairs saw no crossing in 1,287 SYNs).
   */
  runsAlone: boolean;
}

export interface VariantSelection {
  variant: string;
  /** Preset keys whose ordered pairs run. @default every preset */
  presets?: readonly string[];
  /** Run the same-NAT column too. @default true */
  sameNat?: boolean;
}

export interface MatrixSelection {
  transports: readonly MatrixTransport[];
  variants: readonly VariantSelection[];
  /** @default SLOTS_PER_PRESET */
  slots?: number;
}

export interface MatrixPlan {
  sites: SiteOptions[];
  pairs: MatrixPair[];
  /** Sites by `${variant}/${preset}`: the pool a pair takes its sites from. */
  sitesFor: Map<string, string[]>;
}

export function presetByKey(key: string): MatrixPreset {
  const preset = MATRIX_PRESETS.find((p) => p.key === key);
  if (!preset) throw new InvalidArgumentError(`unknown matrix preset "${key}" (${MATRIX_PRESETS.map((p) => p.key).join(', ')})`);
  return preset;
}

export function variantByKey(key: string): MatrixVariant {
  const variant = MATRIX_VARIANTS.find((v) => v.key === key);
  if (!variant) throw new InvalidArgumentError(`unknown matrix variant "${key}" (${MATRIX_VARIANTS.map((v) => v.key).join(', ')})`);
  return variant;
}

export const poolKey = (variant: string, preset: string): string => `${variant}/${preset}`;

const SLOT_LETTERS = 'abcdefgh';

export function planMatrix(selection: MatrixSelection): MatrixPlan {
  const slots = selection.slots ?? SLOTS_PER_PRESET;
  if (!Number.isInteger(slots) || slots < 2 || slots > SLOT_LETTERS.length) {
    throw new InvalidArgumentError(`slots must be an integer in 2..${SLOT_LETTERS.length} (a diagonal pair needs two sites), got ${slots}`);
  }
  const sites: SiteOptions[] = [];
  const pairs: MatrixPair[] = [];
  const sitesFor = new Map<string, string[]>();
  for (const chosen of selection.variants) {
    const variant = variantByKey(chosen.variant);
    const presets = (chosen.presets ?? MATRIX_PRESETS.map((p) => p.key)).map(presetByKey);
    for (const preset of presets) {
      const names = [...SLOT_LETTERS.slice(0, slots)].map((slot) => `${preset.letter}${variant.letter}${slot}`);
      sitesFor.set(poolKey(variant.key, preset.key), names);
      for (const name of names) {
        sites.push({
          name, nat: preset.nat, hosts: HOSTS_PER_SITE,
          ...(preset.firewall ? { firewall: preset.firewall } : {}),
          ...(variant.delayMs > 0 ? { delayMs: variant.delayMs } : {}),
          ...(variant.lossPercent > 0 ? { lossPercent: variant.lossPercent } : {}),
        });
      }
    }
    for (const transport of selection.transports) {
      for (const a of presets) {
        const id = (b: string): string => `${transport}-${variant.key}-${a.letter}${b}`;
        for (const b of presets) {
          const expect = pathExpectation(a.nat, b.nat, transport, { udpBlocked: blocksUdp(a) || blocksUdp(b) });
          const runsAlone = transport === 'tcp' && variant.delayMs === 0 && answersRst(a) && answersRst(b);
          pairs.push({ id: id(b.letter), transport, variant: variant.key, connect: a.key, listen: b.key, sameNat: false, expect, runsAlone });
        }
        if (chosen.sameNat ?? true) {
          const expect = pathExpectation(a.nat, a.nat, transport, { sameNat: true, udpBlocked: blocksUdp(a) });
          pairs.push({ id: id('same'), transport, variant: variant.key, connect: a.key, listen: SAME_NAT, sameNat: true, expect, runsAlone: false });
        }
      }
    }
  }
  return { sites, pairs, sitesFor };
}

/**
 * `plan` with only the pairs named in `ids` (to rerun a few cells alone) and only the sites they
 * draw from. Unknown ids are an error.
 */
export function onlyPairs(plan: MatrixPlan, ids: readonly string[]): MatrixPlan {
  const known = new Set(plan.pairs.map((pair) => pair.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new InvalidArgumentError(`no such pair in the selected transports, variants and presets: ${unknown.join(', ')}`);
  const wanted = new Set(ids);
  const pairs = plan.pairs.filter((pair) => wanted.has(pair.id));
  const pools = new Set(pairs.flatMap(poolsOf));
  const sitesFor = new Map([...plan.sitesFor].filter(([pool]) => pools.has(pool)));
  const names = new Set([...sitesFor.values()].flat());
  return { sites: plan.sites.filter((site) => names.has(site.name)), pairs, sitesFor };
}

/** The pools (by poolKey) a pair draws its sites from: one per side, or one for a same-NAT pair. */
export function poolsOf(pair: MatrixPair): string[] {
  if (pair.sameNat) return [poolKey(pair.variant, pair.connect)];
  return [poolKey(pair.variant, pair.connect), poolKey(pair.variant, pair.listen)];
}

/**
 * Hands out free sites so a site serves one pair at a time (a sequential NAT's port counter, or
 * a port-preserving NAT's ports, must not be shared with another pair).
 */
export class SitePool {
  readonly #free: Map<string, string[]>;
  readonly #poolOf = new Map<string, string>();

  constructor(sitesFor: ReadonlyMap<string, readonly string[]>) {
    this.#free = new Map([...sitesFor].map(([key, names]) => [key, [...names]]));
    for (const [key, names] of sitesFor) for (const name of names) this.#poolOf.set(name, key);
  }

  /** Takes the sites `pair` needs (connect side first), or returns undefined when one is busy. */
  take(pair: MatrixPair): string[] | undefined {
    const pools = poolsOf(pair);
    const need = new Map<string, number>();
    for (const pool of pools) need.set(pool, (need.get(pool) ?? 0) + 1);
    for (const [pool, count] of need) {
      const free = this.#free.get(pool);
      if (!free) throw new InvalidArgumentError(`no sites planned for ${pool}`);
      if (free.length < count) return undefined;
    }
    return pools.map((pool) => this.#free.get(pool)!.shift()!);
  }

  release(sites: readonly string[]): void {
    for (const site of sites) {
      const pool = this.#poolOf.get(site);
      if (pool === undefined) throw new InvalidArgumentError(`site "${site}" is not in the pool`);
      this.#free.get(pool)!.push(site);
    }
  }
}

/**
 * Hands out the pairs to start, in plan order as far as their sites are free; a pair that runs
 * alone (see MatrixPair.runsAlone) waits until nothing runs, and nothing starts beside it.
 */
export class PairQueue {
  readonly #waiting: MatrixPair[];
  readonly #pool: SitePool;
  #running = 0;
  #alone = false;

  constructor(pairs: readonly MatrixPair[], pool: SitePool) {
    this.#waiting = [...pairs];
    this.#pool = pool;
  }

  get running(): number {
    return this.#running;
  }

  get finished(): boolean {
    return this.#waiting.length === 0 && this.#running === 0;
  }

  /** The next pair that may start now, with the sites it holds until `done`. */
  next(): { pair: MatrixPair; sites: string[] } | undefined {
    if (this.#alone) return undefined;
    for (const [i, pair] of this.#waiting.entries()) {
      if (pair.runsAlone && this.#running > 0) continue;
      const sites = this.#pool.take(pair);
      if (sites === undefined) continue;
      this.#waiting.splice(i, 1);
      this.#running += 1;
      this.#alone = pair.runsAlone;
      return { pair, sites };
    }
    return undefined;
  }

  done(pair: MatrixPair, sites: readonly string[]): void {
    this.#pool.release(sites);
    this.#running -= 1;
    if (pair.runsAlone) this.#alone = false;
  }
}
