import type { BrokerClient, SignalEvent } from '../broker/index.js';
import type { Logger } from '../observe/logger.js';

export interface SignalChannel {
  send(payload: object): void;
  onMessage(handler: (payload: object) => void): () => void;
}

/** Signals kept per coordination (the broker relays at most 64 per coordination). */
export const MAX_SIGNALS_PER_CONNECTION = 64;
/** Coordinations whose signals came before anyone opened them, kept at once. */
export const MAX_UNCLAIMED_CONNECTIONS = 32;
/** Unclaimed signals are dropped after this (the broker forgets a coordination after 30 s). */
export const UNCLAIMED_SIGNAL_TTL_MS = 30_000;

/**
 * The broker's signal relay for one coordination, in the shape the punch engines take. Every
 * signal since the coordination arrived is kept (bounded) and replayed to each new subscriber, so
 * a strategy that subscribes after an await (taking a socket, a relay attach) misses nothing the
 * peer sent at once. A send while the broker connection is down is logged, not thrown: the
 * engines keep punching with what they have.
 */
export class CoordinationSignals implements SignalChannel {
  readonly #broker: BrokerClient;
  readonly #connectionId: string;
  readonly #logger: Logger;
  readonly #received: object[];
  readonly #handlers = new Set<(payload: object) => void>();
  readonly #onClose: () => void;

  constructor(parts: { broker: BrokerClient; connectionId: string; logger: Logger; early: object[]; onClose: () => void }) {
    this.#broker = parts.broker;
    this.#connectionId = parts.connectionId;
    this.#logger = parts.logger;
    this.#received = parts.early;
    this.#onClose = parts.onClose;
  }

  send(payload: object): void {
    try {
      this.#broker.signal(this.#connectionId, payload);
    } catch (error) {
      this.#logger.warn({ err: error, connectionId: this.#connectionId }, 'signal to the peer not sent');
    }
  }

  onMessage(handler: (payload: object) => void): () => void {
    this.#handlers.add(handler);
    for (const payload of [...this.#received]) handler(payload);
    return () => this.#handlers.delete(handler);
  }

  deliver(payload: object): void {
    if (this.#received.length < MAX_SIGNALS_PER_CONNECTION) this.#received.push(payload);
    for (const handler of [...this.#handlers]) handler(payload);
  }

  /** The coordination is over: no more signals are kept for it. */
  close(): void {
    this.#handlers.clear();
    this.#onClose();
  }
}

/**
 * Listens to the broker's signals for the peer's whole life and hands each to the open
 * coordination it belongs to. Signals of a coordination not opened yet (the peer's first
 * signals can ride right behind the coordinate frame, before the connect call resumes) wait,
 * bounded in number, size and time, for `open`.
 */
export class SignalMailbox {
  readonly #broker: BrokerClient;
  readonly #logger: Logger;
  readonly #open = new Map<string, CoordinationSignals>();
  readonly #unclaimed = new Map<string, { at: number; payloads: object[] }>();
  readonly #listener = (event: SignalEvent): void => this.#onSignal(event);

  constructor(broker: BrokerClient, logger: Logger) {
    this.#broker = broker;
    this.#logger = logger;
    broker.on('signal', this.#listener);
  }

  open(connectionId: string, logger: Logger): CoordinationSignals {
    this.#open.get(connectionId)?.close();
    const early = this.#unclaimed.get(connectionId)?.payloads ?? [];
    this.#unclaimed.delete(connectionId);
    const channel = new CoordinationSignals({
      broker: this.#broker, connectionId, logger, early,
      onClose: () => {
        if (this.#open.get(connectionId) === channel) this.#open.delete(connectionId);
      },
    });
    this.#open.set(connectionId, channel);
    return channel;
  }

  close(): void {
    this.#broker.off('signal', this.#listener);
    for (const channel of [...this.#open.values()]) channel.close();
    this.#unclaimed.clear();
  }

  #onSignal(event: SignalEvent): void {
    if (typeof event.payload !== 'object' || event.payload === null) return;
    const channel = this.#open.get(event.connectionId);
    if (channel) {
      channel.deliver(event.payload);
      return;
    }
    const now = performance.now();
    for (const [id, entry] of this.#unclaimed) {
      if (now - entry.at > UNCLAIMED_SIGNAL_TTL_MS) this.#unclaimed.delete(id);
    }
    let entry = this.#unclaimed.get(event.connectionId);
    if (!entry) {
      if (this.#unclaimed.size >= MAX_UNCLAIMED_CONNECTIONS) {
        const oldest = this.#unclaimed.keys().next().value!;
        this.#unclaimed.delete(oldest);
        this.#logger.debug({ connectionId: oldest }, 'dropped signals of a coordination nobody opened');
      }
      entry = { at: now, payloads: [] };
      this.#unclaimed.set(event.connectionId, entry);
    }
    if (entry.payloads.length < MAX_SIGNALS_PER_CONNECTION) entry.payloads.push(event.payload);
  }
}
