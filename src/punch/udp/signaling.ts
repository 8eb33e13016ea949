import { isCandidate, type Candidate } from '../candidates.js';

/**
 * A message path to the peer through the broker, for what is learned after the punch began
 * (freshly predicted ports). Payloads are plain JSON objects; the engine ignores any it does
 * not recognise, so the channel may carry other traffic too.
 */
export interface SignalChannel {
  send(payload: object): void;
  /** Subscribes; returns the unsubscribe function. */
  onMessage(handler: (payload: object) => void): () => void;
}

export const LATE_CANDIDATES_TYPE = 'ntcp/udp-candidates';
/** Bounds what a (possibly hostile) peer can make us probe through one message. */
export const MAX_LATE_CANDIDATES = 32;
/** Prediction rounds are numbered from 0; anything above this is not ours. */
const MAX_ROUND = 64;

export interface LateCandidates {
  type: typeof LATE_CANDIDATES_TYPE;
  connectionId: string;
  /** Prediction round the candidates belong to (a fresh probe each round). */
  round: number;
  candidates: Candidate[];
}

export function lateCandidates(connectionId: string, round: number, candidates: Candidate[]): LateCandidates {
  return { type: LATE_CANDIDATES_TYPE, connectionId, round, candidates };
}

/** The payload as LateCandidates for `connectionId`, or undefined when it is anything else. */
export function parseLateCandidates(payload: unknown, connectionId: string): LateCandidates | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const message = payload as Record<string, unknown>;
  if (message.type !== LATE_CANDIDATES_TYPE || message.connectionId !== connectionId) return undefined;
  const { round, candidates } = message;
  if (!Number.isInteger(round) || (round as number) < 0 || (round as number) > MAX_ROUND) return undefined;
  if (!Array.isArray(candidates) || candidates.length > MAX_LATE_CANDIDATES || !candidates.every(isCandidate)) return undefined;
  return {
    type: LATE_CANDIDATES_TYPE,
    connectionId,
    round: round as number,
    candidates: candidates.map(({ kind, address, port }) => ({ kind, address, port })),
  };
}

/** The birthday side's sockets are open: probes sent from now on can find them. */
export const BIRTHDAY_READY_TYPE = 'ntcp/udp-birthday-ready';

export function birthdayReady(connectionId: string): { type: typeof BIRTHDAY_READY_TYPE; connectionId: string } {
  return { type: BIRTHDAY_READY_TYPE, connectionId };
}

export function isBirthdayReady(payload: unknown, connectionId: string): boolean {
  if (typeof payload !== 'object' || payload === null) return false;
  const message = payload as Record<string, unknown>;
  return message.type === BIRTHDAY_READY_TYPE && message.connectionId === connectionId;
}
