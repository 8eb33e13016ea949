import type { HostPort } from '../../stun/index.js';
import type { Logger } from '../../observe/logger.js';
import type { AttemptTally } from './attempt-tally.js';
import type { UdpMethod } from './connection.js';
import type { PunchLifetime } from './punch-lifetime.js';
import { pathKey, type PunchSocket } from './punch-sockets.js';

/** Probes to one target are repeated, first after this long, then at doubling intervals... */
export const PUNCH_FIRST_RETRY_MS = 20;
/** ...up to this interval, until a path wins or the deadline passes. */
export const PUNCH_MAX_RETRY_MS = 250;
/** Granularity of the scheduler. */
const PUNCH_TICK_MS = 10;

/** The first retry interval and the one the doubling stops at. */
export interface ProbePacing {
  first: number;
  max: number;
}

interface Target {
  socket: PunchSocket;
  to: HostPort;
  method: UdpMethod;
  nextAt: number;
  interval: number;
  maxInterval: number;
}

export interface ProbeSchedulerOptions {
  /** The punch's PROBE: one nonce per punch, so every probe is the same datagram. */
  probe: Buffer;
  /** performance.now() time of the first probes. */
  startAt: number;
  lifetime: PunchLifetime;
  tally: AttemptTally;
  logger: Logger;
}

/**
 * Sends the PROBE to every target (one of our sockets and one remote endpoint) from the
 * synchronised start, repeated at doubling intervals until the punch settles, and counts every
 * datagram of the punch against the technique that sent it.
 */
export class ProbeScheduler {
  readonly #probe: Buffer;
  readonly #startAt: number;
  readonly #lifetime: PunchLifetime;
  readonly #tally: AttemptTally;
  readonly #logger: Logger;
  /** By pathKey. */
  readonly #targets = new Map<string, Target>();

  constructor(options: ProbeSchedulerOptions) {
    this.#probe = options.probe;
    this.#startAt = options.startAt;
    this.#lifetime = options.lifetime;
    this.#tally = options.tally;
    this.#logger = options.logger;
  }

  /** Starts sending at the synchronised start. */
  start(): void {
    this.#lifetime.at(this.#startAt, () => this.#tick());
  }

  /** Probes `candidate` from `socket` from now on; a known target is left as it is. */
  add(socket: PunchSocket, candidate: { address: string; port: number }, method: UdpMethod, pacing?: ProbePacing): void {
    const key = pathKey(socket, candidate.address, candidate.port);
    if (this.#lifetime.settled || this.#targets.has(key)) return;
    this.#targets.set(key, {
      socket,
      to: { host: candidate.address, port: candidate.port },
      method,
      nextAt: Math.max(this.#startAt, performance.now()),
      interval: pacing?.first ?? PUNCH_FIRST_RETRY_MS,
      maxInterval: pacing?.max ?? PUNCH_MAX_RETRY_MS,
    });
    this.#tally.addTargets(method);
  }

  /** The technique that probes this path, when it is a target. */
  methodOf(socket: PunchSocket, address: string, port: number): UdpMethod | undefined {
    return this.#targets.get(pathKey(socket, address, port))?.method;
  }

  /** Sends the PROBE once, outside the schedule. */
  probeOnce(socket: PunchSocket, to: HostPort, method: UdpMethod): void {
    this.send(socket, to, this.#probe, method);
  }

  send(socket: PunchSocket, to: HostPort, bytes: Buffer, method: UdpMethod): void {
    try {
      socket.socket.send(bytes, to);
      this.#tally.addPacket(method);
    } catch (error) {
      // A socket closed underneath us (by its former owner): the other paths carry on.
      this.#logger.warn({ err: error, socket: socket.kind }, 'udp punch send failed');
    }
  }

  #tick(): void {
    const now = performance.now();
    for (const target of this.#targets.values()) {
      if (target.nextAt > now) continue;
      this.send(target.socket, target.to, this.#probe, target.method);
      target.nextAt = now + target.interval;
      target.interval = Math.min(target.interval * 2, target.maxInterval);
    }
    this.#lifetime.after(PUNCH_TICK_MS, () => this.#tick());
  }
}
