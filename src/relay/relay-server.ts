import net from 'node:net';
import { Counters } from '../observe/counters.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { RelayClosedError } from './errors.js';
import { resolveLimits, type RelayLimits } from './limits.js';
import { SessionTable, type EndReason } from './session-table.js';
import { TcpRelay } from './tcp-relay.js';
import { systemClock, type Clock } from '../util/clock.js';
import { SourceRateLimiter } from '../util/token-bucket.js';
import { UdpRelay } from './udp-relay.js';

/** Where peers reach a relay session; handed to both peers with their tokens. */
export interface RelayEndpoints {
  host: string;
  tcpPort: number;
  udpPort: number;
}

/** A fresh relay session: one token per peer (single-use, expiring). */
export interface RelaySessionGrant {
  id: string;
  tokens: [string, string];
  endpoints: RelayEndpoints;
}

/** What the broker needs from a relay: it hands each peer of a connection one token. */
export interface RelayRegistry {
  createSession(): Promise<RelaySessionGrant>;
  /** Releases a session whose tokens were never handed out (the coordination ended first). */
  cancelSession(id: string): void;
}

export interface RelayOptions {
  /** Address to listen on. @default '0.0.0.0' */
  host?: string;
  /** Host name or address peers are told to use. @default host, or '127.0.0.1' when host is a wildcard */
  publicHost?: string;
  /** TCP port; 0 picks a free one. @default 3480 */
  tcpPort?: number;
  /** UDP port; 0 picks a free one. @default 3480 */
  udpPort?: number;
  /** Relay TCP streams. @default true */
  tcp?: boolean;
  /** Relay UDP sessions. @default true */
  udp?: boolean;
  /** Bounds; see RelayLimits for each default. */
  limits?: Partial<RelayLimits>;
}

export interface RelayComponents {
  /** @default silentLogger */
  logger?: Logger;
  /** Milliseconds clock for rates and timeouts. @default performance.now */
  clock?: Clock;
}

export const DEFAULT_RELAY_PORT = 3480;
const MAX_SWEEP_INTERVAL_MS = 1000;
const MIN_SWEEP_INTERVAL_MS = 10;
const SWEEPS_PER_TIMEOUT = 4;

/** A running built-in relay. */
export class Relay implements RelayRegistry {
  readonly endpoints: RelayEndpoints;
  readonly counters: Counters;
  readonly limits: Readonly<RelayLimits>;
  readonly #table: SessionTable;
  readonly #tcp: TcpRelay | undefined;
  readonly #udp: UdpRelay | undefined;
  readonly #sweeper: NodeJS.Timeout;
  readonly #logger: Logger;
  #closed = false;

  constructor(parts: {
    endpoints: RelayEndpoints; counters: Counters; limits: RelayLimits; table: SessionTable;
    tcp: TcpRelay | undefined; udp: UdpRelay | undefined; logger: Logger;
  }) {
    this.endpoints = parts.endpoints;
    this.counters = parts.counters;
    this.limits = parts.limits;
    this.#table = parts.table;
    this.#tcp = parts.tcp;
    this.#udp = parts.udp;
    this.#logger = parts.logger;
    const { tokenTtlMs, pendingTimeoutMs, idleTimeoutMs } = parts.limits;
    const interval = Math.min(tokenTtlMs, pendingTimeoutMs, idleTimeoutMs) / SWEEPS_PER_TIMEOUT;
    this.#sweeper = setInterval(() => this.#table.sweep(), Math.max(MIN_SWEEP_INTERVAL_MS, Math.min(MAX_SWEEP_INTERVAL_MS, interval)));
    this.#sweeper.unref();
  }

  /** Sessions held now (waiting for peers or active). */
  get sessionCount(): number {
    return this.#table.size;
  }

  /** Sessions with both peers attached. */
  get activeSessionCount(): number {
    return this.#table.activeCount;
  }

  /** Rejects with RelayCapacityError (ERR_RELAY_CAPACITY) at `limits.maxSessions`. */
  async createSession(): Promise<RelaySessionGrant> {
    if (this.#closed) throw new RelayClosedError('relay is closed');
    const session = this.#table.create();
    this.counters.increment('sessions_created');
    this.#logger.info({ event: 'session-created', session: session.id }, 'relay session created');
    return { id: session.id, tokens: [...session.tokens], endpoints: { ...this.endpoints } };
  }

  /** Ends the session now instead of at its token expiry; an unknown or ended id is a no-op. */
  cancelSession(id: string): void {
    const session = this.#table.get(id);
    if (session) this.#table.end(session, 'cancelled');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#table.endAll('relay-closed');
    await Promise.all([this.#tcp?.close(), this.#udp?.close()]);
  }
}

/** Starts the built-in relay (TCP and UDP on their ports). */
export async function startRelay(options: RelayOptions = {}, components: RelayComponents = {}): Promise<Relay> {
  const limits = resolveLimits(options.limits);
  const logger = (components.logger ?? silentLogger).child({ component: 'relay' });
  const clock = components.clock ?? systemClock;
  const counters = new Counters();
  const host = options.host ?? '0.0.0.0';
  const table = new SessionTable(limits, clock);
  table.onEnd((session, reason: EndReason) => {
    counters.increment('sessions_ended');
    counters.increment(`sessions_ended_${reason.replace('-', '_')}`);
    logger.info({ event: 'session-ended', session: session.id, transport: session.transport, reason }, 'relay session ended');
  });
  const rateLimiter = new SourceRateLimiter(
    { ratePerSecond: limits.attachesPerSecond, burst: limits.attachBurst, maxSources: limits.maxTrackedSources }, clock);
  const deps = { table, limits, rateLimiter, logger, counters, clock };
  const tcp = options.tcp === false ? undefined : new TcpRelay(deps);
  const udp = options.udp === false ? undefined : new UdpRelay(deps, net.isIPv6(host) ? 'udp6' : 'udp4');
  try {
    const tcpPort = tcp ? await tcp.listen(host, options.tcpPort ?? DEFAULT_RELAY_PORT) : 0;
    const udpPort = udp ? await udp.listen(host, options.udpPort ?? DEFAULT_RELAY_PORT) : 0;
    const publicHost = options.publicHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
    logger.info({ event: 'listening', host, tcpPort, udpPort }, 'relay listening');
    return new Relay({ endpoints: { host: publicHost, tcpPort, udpPort }, counters, limits, table, tcp, udp, logger });
  } catch (error) {
    await Promise.allSettled([tcp?.close(), udp?.close()]);
    throw error;
  }
}
