import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/logger.js';
import { DEFAULT_BROKER_PORT, DEFAULT_MAX_FRAME_BYTES, type QueryResult } from './protocol.js';

/** What a relay offers the broker: one session, one token per peer. The relay helper implements it. */
export interface RelayRegistry {
  createSession(): Promise<{ id: string; tokens: [string, string]; endpoints: unknown }>;
  /** Releases a session whose tokens were never handed out (the coordination ended first). */
  cancelSession(id: string): void;
}

export interface BrokerTlsServerOptions {
  /** The server's certificate chain, PEM. */
  cert: string | Buffer;
  /** Its private key, PEM. */
  key: string | Buffer;
}

export interface BrokerOptions {
  /** Address to listen on. @default '0.0.0.0' */
  host?: string;
  /** TCP port; 0 picks a free one. @default 8123 */
  port?: number;
  /**
   * Serve TLS with this certificate (chain) and private key, PEM, instead of plain TCP: the
   * per-connection secrets and relay tokens the broker hands out then cannot be read or forged
   * on the path, and clients can verify they reached this broker. @default undefined (plain TCP)
   */
  tls?: BrokerTlsServerOptions;
  /**
   * With `tls`: a client must finish its TLS handshake within this, so one that stalls cannot hold
   * a connection slot (handshaking connections count against maxConnections). @default 5000
   */
  tlsHandshakeTimeoutMs?: number;
  /** Simultaneous TCP connections (registered or not, TLS handshakes included). @default 50000 */
  maxConnections?: number;
  /**
   * Ids held at once, live and dead (a dead id stays reserved for purgeAfterMs): bounds memory
   * when clients register and vanish faster than ids are purged. @default 2 * maxConnections
   */
  maxPeers?: number;
  /** Largest frame body a client may send. @default 32768 */
  maxFrameBytes?: number;
  /** Sustained messages per second per connection. @default 50 */
  messagesPerSecond?: number;
  /** Messages a connection may send at once before the rate applies. @default 100 */
  messageBurst?: number;
  /** A connection must register (or finish its query) within this. @default 10000 */
  registrationTimeoutMs?: number;
  /** The broker pings each registered peer this often (RTT and liveness). @default 10000 */
  heartbeatIntervalMs?: number;
  /** A peer silent for this many intervals is dead. @default 3 */
  missedHeartbeats?: number;
  /** A dead id stays reserved for its owner's reclaim token this long. @default 30000 */
  purgeAfterMs?: number;
  /** Coordinations in progress across the broker. @default 10000 */
  maxPendingCoordinations?: number;
  /** Coordinations in progress per peer. @default 16 */
  maxCoordinationsPerPeer?: number;
  /** A coordination (and its signal channel) lives this long unless both report `done`. @default 30000 */
  coordinationTtlMs?: number;
  /** Signals each coordination may relay (both directions together). @default 64 */
  maxSignalsPerCoordination?: number;
  /** An RTT sample older than this is refreshed by a ping before scheduling. @default 2 * heartbeatIntervalMs */
  rttMaxAgeMs?: number;
  /** How long a connect waits for that refresh. @default 1000 */
  rttProbeTimeoutMs?: number;
  /** Jitter margin floor for the synchronised start. @default 10 */
  startMarginMs?: number;
  /** When set, management queries must carry this token. @default undefined (open) */
  queryToken?: string;
  /** Management queries answered per second, all connections together: each one walks every peer. @default 20 */
  queriesPerSecond?: number;
  /** How long a connect waits for the relay registry. @default 2000 */
  relayTimeoutMs?: number;
  /** A client that lets this much output pile up is disconnected. @default 1048576 */
  maxWriteBufferBytes?: number;
  /** How often timeouts are checked. @default 1000 */
  sweepIntervalMs?: number;
  logger?: Logger;
  /** When present, connect requests with `relay: true` get a relay session. */
  relayRegistry?: RelayRegistry;
}

export type BrokerCounter =
  | 'connections-accepted' | 'connections-refused' | 'registrations' | 'reclaims' | 'deregistrations'
  | 'duplicates-refused' | 'registrations-refused' | 'versions-refused' | 'bad-messages' | 'frames-too-large' | 'rate-limited'
  | 'floods-closed' | 'registration-timeouts' | 'coordinations' | 'connect-errors' | 'signals-relayed'
  | 'deaths' | 'purged' | 'outcomes-connected' | 'outcomes-failed' | 'coordinations-expired'
  | 'pings-sent' | 'slow-consumers-closed' | 'relay-sessions' | 'relay-failures' | 'queries'
  | 'tls-handshake-failures' | 'tls-handshake-timeouts';

export type BrokerQueryResult = Omit<QueryResult, 'type' | 'requestId'>;

export interface Broker {
  readonly host: string;
  readonly port: number;
  readonly counters: Counters<BrokerCounter>;
  /** The same view a management query gets, without the token. */
  query(options?: { id?: string; after?: string; limit?: number }): BrokerQueryResult;
  close(): Promise<void>;
}

const DEFAULT_QUERIES_PER_SECOND = 20;

/** Every option with its default filled in; the injected parts (logger, registry) and the secrets (token, TLS key) stay out. */
export type ResolvedBrokerOptions = Required<Omit<BrokerOptions, 'logger' | 'relayRegistry' | 'queryToken' | 'tls'>>;

export function resolveBrokerOptions(options: BrokerOptions): ResolvedBrokerOptions {
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 10_000;
  const maxConnections = options.maxConnections ?? 50_000;
  return {
    host: options.host ?? '0.0.0.0',
    port: options.port ?? DEFAULT_BROKER_PORT,
    maxConnections,
    maxPeers: options.maxPeers ?? 2 * maxConnections,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    messagesPerSecond: options.messagesPerSecond ?? 50,
    messageBurst: options.messageBurst ?? 100,
    registrationTimeoutMs: options.registrationTimeoutMs ?? 10_000,
    heartbeatIntervalMs,
    missedHeartbeats: options.missedHeartbeats ?? 3,
    purgeAfterMs: options.purgeAfterMs ?? 30_000,
    maxPendingCoordinations: options.maxPendingCoordinations ?? 10_000,
    maxCoordinationsPerPeer: options.maxCoordinationsPerPeer ?? 16,
    coordinationTtlMs: options.coordinationTtlMs ?? 30_000,
    maxSignalsPerCoordination: options.maxSignalsPerCoordination ?? 64,
    rttMaxAgeMs: options.rttMaxAgeMs ?? 2 * heartbeatIntervalMs,
    rttProbeTimeoutMs: options.rttProbeTimeoutMs ?? 1000,
    startMarginMs: options.startMarginMs ?? 10,
    relayTimeoutMs: options.relayTimeoutMs ?? 2000,
    maxWriteBufferBytes: options.maxWriteBufferBytes ?? 1024 * 1024,
    sweepIntervalMs: options.sweepIntervalMs ?? Math.min(1000, heartbeatIntervalMs / 2),
    queriesPerSecond: options.queriesPerSecond ?? DEFAULT_QUERIES_PER_SECOND,
    tlsHandshakeTimeoutMs: options.tlsHandshakeTimeoutMs ?? 5000,
  };
}
