import type { Counters } from '../observe/counters.js';
import type { PeerRecord, Session } from './peer-record.js';
import type { SendMessage } from './replies.js';
import type { BrokerCounter } from './server-options.js';

/**
 * Pings and pongs on each registered connection: they keep it alive and give the RTT samples the
 * scheduler needs. One ping is outstanding per connection; connects waiting for a fresh RTT wait on it.
 */
export class Heartbeats {
  readonly #send: SendMessage;
  readonly #counters: Counters<BrokerCounter>;
  readonly #rttMaxAgeMs: number;
  readonly #rttProbeTimeoutMs: number;

  constructor(deps: { send: SendMessage; counters: Counters<BrokerCounter>; rttMaxAgeMs: number; rttProbeTimeoutMs: number }) {
    this.#send = deps.send;
    this.#counters = deps.counters;
    this.#rttMaxAgeMs = deps.rttMaxAgeMs;
    this.#rttProbeTimeoutMs = deps.rttProbeTimeoutMs;
  }

  ping(session: Session, now: number): void {
    session.pingSeq += 1;
    session.pingSentAt = now;
    session.lastPingAt = now;
    this.#counters.increment('pings-sent');
    this.#send(session, { type: 'ping', seq: session.pingSeq });
  }

  onPong(session: Session, seq: number, now: number): void {
    if (seq !== session.pingSeq || session.pingSentAt === 0) return;
    session.peer?.rtt.sample(now - session.pingSentAt, now);
    session.pingSentAt = 0;
    this.release(session);
  }

  /** Wakes whoever waits for this connection's pong (it came, or the connection closed). */
  release(session: Session): void {
    const waiters = session.pongWaiters;
    session.pongWaiters = undefined;
    for (const wake of waiters ?? []) wake();
  }

  /** Resolves after a fresh RTT sample arrives, or after the probe timeout. */
  refreshRtt(record: PeerRecord): Promise<void> {
    const session = record.session;
    const now = Date.now();
    if (!session || record.rtt.isFresh(now, this.#rttMaxAgeMs)) return Promise.resolve();
    if (session.pingSentAt === 0) this.ping(session, now);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      // A peer that never answers pings must not collect one waiter per connect aimed at it.
      const timer = setTimeout(() => {
        const index = session.pongWaiters?.indexOf(wake) ?? -1;
        if (index !== -1) session.pongWaiters!.splice(index, 1);
        resolve();
      }, this.#rttProbeTimeoutMs);
      (session.pongWaiters ??= []).push(wake);
    });
  }
}
