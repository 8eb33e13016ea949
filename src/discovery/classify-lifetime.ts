import type { Verdict } from './classify-mapping.js';
import type { MappingLifetime } from './profile.js';

/** Checkpoints for the mapping lifetime test: first, 2 x first, ... below max, then max itself. */
export function lifetimeCheckpoints(firstMs: number, maxMs: number): number[] {
  const checkpoints: number[] = [];
  for (let at = firstMs; at < maxMs; at *= 2) checkpoints.push(at);
  checkpoints.push(maxMs);
  return checkpoints;
}

export interface LifetimeCheck {
  /** Idle time before the check, ms. */
  idleMs: number;
  /** Whether the mapping still delivered; undefined when the check itself failed. */
  alive: boolean | undefined;
}

/**
 * RFC 5780 section 4.6 bounds: alive after the longest idle time that still delivered, gone at the
 * shortest that did not. A mapping that came back after being gone is contradictory: no answer.
 */
export function classifyLifetime(checks: LifetimeCheck[]): Verdict<MappingLifetime | undefined> {
  const done = checks.filter((check) => check.alive !== undefined).sort((a, b) => a.idleMs - b.idleMs);
  const seen = done.map((check) => `${check.idleMs}ms:${check.alive ? 'alive' : 'gone'}`).join(' ');
  if (done.length === 0) return { value: undefined, notes: ['lifetime: no check completed'] };
  const firstGone = done.find((check) => !check.alive);
  const aliveAfter = firstGone ? done.filter((check) => check.alive && check.idleMs > firstGone.idleMs) : [];
  if (aliveAfter.length > 0) {
    return { value: undefined, notes: [`lifetime: inconsistent, a mapping delivered after a shorter idle one was gone (${seen})`] };
  }
  const alive = done.filter((check) => check.alive);
  const value: MappingLifetime = { aliveMs: alive.at(-1)?.idleMs ?? 0, expiredMs: firstGone?.idleMs ?? null };
  return { value, notes: [`lifetime: ${seen}`] };
}
