import { candidateKey } from '../candidates.js';
import { FULL_PORT_RANGE, samplePorts, type PortRange } from '../predict.js';
import type { AttemptTally } from './attempt-tally.js';
import type { ProbePacing } from './probe-scheduler.js';
import { birthdayReady } from './signaling.js';
import type { TechniqueContext } from './technique-context.js';

/** Birthday sockets re-send towards the peer this often: a lost first packet must not cost the round. */
export const BIRTHDAY_SOCKET_REFRESH_MS = 1_000;
export const BIRTHDAY_PACING: ProbePacing = { first: BIRTHDAY_SOCKET_REFRESH_MS, max: BIRTHDAY_SOCKET_REFRESH_MS };
/** Birthday probes leave in batches, so neither our send buffer nor the NAT's conntrack is flooded. */
export const BIRTHDAY_PROBE_BATCH = 64;
export const BIRTHDAY_BATCH_INTERVAL_MS = 4;
/** A new sample of ports is probed this long after the previous round started. */
export const BIRTHDAY_ROUND_INTERVAL_MS = 1_500;

/** `signaling` tells the probing side when our sockets are open. */
export interface BirthdayOptions extends TechniqueContext {
  tally: AttemptTally;
  /** Ports the peer's random NAT hands out. @default FULL_PORT_RANGE */
  portRange?: PortRange;
  random: () => number;
}

/**
 * The birthday technique against a random symmetric NAT: the symmetric side opens many
 * mappings towards the peer's one endpoint, the endpoint-independent side probes random ports
 * of the symmetric side's public address until one probe meets one of those mappings.
 */
export class Birthday {
  readonly #options: BirthdayOptions;
  /** Remote endpoints probed once each by the probing side (candidateKey). */
  readonly #sprayed = new Set<string>();
  /** The probing side: budget left and when the last round began. */
  #rounds: { probes: number; left: number; lastAt: number | undefined } | undefined;

  constructor(options: BirthdayOptions) {
    this.#options = options;
  }

  /** The probing side has sent a birthday probe to this endpoint. */
  sprayed(endpoint: { address: string; port: number }): boolean {
    return this.#sprayed.has(candidateKey(endpoint));
  }

  /** The symmetric side: many mappings towards the peer's one endpoint, for its probes to find. */
  async openSockets(count: number): Promise<void> {
    const { sockets, scheduler, remote, lifetime, logger } = this.#options;
    const bound = await Promise.allSettled(Array.from({ length: count }, () => sockets.bind()));
    const failures = bound.filter((result) => result.status === 'rejected');
    if (failures.length > 0) logger.warn({ failed: failures.length, reason: String(failures[0]!.reason) }, 'some birthday sockets could not be bound');
    for (const result of bound) {
      if (result.status !== 'fulfilled') continue;
      if (lifetime.settled) {
        lifetime.background('late birthday socket close', result.value.close());
        continue;
      }
      const entry = sockets.add(result.value, 'birthday');
      for (const candidate of remote.public) scheduler.add(entry, candidate, 'udp-birthday', BIRTHDAY_PACING);
    }
    if (!lifetime.settled) this.#options.signaling?.send(birthdayReady(this.#options.connectionId));
  }

  /**
   * The endpoint-independent side: probes random ports of the symmetric side's public address,
   * one sample of `probes` ports per round, at the start and then every BIRTHDAY_ROUND_INTERVAL_MS.
   */
  sprayRounds(probes: number, rounds: number): void {
    this.#rounds = { probes, left: rounds, lastAt: undefined };
    for (let round = 0; round < rounds; round++) {
      this.#options.lifetime.at(this.#options.startAt + round * BIRTHDAY_ROUND_INTERVAL_MS, () => this.#round());
    }
  }

  /**
   * The peer's sockets opened after our last round began (its start was late): that round probed
   * ports no mapping could hold yet, so spend the next round now instead of waiting.
   */
  onPeerReady(): void {
    const lastAt = this.#rounds?.lastAt;
    if (lastAt === undefined) return;
    this.#options.logger.debug({ sinceLastRoundMs: Math.round(performance.now() - lastAt) }, 'birthday sockets of the peer ready after our round began');
    this.#round();
  }

  #round(): void {
    const rounds = this.#rounds;
    if (rounds === undefined || rounds.left <= 0) return;
    // Read at each round: the peer's srflx may have arrived late through signaling.
    const address = this.#options.remote.srflxAddress();
    if (address === undefined) {
      this.#options.logger.warn({}, 'birthday round skipped: no server-reflexive candidate of the peer yet');
      return;
    }
    rounds.left -= 1;
    rounds.lastAt = performance.now();
    const range = this.#options.portRange ?? FULL_PORT_RANGE;
    const ports = samplePorts(rounds.probes, range, this.#options.random).filter((port) => !this.sprayed({ address, port }));
    this.#sprayBatch(address, ports, 0);
  }

  #sprayBatch(address: string, ports: number[], from: number): void {
    const { sockets, scheduler, tally, lifetime } = this.#options;
    if (lifetime.settled) return;
    const end = Math.min(ports.length, from + BIRTHDAY_PROBE_BATCH);
    for (let i = from; i < end; i++) {
      const port = ports[i]!;
      this.#sprayed.add(candidateKey({ address, port }));
      scheduler.probeOnce(sockets.main, { host: address, port }, 'udp-birthday');
    }
    tally.addTargets('udp-birthday', end - from);
    if (end < ports.length) lifetime.after(BIRTHDAY_BATCH_INTERVAL_MS, () => this.#sprayBatch(address, ports, end));
  }
}
