import { AbortedError } from '../errors.js';
import { systemClock, type Clock } from './clock.js';
import { StunTimeoutError } from './errors.js';

/** RFC 8489 section 6.2.1 retransmission parameters for unreliable transports. */
export interface RetransmitOptions {
  /** Initial retransmission timeout in ms; doubles after each retransmission. @default 500 */
  rtoMs?: number;
  /** Total number of requests sent before waiting for the final response. @default 7 */
  rc?: number;
  /** After the last request, wait `rm * rtoMs` before failing. @default 16 */
  rm?: number;
}

export const DEFAULT_RTO_MS = 500;
export const DEFAULT_RC = 7;
export const DEFAULT_RM = 16;

export interface RetransmissionOptions extends RetransmitOptions {
  /** Sends (or resends) the request; `attempt` counts from 1. A throw fails the transaction. */
  send(attempt: number): void;
  /** An overall deadline in ms that cuts the schedule short. @default none */
  timeoutMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
}

/**
 * The time (ms after the first send) at which each request goes out and the final deadline:
 * with the defaults 0, 500, 1500, 3500, 7500, 15500, 31500 and 39500 (RFC 8489 section 6.2.1).
 */
export function retransmissionSchedule(options: RetransmitOptions = {}): { sendAt: number[]; failAt: number } {
  const { rtoMs, rc, rm } = resolve(options);
  const sendAt: number[] = [];
  let at = 0;
  let interval = rtoMs;
  for (let i = 0; i < rc; i++) {
    sendAt.push(at);
    if (i < rc - 1) {
      at += interval;
      interval *= 2;
    }
  }
  return { sendAt, failAt: at + rm * rtoMs };
}

function resolve(options: RetransmitOptions): Required<RetransmitOptions> {
  const rtoMs = options.rtoMs ?? DEFAULT_RTO_MS;
  const rc = options.rc ?? DEFAULT_RC;
  const rm = options.rm ?? DEFAULT_RM;
  if (!(rtoMs > 0) || !Number.isInteger(rc) || rc < 1 || !(rm >= 0)) {
    throw new RangeError(`invalid retransmission parameters rto=${rtoMs} rc=${rc} rm=${rm}`);
  }
  return { rtoMs, rc, rm };
}

/**
 * One client transaction's timer: sends per the schedule until `complete()` or `fail()` is
 * called, then settles `promise`. Timeout and abort reject it with typed errors.
 */
export class Retransmission<T> {
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  #settled = false;
  #attempts = 0;
  #timer: unknown;
  #deadline: unknown;
  readonly #clock: Clock;
  readonly #options: RetransmissionOptions;
  readonly #schedule: { sendAt: number[]; failAt: number };
  readonly #onAbort = () => this.fail(new AbortedError('STUN transaction aborted', { cause: this.#options.signal?.reason }));

  constructor(options: RetransmissionOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#schedule = retransmissionSchedule(options);
    this.promise = new Promise<T>((resolvePromise, rejectPromise) => {
      this.#resolve = resolvePromise;
      this.#reject = rejectPromise;
    });
    if (options.signal?.aborted) {
      this.#onAbort();
      return;
    }
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      this.#deadline = this.#clock.setTimeout(() => this.#timeout(options.timeoutMs!), options.timeoutMs);
    }
    this.#sendNext();
  }

  get attempts(): number {
    return this.#attempts;
  }

  get settled(): boolean {
    return this.#settled;
  }

  complete(value: T): void {
    if (this.#finish()) this.#resolve(value);
  }

  fail(error: unknown): void {
    if (this.#finish()) this.#reject(error);
  }

  #sendNext(): void {
    const index = this.#attempts;
    this.#attempts++;
    try {
      this.#options.send(this.#attempts);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.#settled) return;
    const { sendAt, failAt } = this.#schedule;
    const next = sendAt[index + 1];
    if (next !== undefined) {
      this.#timer = this.#clock.setTimeout(() => this.#sendNext(), next - sendAt[index]!);
    } else {
      this.#timer = this.#clock.setTimeout(() => this.#timeout(failAt), failAt - sendAt[index]!);
    }
  }

  #timeout(timeoutMs: number): void {
    this.fail(new StunTimeoutError(`no STUN response after ${this.#attempts} request(s) in ${timeoutMs} ms`, timeoutMs, this.#attempts));
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#clock.clearTimeout(this.#timer);
    if (this.#deadline !== undefined) this.#clock.clearTimeout(this.#deadline);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    return true;
  }
}
