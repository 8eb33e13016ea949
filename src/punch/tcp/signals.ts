/**
 * The few messages the two TCP punchers exchange through the caller's signaling channel (the
 * broker relays them): a fresh mapping for prediction, STUNT #2's "my hole is open, dial now" /
 * "my SYN was refused, you open", and "I moved to this mapping" (a simultaneous-open grid whose
 * 4-tuple got stuck). Tagged and validated, so the channel may be shared; a peer that predates a
 * type ignores it as malformed.
 */
import { z } from 'zod';
import type { Logger } from '../../observe/logger.js';

export interface SignalChannel {
  send(payload: object): void;
  /** Registers a handler; returns the function that unregisters it. */
  onMessage(handler: (payload: object) => void): () => void;
}

export const TCP_SIGNAL_TAG = 'ntcp-tcp-punch';
/** Stage index of messages that are not tied to one stage (the initial mapping of a fresh port). */
export const ANY_STAGE = -1;
/** Messages kept while nobody waits for them; a peer cannot grow memory past this. */
export const MAX_PENDING_SIGNALS = 64;

const signalSchema = z.object({
  tag: z.literal(TCP_SIGNAL_TAG),
  connectionId: z.string().max(256),
  stage: z.number().int().min(ANY_STAGE).max(64),
  type: z.enum(['mapping', 'opened', 'refused', 'moved']),
  address: z.string().max(64).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  delta: z.number().int().min(-65535).max(65535).optional(),
  /** The private endpoint behind the mapping (for the LAN stage when ports were not advertised). */
  hostAddress: z.string().max(64).optional(),
  hostPort: z.number().int().min(1).max(65535).optional(),
});

export type TcpSignal = z.infer<typeof signalSchema>;
export type TcpSignalType = TcpSignal['type'];

interface Waiter {
  stage: number;
  types: readonly TcpSignalType[];
  resolve(signal: TcpSignal | undefined): void;
}

export class SignalInbox {
  readonly #channel: SignalChannel;
  readonly #connectionId: string;
  readonly #logger: Logger;
  readonly #pending: TcpSignal[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #unsubscribe: () => void;

  constructor(channel: SignalChannel, connectionId: string, logger: Logger) {
    this.#channel = channel;
    this.#connectionId = connectionId;
    this.#logger = logger;
    this.#unsubscribe = channel.onMessage((payload) => this.#receive(payload));
  }

  send(stage: number, type: TcpSignalType, extra: { address?: string; port?: number; delta?: number; hostAddress?: string; hostPort?: number } = {}): void {
    this.#channel.send({ tag: TCP_SIGNAL_TAG, connectionId: this.#connectionId, stage, type, ...extra });
  }

  /** The first message of one of `types` for `stage`, or undefined once `signal` aborts. */
  waitFor(stage: number, types: readonly TcpSignalType[], signal: AbortSignal): Promise<TcpSignal | undefined> {
    const index = this.#pending.findIndex((message) => message.stage === stage && types.includes(message.type));
    if (index >= 0) return Promise.resolve(this.#pending.splice(index, 1)[0]);
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        stage,
        types,
        resolve: (message) => {
          this.#waiters.delete(waiter);
          signal.removeEventListener('abort', onAbort);
          resolve(message);
        },
      };
      const onAbort = () => waiter.resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  close(): void {
    this.#unsubscribe();
    for (const waiter of [...this.#waiters]) waiter.resolve(undefined);
  }

  #receive(payload: object): void {
    if ((payload as { tag?: unknown }).tag !== TCP_SIGNAL_TAG) return;
    const parsed = signalSchema.safeParse(payload);
    if (!parsed.success) {
      this.#logger.warn({ issues: parsed.error.issues.length }, 'ignoring a malformed TCP punch signal');
      return;
    }
    const message = parsed.data;
    if (message.connectionId !== this.#connectionId) return;
    for (const waiter of this.#waiters) {
      if (waiter.stage === message.stage && waiter.types.includes(message.type)) {
        waiter.resolve(message);
        return;
      }
    }
    if (this.#pending.length >= MAX_PENDING_SIGNALS) this.#pending.shift();
    this.#pending.push(message);
  }
}
