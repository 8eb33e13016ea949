import { AbortedError } from '../../errors.js';
import { RelayUnavailableError } from '../errors.js';
import type { Established, PathContext, PathStrategy } from './path-strategy.js';

/**
 * - `never`: direct paths only;
 * - `force`: the relay only (fails with ERR_RELAY_UNAVAILABLE when the broker offers none);
 * - `auto`: direct, with the relay prepared in parallel and taken when no direct path completed
 *   by `relayDeadlineMs` (happy eyeballs) or when direct fails; direct only when no relay is offered.
 *   The initiator decides: on the responder both run until one completes, and each completes only
 *   once the initiator selected it (UDP nomination, the TCP handshake's SELECT), so both ends
 *   always keep the same path.
 */
export type RelayMode = 'auto' | 'never' | 'force';

export const RELAY_MODES: readonly RelayMode[] = ['auto', 'never', 'force'];

/** @default of `relayDeadlineMs`: enough for cone pairs and prediction; birthday pairs may lose to the relay. */
export const DEFAULT_RELAY_DEADLINE_MS = 3_000;

export interface PathChoice {
  direct: PathStrategy;
  /** The relay strategy for this transport, when one is available. */
  relay?: PathStrategy | undefined;
  mode: RelayMode;
  relayDeadlineMs: number;
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
  const deadlineMs = context.coordination.role === 'initiator' ? choice.relayDeadlineMs : undefined;
  return happyEyeballs(context, choice.direct, choice.relay!, deadlineMs);
}

function release(established: Established): void {
  if (established.transport === 'tcp') established.socket.destroy();
  else void established.connection.close();
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
  const relayRun = relay.establish({ ...context, signal: relayAbort.signal });
  let deadline: NodeJS.Timeout | undefined;
  const deadlinePassed = deadlineMs === undefined
    ? relayRun.then(() => undefined, () => new Promise<never>(() => undefined))
    : new Promise<void>((resolve) => {
      deadline = setTimeout(resolve, deadlineMs);
    });
  try {
    // 1. Direct wins outright when it completes before the deadline (or, on the responder, before the relay).
    const early = await Promise.race([
      directRun.then((established) => ({ established }), (error: unknown) => ({ error })),
      deadlinePassed.then(() => undefined),
    ]);
    if (early && 'established' in early) {
      relayAbort.abort(new AbortedError('a direct path won'));
      relayRun.then(release, () => undefined);
      return early.established;
    }
    // 2. Deadline passed or direct failed: the relay (prepared meanwhile) is taken; direct stops.
    directAbort.abort(new AbortedError('the relay path was taken'));
    directRun.then(release, () => undefined);
    return await relayRun;
  } finally {
    clearTimeout(deadline);
    context.signal.removeEventListener('abort', forward);
  }
}
