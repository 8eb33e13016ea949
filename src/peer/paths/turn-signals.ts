import net from 'node:net';
import type { Coordination } from '../../broker/index.js';
import type { TransportAddress } from '../../codec/index.js';
import { AbortedError, TimeoutError } from '../../errors.js';
import type { SignalChannel } from '../signal-channel.js';
import { TurnPeerFailedError } from './turn-errors.js';

/** Tags our signals apart from the punch engines' on the same coordination. */
const TURN_SIGNAL_TAG = 'turn';
/** A failure reason is for people; keep it well inside the broker's signal size limit. */
const MAX_REASON_CHARS = 200;

type TurnSignal =
  | { tag: typeof TURN_SIGNAL_TAG; connectionId: string; type: 'relayed'; address: string; port: number }
  | { tag: typeof TURN_SIGNAL_TAG; connectionId: string; type: 'failed'; reason: string };

/** 3. The allocating peer tells the other where its relayed transport address is. */
export function announceRelayed(channel: SignalChannel, connectionId: string, relayed: TransportAddress): void {
  channel.send({ tag: TURN_SIGNAL_TAG, connectionId, type: 'relayed', address: relayed.address, port: relayed.port } satisfies TurnSignal);
}

/** Tells the waiting peer that no relayed address will come, so it fails now instead of at its deadline. */
export function announceFailure(channel: SignalChannel, connectionId: string, error: unknown): void {
  const reason = (error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error)).slice(0, MAX_REASON_CHARS);
  channel.send({ tag: TURN_SIGNAL_TAG, connectionId, type: 'failed', reason } satisfies TurnSignal);
}

/** Waits for the peer's relayed address; rejects with TurnPeerFailedError, AbortedError or TimeoutError. */
export function relayedAddressOf(channel: SignalChannel, connectionId: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<{ address: string; port: number }> {
  const { signal, timeoutMs } = options;
  if (signal.aborted) return Promise.reject(new AbortedError('waiting for the TURN relayed address aborted', { cause: signal.reason }));
  return new Promise((resolve, reject) => {
    const finish = (error: Error | undefined, relayed?: { address: string; port: number }): void => {
      unsubscribe();
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(relayed!);
    };
    const onAbort = (): void => finish(new AbortedError('waiting for the TURN relayed address aborted', { cause: signal.reason }));
    const timer = setTimeout(() => finish(new TimeoutError(`the peer announced no TURN relayed address within ${timeoutMs} ms`, timeoutMs)), timeoutMs);
    const unsubscribe = channel.onMessage((payload) => {
      const message = parseTurnSignal(payload, connectionId);
      if (message?.type === 'relayed') finish(undefined, { address: message.address, port: message.port });
      else if (message?.type === 'failed') finish(new TurnPeerFailedError(message.reason));
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function parseTurnSignal(payload: object, connectionId: string): TurnSignal | undefined {
  const message = payload as Partial<Record<string, unknown>>;
  if (message.tag !== TURN_SIGNAL_TAG || message.connectionId !== connectionId) return undefined;
  if (message.type === 'failed') return { tag: TURN_SIGNAL_TAG, connectionId, type: 'failed', reason: String(message.reason).slice(0, MAX_REASON_CHARS) };
  const { address, port } = message;
  if (message.type !== 'relayed' || typeof address !== 'string' || net.isIP(address) === 0) return undefined;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) return undefined;
  return { tag: TURN_SIGNAL_TAG, connectionId, type: 'relayed', address, port };
}

/**
 * 2. The IP addresses the other peer's packets reach the relay from: its public addresses as the
 * broker and its NAT profile saw them (TURN permissions ignore ports, so a symmetric NAT's fresh
 * mapping toward the relay is covered). Private addresses only when there is nothing else.
 */
export function permissionAddresses(coordination: Coordination, family: 'IPv4' | 'IPv6'): string[] {
  const matches = (address: string): boolean => net.isIP(address) === (family === 'IPv6' ? 6 : 4);
  const publicOnes = [coordination.peer.observed.address, ...coordination.candidates.filter((c) => c.source !== 'private').map((c) => c.address)];
  const chosen = publicOnes.filter(matches);
  const fallback = coordination.candidates.map((c) => c.address).filter(matches);
  return [...new Set(chosen.length > 0 ? chosen : fallback)];
}
