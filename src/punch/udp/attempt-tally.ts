import type { UdpPunchAttempt } from './errors.js';

/** What each technique tried, for the outcome log and UdpPunchFailedError. */
export class AttemptTally {
  readonly #byStrategy = new Map<string, UdpPunchAttempt>();

  addTargets(strategy: string, count = 1): void {
    this.#of(strategy).targets += count;
  }

  addPacket(strategy: string): void {
    this.#of(strategy).packetsSent += 1;
  }

  list(): UdpPunchAttempt[] {
    return [...this.#byStrategy.values()];
  }

  #of(strategy: string): UdpPunchAttempt {
    let attempt = this.#byStrategy.get(strategy);
    if (attempt === undefined) {
      attempt = { strategy, packetsSent: 0, targets: 0 };
      this.#byStrategy.set(strategy, attempt);
    }
    return attempt;
  }
}
