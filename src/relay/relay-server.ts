import net from 'node:net';
import { Counters } from '../observe/counters.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { RelayClosedError } from './errors.js';
import { resolveLimits, type RelayLimits } from './limits.js';
import { SessionTable, type EndReason } from './session-table.js';
import { TcpRelay } from './tcp-relay.js';
import { chooseSpliceEngine, type SpliceEngineChoice } from './splice-engine.js';
import { systemClock, type Clock } from '../util/clock.js';
import { SourceRateLimiter } from '../util/token-bucket.js';
import { UdpRelay } from './udp-relay.js';
import { DatagramSessions } from './datagram-sessions.js';
import { DatagramTcpRelay } from './datagram-tcp-relay.js';

/** Where peers reach a relay session; handed to both peers with their tokens. */
export interface RelayEndpoints {
  host: string;
  tcpPort: number;
  udpPort: number;
  /** TCP port carrying UDP sessions' datagrams for peers whose UDP is blocked; absent or 0: not offered. */
  datagramTcpPort?: number;
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
  /** Relay UDP sessions (over UDP, and over TCP on `datagramTcpPort` for peers whose UDP is blocked). @default true */
  udp?: boolean;
  /**
   * TCP port of UDP sessions for UDP-blocked peers; 0 picks a free one. Peers learn it from their
   * grant, so the default falls back to a free port when tcpPort + 1 is taken.
   * @default tcpPort + 1 (3481), or 0 when tcpPort is 0
   */
  datagramTcpPort?: number;
  /** Bounds; see RelayLimits for each default. */
  limits?: Partial<RelayLimits>;
  /**
   * How TCP sessions are spliced: `kernel` (splice(2) in the native addon, no user-space copy),
   * `js` (portable), or `auto` (kernel when the addon is built). `kernel` without the addon
   * rejects with ERR_RELAY_SPLICE_UNAVAILABLE.
   * @default process.env.NTCP_RELAY_SPLICE, else 'auto'
   */
  spliceEngine?: SpliceEngineChoice;
}

export interface RelayComponents {
  /** @default silentLogger */
  logger?: Logger;
  /** Milliseconds clock for rates and timeouts. @default performance.now */
  clock?: Clock;
}

export const DEFAULT_RELAY_PORT = 3480;
const MAX_PORT = 0xffff;
const MAX_SWEEP_INTERVAL_MS = 1000;
const MIN_SWEEP_INTERVAL_MS = 10;
const SWEEPS_PER_TIMEOUT = 4;

/** A running built-in relay. */
export class Relay implements RelayRegistry {
  readonly endpoints: RelayEndpoints;
  readonly counters: Counters;
  readonly limits: Readonly<RelayLimits>;
  /** The engine splicing TCP sessions (`undefined` when TCP is off). */
  readonly spliceEngine: 'kernel' | 'js' | undefined;
  readonly #table: SessionTable;
  readonly #tcp: TcpRelay | undefined;
  readonly #udp: UdpRelay | undefined;
  readonly #datagramTcp: DatagramTcpRelay | undefined;
  readonly #sweeper: NodeJS.Timeout;
  readonly #logger: Logger;
  #closed = false;

  constructor(parts: {
    endpoints: RelayEndpoints; counters: Counters; limits: RelayLimits; table: SessionTable;
    tcp: TcpRelay | undefined; udp: UdpRelay | undefined; datagramTcp: DatagramTcpRelay | undefined; logger: Logger;
    spliceEngine: 'kernel' | 'js' | undefined;
  }) {
    this.endpoints = parts.endpoints;
    this.spliceEngine = parts.spliceEngine;
    this.counters = parts.counters;
    this.limits = parts.limits;
    this.#table = parts.table;
    this.#tcp = parts.tcp;
    this.#udp = parts.udp;
    this.#datagramTcp = parts.datagramTcp;
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
    await Promise.all([this.#tcp?.close(), this.#udp?.close(), this.#datagramTcp?.close()]);
  }
}

/** Starts the built-in relay (TCP and UDP on their ports, and UDP sessions over TCP on `datagramTcpPort`). */
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
  const splice = options.tcp === false ? undefined : chooseSpliceEngine(options.spliceEngine, clock);
  const tcp = splice === undefined ? undefined : new TcpRelay(deps, splice.engine);
  const datagrams = options.udp === false ? undefined : new DatagramSessions(deps);
  const udp = datagrams && new UdpRelay(deps, datagrams, net.isIPv6(host) ? 'udp6' : 'udp4');
  const datagramTcp = datagrams && new DatagramTcpRelay(deps, datagrams);
  try {
    const requestedTcpPort = options.tcpPort ?? DEFAULT_RELAY_PORT;
    const tcpPort = tcp ? await tcp.listen(host, requestedTcpPort) : 0;
    const udpPort = udp ? await udp.listen(host, options.udpPort ?? DEFAULT_RELAY_PORT) : 0;
    const datagramTcpPort = datagramTcp ? await listenDatagramTcp(datagramTcp, host, options.datagramTcpPort, requestedTcpPort, logger) : 0;
    const publicHost = options.publicHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
    logger.info({ event: 'listening', host, tcpPort, udpPort, datagramTcpPort }, 'relay listening');
    if (splice) logger.info({ event: 'splice-engine', engine: splice.engine.name, reason: splice.reason }, `relay TCP splice: ${splice.engine.name} (${splice.reason})`);
    return new Relay({
      endpoints: { host: publicHost, tcpPort, udpPort, datagramTcpPort }, counters, limits, table, tcp, udp, datagramTcp, logger,
      spliceEngine: splice?.engine.name,
    });
  } catch (error) {
    await Promise.allSettled([tcp?.close(), udp?.close(), datagramTcp?.close()]);
    throw error;
  }
}

async function listenDatagramTcp(relay: DatagramTcpRelay, host: string, port: number | undefined, tcpPort: number, logger: Logger): Promise<number> {
  if (port !== undefined) return relay.listen(host, port);
  const derived = tcpPort === 0 || tcpPort === MAX_PORT ? 0 : tcpPort + 1;
  try {
    return await relay.listen(host, derived);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || derived === 0) throw error;
    logger.warn({ event: 'datagram-tcp-port-taken', port: derived }, 'relay datagram TCP port taken: listening on a free one');
    return relay.listen(host, 0);
  }
}
