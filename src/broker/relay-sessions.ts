import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/logger.js';
import { BrokerError } from './errors.js';
import type { BrokerCounter, RelayRegistry } from './server-options.js';

export type RelayGrant = Awaited<ReturnType<RelayRegistry['createSession']>>;

/**
 * The broker's side of the relay registry: a session per coordination that asks for one, within a
 * timeout, and given back when no peer received its tokens. A registry failure never fails the
 * coordination: it goes on without a relay.
 */
export class RelaySessions {
  readonly #registry: RelayRegistry | undefined;
  readonly #timeoutMs: number;
  readonly #counters: Counters<BrokerCounter>;
  readonly #logger: Logger;

  constructor(registry: RelayRegistry | undefined, timeoutMs: number, counters: Counters<BrokerCounter>, logger: Logger) {
    this.#registry = registry;
    this.#timeoutMs = timeoutMs;
    this.#counters = counters;
    this.#logger = logger;
  }

  /** A session, or undefined when there is no registry or it failed or did not answer in time. */
  async create(): Promise<RelayGrant | undefined> {
    if (!this.#registry) return undefined;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    let creating: Promise<RelayGrant> | undefined;
    try {
      creating = this.#registry.createSession();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new BrokerError('ERR_TIMEOUT', 'relay registry did not answer in time'));
        }, this.#timeoutMs);
      });
      const session = await Promise.race([creating, timeout]);
      this.#counters.increment('relay-sessions');
      return session;
    } catch (error) {
      this.#counters.increment('relay-failures');
      this.#logger.warn({ err: error }, 'relay session unavailable: coordinating without it');
      // a session created after we gave up would otherwise hold relay capacity until its tokens expire
      if (timedOut) {
        creating!.then(
          (late) => this.cancel(late),
          (lateError: unknown) => this.#logger.debug({ err: lateError }, 'relay registry failed after its timeout'),
        );
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Gives back a session whose tokens no peer received. */
  cancel(relay: { id: string } | undefined): void {
    if (!relay || !this.#registry) return;
    try {
      this.#registry.cancelSession(relay.id);
    } catch (error) {
      this.#logger.warn({ err: error, relaySession: relay.id }, 'relay registry could not cancel a session: it lasts until its tokens expire');
    }
  }
}
