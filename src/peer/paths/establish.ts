import { AbortedError } from '../../errors.js';
import { RelayUnavailableError } from '../errors.js';
import type { Established, PathContext, PathStrategy } from './path-strategy.js';

/**
 * - `never`: direct paths only;
 * - `force`: the relay only (fails with ERR_RELAY_UNAVAILABLE when the broker offers none);
 * - `auto`: direct, with the relay prepared in parallel (happy eyeballs); direct only when no relay
 *   is offered. The relay is taken when direct fails, or when no direct path completed by the
 *   deadline (`relayDeadline`) and then within one more relay setup time: the user waits at most
 *   the deadline plus one relay setup, and a direct path arriving in that grace still wins.
 *   The initiator decides: on the responder both run until one completes, and each completes only
 *   once the initiator selected it (UDP nomination, the TCP handshake's SELECT), so both ends
 *   always keep the same path.
 */
export type RelayMode = 'auto' | 'never' | 'force';

export const RELAY_MODES: readonly RelayMode[] = ['auto', 'never', 'force'];

/** @default of `relayDeadlineMs`: enough for cone pairs; plans with a longer first stage extend it (see relayDeadline). */
export const DEFAULT_RELAY_DEADLINE_MS = 3_000;
/** A direct plan's first stage extends the relay deadline up to this (prediction's STUNT #2 slot is 4 s). */
export const MAX_PLANNED_RELAY_DEADLINE_MS = 6_000;

export interface PathChoice {
  direct: PathStrategy;
  /** The relay strategy for this transport, when one is available. */
  relay?: PathStrategy | undefined;
  mode: RelayMode;
  relayDeadlineMs: number;
}

/**
 * When the initiator gives up waiting for direct (ms from now): `relayDeadlineMs`, or the end of
 * the direct plan's first stage (the technique expected to connect these two NATs, counted from
 * the synchronised start) when that is later, bounded by MAX_PLANNED_RELAY_DEADLINE_MS.
 */
export function relayDeadline(context: PathContext, choice: Pick<PathChoice, 'direct' | 'relayDeadlineMs'>): number {
  const plannedMs = choice.direct.plannedMs?.(context);
  if (plannedMs === undefined) return choice.relayDeadlineMs;
  const untilStart = Math.max(0, context.startAt - performance.now());
  return Math.max(choice.relayDeadlineMs, Math.min(MAX_PLANNED_RELAY_DEADLINE_MS, untilStart + plannedMs));
}

/** Runs the strategies `choice` names over `context`; resolves with the one verified connection kept (and committed). */
export async function establishPath(context: PathContext, choice: PathChoice): Promise<Established> {
  const established = await choosePath(context, choice);
  established.commit?.();
  return established;
}

function choosePath(context: PathContext, choice: PathChoice): Promise<Established> {
  const relayOffered = choice.relay !== undefined && (context.coordination.relay !== undefined || choice.relay.standalone === true);
  if (choice.mode === 'force') {
    if (!relayOffered) return Promise.reject(new RelayUnavailableError());
    return choice.relay!.establish(context);
  }
  if (choice.mode === 'never' || !relayOffered) return choice.direct.establish(context);
  const deadlineMs = context.coordination.role === 'initiator' ? relayDeadline(context, choice) : undefined;
  return happyEyeballs(context, choice.direct, choice.relay!, deadlineMs);
}

function release(established: Established): void {
  if (established.transport === 'tcp') established.socket.destroy();
  else void established.connection.close();
}

type Outcome = { established: Established } | { error: unknown };

function settle(run: Promise<Established>): Promise<Outcome> {
  return run.then((established) => ({ established }), (error: unknown) => ({ error }));
}

function delay(ms: number): { done: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
  });
  return { done, cancel: () => clearTimeout(timer) };
}

/** Without `deadlineMs` (the responder) the relay is only taken once direct failed or the relay completed first. */
async function happyEyeballs(context: PathContext, direct: PathStrategy, relay: PathStrategy, deadlineMs: number | undefined): Promise<Established> {
  const directAbort = new AbortController();
  const relayAbort = new AbortController();
  const forward = (): void => {
    directAbort.abort(context.signal.reason);
    relayAbort.abort(context.signal.reason);
  };
  context.signal.addEventListener('abort', forward, { once: true });
  const directRun = direct.establish({ ...context, signal: directAbort.signal });
  const directOutcome = settle(directRun);
  // 0. The relay is prepared meanwhile, after the direct strategy's hold (sequential NATs) or
  //    at once when direct fails.
  const holdMs = direct.relayHoldMs?.(context) ?? 0;
  const hold = delay(holdMs);
  let relayStartedAt = performance.now();
  const directFailed = directOutcome.then((outcome) => ('error' in outcome ? undefined : new Promise<never>(() => undefined)));
  const relayRun = (holdMs > 0 ? Promise.race([hold.done, directFailed]) : Promise.resolve()).then(() => {
    hold.cancel();
    if (relayAbort.signal.aborted) throw new AbortedError('a direct path won before the relay started');
    relayStartedAt = performance.now();
    return relay.establish({ ...context, signal: relayAbort.signal });
  });
  // Unobserved rejections are fine: every path below settles or releases it.
  relayRun.catch(() => undefined);
  const relaySetupMs = relayRun.then(() => performance.now() - relayStartedAt, () => undefined);
  const takeDirect = (established: Established): Established => {
    relayAbort.abort(new AbortedError('a direct path won'));
    relayRun.then(release, () => undefined);
    return established;
  };
  const takeRelay = async (): Promise<Established> => {
    directAbort.abort(new AbortedError('the relay path was taken'));
    directRun.then(release, () => undefined);
    return relayRun;
  };
  const timers: Array<() => void> = [hold.cancel];
  try {
    if (deadlineMs === undefined) {
      // The responder: whichever the initiator completed first (direct failing leaves the relay).
      const first = await Promise.race([directOutcome, relayRun.then(() => undefined, () => new Promise<never>(() => undefined))]);
      if (first && 'established' in first) return takeDirect(first.established);
      return await takeRelay();
    }
    // 1. Direct wins outright when it completes before the deadline; its failure means the relay.
    const deadline = delay(deadlineMs);
    timers.push(deadline.cancel);
    const early = await Promise.race([directOutcome, deadline.done.then(() => undefined)]);
    if (early && 'established' in early) return takeDirect(early.established);
    if (early) return await takeRelay();
    // 2. Past the deadline direct keeps its chance for one more relay setup time (as long as the
    //    relay took, or takes, to become ready), then the relay is taken.
    const graceOver = relaySetupMs.then((setupMs) => {
      if (setupMs === undefined) return 'relay-failed' as const;
      const grace = delay(deadlineMs + setupMs - (performance.now() - relayStartedAt));
      timers.push(grace.cancel);
      return grace.done.then(() => 'grace-over' as const);
    });
    const late = await Promise.race([directOutcome, graceOver]);
    if (typeof late === 'object' && 'established' in late) return takeDirect(late.established);
    if (late === 'relay-failed') {
      const last = await directOutcome;
      if ('established' in last) return last.established;
      throw last.error;
    }
    return await takeRelay();
  } finally {
    for (const cancel of timers) cancel();
    context.signal.removeEventListener('abort', forward);
  }
}
