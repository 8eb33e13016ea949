import { udpBinding, type HostPort } from '../../stun/index.js';
import type { Candidate } from '../candidates.js';
import { predictPorts } from '../predict.js';
import type { UdpStrategy } from './planner.js';
import type { PunchSocket } from './punch-sockets.js';
import { lateCandidates, type SignalChannel } from './signaling.js';
import type { TechniqueContext } from './technique-context.js';

/** A sequential side makes a fresh probe and announcement this often until a path wins... */
export const PREDICT_ROUND_INTERVAL_MS = 2_500;
/** ...at most this many times. */
export const PREDICT_MAX_ROUNDS = 3;
/** The fresh mapping probe of a prediction round gives up after this long. */
const PREDICT_PROBE_TIMEOUT_MS = 1_500;

type PredictStrategy = Extract<UdpStrategy, { kind: 'predict' }>;

/** `signaling` carries the predicted ports to the peer; prediction is skipped without it. */
export interface PredictionOptions extends TechniqueContext {
  /** Port step of our NAT between fresh mappings; prediction is skipped without it. */
  delta?: number;
  /** For the fresh mapping probes; prediction is skipped without it. */
  stunServer?: HostPort;
  signal?: AbortSignal;
}

/**
 * Port prediction against sequential NATs: our side announces the mappings its NAT will hand
 * out next and makes them by probing; the peer's side probes what the peer announced.
 */
export class Prediction {
  readonly #options: PredictionOptions;
  #strategy: PredictStrategy | undefined;
  /** Our rounds' sockets, by round. */
  readonly #ownRounds = new Map<number, PunchSocket>();
  /** The peer's predicted candidates, by round. */
  readonly #remoteRounds = new Map<number, Candidate[]>();

  constructor(options: PredictionOptions) {
    this.#options = options;
  }

  start(strategy: PredictStrategy): void {
    this.#strategy = strategy;
    if (!strategy.announce) return;
    const { signaling, stunServer, delta, lifetime, startAt, logger } = this.#options;
    if (!signaling || !stunServer || delta === undefined) {
      logger.warn({ signaling: !!signaling, stunServer: !!stunServer, delta }, 'udp prediction skipped: needs signaling, a STUN server and the NAT delta');
      return;
    }
    for (let round = 0; round < PREDICT_MAX_ROUNDS; round++) {
      const run = () => lifetime.background(`prediction round ${round}`, this.#round(strategy, round, delta, stunServer, signaling));
      if (round === 0) run();
      else lifetime.at(startAt + round * PREDICT_ROUND_INTERVAL_MS, run);
    }
  }

  /** A socket of one of our rounds, which also probes the peer's public candidates learnt late. */
  probesPublicFrom(socket: PunchSocket): boolean {
    return this.#strategy?.target === 'srflx' && [...this.#ownRounds.values()].includes(socket);
  }

  /** The peer announced the ports its NAT will map next, for `round`. */
  onPeerPredicted(round: number, predicted: Candidate[]): void {
    this.#remoteRounds.set(round, [...(this.#remoteRounds.get(round) ?? []), ...predicted]);
    if (!this.#strategy?.probePredicted) return;
    if (this.#strategy.target === 'srflx') {
      for (const candidate of predicted) this.#options.scheduler.add(this.#options.sockets.main, candidate, 'udp-predict');
    } else {
      this.#matchRound(round);
    }
  }

  /**
   * 1. A new socket makes a fresh mapping towards the STUN server (port q).
   * 2. The next mappings of the sequential NAT will be q + delta, q + 2 delta, ...: announced.
   * 3. The socket sends to the peer (its srflx, or the one port the peer predicted this round),
   *    which makes the mapping that was predicted.
   */
  async #round(strategy: PredictStrategy, round: number, delta: number, stunServer: HostPort, signaling: SignalChannel): Promise<void> {
    const { sockets, scheduler, remote, lifetime, logger } = this.#options;
    const entry = sockets.add(await sockets.bind(), 'predict');
    if (lifetime.settled) return;
    const probe = await udpBinding({ server: stunServer, socket: entry.socket, timeoutMs: PREDICT_PROBE_TIMEOUT_MS, signal: this.#options.signal });
    if (lifetime.settled) return;
    const ports = predictPorts({ lastPort: probe.mapped.port, delta, window: strategy.window });
    const candidates: Candidate[] = ports.map((port) => ({ kind: 'predicted', address: probe.mapped.address, port }));
    logger.debug({ round, fresh: probe.mapped, predicted: ports }, 'udp prediction announced');
    signaling.send(lateCandidates(this.#options.connectionId, round, candidates));
    this.#ownRounds.set(round, entry);
    if (strategy.target === 'srflx') {
      for (const candidate of remote.public) scheduler.add(entry, candidate, 'udp-predict');
    } else {
      this.#matchRound(round);
    }
  }

  /** Sequential on both sides: this round's socket probes exactly what the peer predicted this round. */
  #matchRound(round: number): void {
    const entry = this.#ownRounds.get(round);
    const remote = this.#remoteRounds.get(round);
    if (entry === undefined || remote === undefined || this.#strategy?.target !== 'predicted') return;
    for (const candidate of remote) this.#options.scheduler.add(entry, candidate, 'udp-predict');
  }
}
