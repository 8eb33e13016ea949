import type { TransportAddress } from '../codec/index.js';
import type { Verdict } from './classify-mapping.js';
import { sameTransportAddress } from './address.js';

/** Fewer consecutive differences than this cannot show a pattern. */
export const MIN_DELTA_SAMPLES = 3;
/**
 * A series whose differences are all this small and of one sign looks sequential even when no
 * single delta dominates: other traffic interleaved; calling it random would be a guess.
 */
export const SMALL_DELTA = 64;

export type PortAllocation = { kind: 'sequential'; delta: number } | { kind: 'random' } | { kind: 'unknown' };

export interface PortSample {
  localPort: number;
  mappedPort: number;
}

/** Port preservation: the NAT kept the local port for every mapping, for none, or for some (unknown). */
export function classifyPortPreservation(samples: PortSample[]): Verdict<boolean | 'unknown'> {
  if (samples.length === 0) return { value: 'unknown', notes: ['port preservation: no mapping observed'] };
  const kept = samples.filter((sample) => sample.localPort === sample.mappedPort).length;
  const seen = samples.map((sample) => `${sample.localPort}->${sample.mappedPort}`).join(' ');
  if (kept === samples.length) return { value: true, notes: [`port preservation: every mapping kept its local port (${seen})`] };
  if (kept === 0) return { value: false, notes: [`port preservation: no mapping kept its local port (${seen})`] };
  return { value: 'unknown', notes: [`port preservation: ${kept} of ${samples.length} mappings kept their local port (${seen})`] };
}

/**
 * How the NAT allocates public ports for consecutive NEW mappings (XSTUNT's delta-N). A delta is
 * accepted only when it accounts for a strict majority of the differences, at least twice, and every
 * other difference is a whole multiple of it in the same direction (other traffic took the ports
 * in between). All-different, large differences mean random allocation; anything else is unknown.
 */
export function classifyPortAllocation(mappedPorts: number[]): Verdict<PortAllocation> {
  const deltas = mappedPorts.slice(1).map((port, index) => port - mappedPorts[index]!);
  const seen = `ports ${mappedPorts.join(',')} deltas ${deltas.join(',')}`;
  if (deltas.length < MIN_DELTA_SAMPLES) {
    return { value: { kind: 'unknown' }, notes: [`allocation: ${deltas.length} difference(s), need ${MIN_DELTA_SAMPLES} (${seen})`] };
  }
  if (deltas.includes(0)) {
    return { value: { kind: 'unknown' }, notes: [`allocation: a new mapping reused the previous port (${seen})`] };
  }
  const counts = new Map<number, number>();
  for (const delta of deltas) counts.set(delta, (counts.get(delta) ?? 0) + 1);
  const [mode, modeCount] = [...counts].sort((a, b) => b[1] - a[1] || Math.abs(a[0]) - Math.abs(b[0]))[0]!;
  if (modeCount === deltas.length) {
    return { value: { kind: 'sequential', delta: mode }, notes: [`allocation: every new mapping moved the port by ${mode} (${seen})`] };
  }
  const multiples = deltas.every((delta) => delta % mode === 0 && delta / mode >= 1);
  if (modeCount >= 2 && modeCount * 2 > deltas.length && multiples) {
    return {
      value: { kind: 'sequential', delta: mode },
      notes: [`allocation: delta ${mode} in ${modeCount} of ${deltas.length} differences, the rest are multiples (other traffic took ports in between) (${seen})`],
    };
  }
  const oneDirection = deltas.every((delta) => Math.sign(delta) === Math.sign(deltas[0]!));
  const small = deltas.every((delta) => Math.abs(delta) <= SMALL_DELTA);
  if (modeCount === 1 && !(oneDirection && small)) {
    return { value: { kind: 'random' }, notes: [`allocation: no two differences agree (${seen})`] };
  }
  return { value: { kind: 'unknown' }, notes: [`allocation: no consistent delta (${seen})`] };
}

export interface MappingSample {
  localPort: number;
  mapped: TransportAddress;
}

/** The mapped ports of the NEW mappings in a series, in order: repeats of an earlier mapping are reused, not allocated. */
export function newMappingPorts(series: MappingSample[]): number[] {
  const fresh: TransportAddress[] = [];
  for (const sample of series) {
    if (!fresh.some((earlier) => sameTransportAddress(earlier, sample.mapped))) fresh.push(sample.mapped);
  }
  return fresh.map((mapped) => mapped.port);
}
