import type { Verdict } from './classify-mapping.js';
import type { PortAllocation } from './classify-ports.js';

/**
 * Joins the two measurements of a symmetric NAT's port allocation. The series (mapping tests and
 * fresh sockets, one round trip apart) spans a long window in which other hosts behind the same
 * NAT, or this peer's own sockets, take ports from a sequential NAT's counter; the burst (fresh
 * sockets sent back to back) spans about a millisecond, so it is rarely interleaved. A sequential
 * burst therefore wins; a sequential series with an inconclusive burst still counts (the burst can
 * be interleaved too); random needs one side random and neither sequential.
 */
export function combineAllocations(series: Verdict<PortAllocation>, burst: Verdict<PortAllocation>): Verdict<PortAllocation> {
  const notes = [...series.notes.map((note) => `series ${note}`), ...burst.notes.map((note) => `burst ${note}`)];
  const [s, b] = [series.value, burst.value];
  if (b.kind === 'sequential') {
    if (s.kind === 'sequential' && s.delta !== b.delta) {
      notes.push(`allocation: the series' delta ${s.delta} was inflated by interleaved mappings; the burst's ${b.delta} holds`);
    } else if (s.kind !== 'sequential') {
      notes.push(`allocation: the series was interleaved by other mappings; the burst shows delta ${b.delta}`);
    }
    return { value: b, notes };
  }
  if (s.kind === 'sequential') return { value: s, notes: [...notes, `allocation: the burst was inconclusive; the series shows delta ${s.delta}`] };
  if (s.kind === 'random' || b.kind === 'random') return { value: { kind: 'random' }, notes };
  return { value: { kind: 'unknown' }, notes };
}
