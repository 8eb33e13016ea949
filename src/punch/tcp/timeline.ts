import type { Logger } from '../../observe/logger.js';

/** The steps of one TCP punch, in the order they normally happen. */
export type PunchStep =
  | 'port-ready'
  | 'mapping-sent'
  | 'mapping-received'
  | 'stage-start'
  | 'first-syn'
  | 'tcp-connected'
  | 'verified';

/**
 * When each step of one punch first happened, in ms from an origin the caller picks (the
 * `connect()` call, or the coordination's arrival on the listening side). Each step is logged at
 * debug level as it happens and kept for the result, so a slow connect can be taken apart.
 */
export class PunchTimeline {
  readonly #origin: number;
  readonly #logger: Logger;
  readonly #steps: Partial<Record<PunchStep, number>> = {};

  constructor(origin: number, logger: Logger) {
    this.#origin = origin;
    this.#logger = logger;
  }

  /** Records the first occurrence of `step`; later ones are not the critical path. */
  mark(step: PunchStep): void {
    if (this.#steps[step] !== undefined) return;
    const atMs = Math.round((performance.now() - this.#origin) * 10) / 10;
    this.#steps[step] = atMs;
    this.#logger.debug({ step, atMs }, 'tcp punch timeline');
  }

  get steps(): Readonly<Partial<Record<PunchStep, number>>> {
    return { ...this.#steps };
  }
}
