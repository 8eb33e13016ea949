import net from 'node:net';
import { once } from 'node:events';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { Counters } from '../observe/counters.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import {
  ClientMessage, Connect, DEFAULT_BROKER_PORT, DEFAULT_MAX_FRAME_BYTES, MAX_ID_BYTES, MAX_PROFILE_BYTES,
  MAX_SIGNAL_BYTES, PROTOCOL_VERSION, SUPPORTED_VERSIONS, type BrokerMessage, type Candidate,
  type PeerInfo, type QueryResult, type Register, type Transport, type TransportAddress, Query, SignalOut, Done,
} from './protocol.js';
import {
  BadMessageError, BrokerError, BusyError, DuplicateIdError, InvalidIdError, LimitError, MatchError,
  NotRegisteredError, RateLimitError, UnauthorizedError, UnknownConnectionError, VersionError,
} from './errors.js';
import { encodeFrame, encodeFrameWithRawJson, parseFrameBody, RAW_JSON } from './framing.js';
import { PeerRecord, Session } from './peer-record.js';
import { planStart, type PathDelay } from './schedule.js';
import { TokenBucket } from '../util/token-bucket.js';
import { wallClock } from '../util/clock.js';
import { reflexiveCandidates } from './candidates.js';

/** What a relay offers the broker: one session, one token per peer. The relay helper implements it. */
export interface RelayRegistry {
  createSession(): Promise<{ id: string; tokens: [string, string]; endpoints: unknown }>;
  /** Releases a session whose tokens were never handed out (the coordination ended first). */
  cancelSession(id: string): void;
}

export interface BrokerOptions {
  /** Address to listen on. @default '0.0.0.0' */
  host?: string;
  /** TCP port; 0 picks a free one. @default 8123 */
  port?: number;
  /** Simultaneous TCP connections (registered or not). @default 50000 */
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
  | 'pings-sent' | 'slow-consumers-closed' | 'relay-sessions' | 'relay-failures' | 'queries';

export type BrokerQueryResult = Omit<QueryResult, 'type' | 'requestId'>;

export interface Broker {
  readonly host: string;
  readonly port: number;
  readonly counters: Counters<BrokerCounter>;
  /** The same view a management query gets, without the token. */
  query(options?: { id?: string; after?: string; limit?: number }): BrokerQueryResult;
  close(): Promise<void>;
}

interface Coordination {
  id: string;
  initiator: PeerRecord;
  responder: PeerRecord;
  transport: Transport;
  expiresAt: number;
  signals: number;
}

const DEFAULT_QUERY_LIMIT = 100;
/** Pending connections the kernel queues: registration storms after a broker restart arrive at once. */
const LISTEN_BACKLOG = 4096;
/** 128-bit reclaim tokens, 96-bit connection ids, 256-bit per-connection secrets. */
const RECLAIM_TOKEN_BYTES = 16;
const CONNECTION_ID_BYTES = 12;
const SECRET_BYTES = 32;
const DEFAULT_QUERIES_PER_SECOND = 20;
const FATAL_END_GRACE_MS = 1000;
/** Scheduling guess when a peer never answered a ping. */
const UNKNOWN_PATH: PathDelay = { rttMs: 100, rttVarMs: 50 };

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const server = new BrokerServer(options);
  await server.listen();
  return server;
}

class BrokerServer implements Broker {
  readonly counters = new Counters<BrokerCounter>();
  readonly #options: Required<Omit<BrokerOptions, 'logger' | 'relayRegistry' | 'queryToken'>>;
  readonly #queryToken: Buffer | undefined;
  readonly #logger: Logger;
  readonly #relay: RelayRegistry | undefined;
  readonly #server: net.Server;
  readonly #sessions = new Set<Session>();
  readonly #peers = new Map<string, PeerRecord>();
  readonly #dead = new Set<PeerRecord>();
  readonly #coordinations = new Map<string, Coordination>();
  readonly #queryBucket: TokenBucket;
  #sweepTimer: NodeJS.Timeout | undefined;
  #port = 0;

  constructor(options: BrokerOptions) {
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 10_000;
    const maxConnections = options.maxConnections ?? 50_000;
    this.#options = {
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
    };
    this.#queryBucket = new TokenBucket(this.#options.queriesPerSecond, Math.max(1, this.#options.queriesPerSecond), wallClock);
    this.#queryToken = options.queryToken === undefined ? undefined : Buffer.from(options.queryToken);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'broker' });
    this.#relay = options.relayRegistry;
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server.on('error', (error) => this.#logger.error({ err: error }, 'listener error'));
  }

  get host(): string {
    return this.#options.host;
  }

  get port(): number {
    return this.#port;
  }

  async listen(): Promise<void> {
    this.#server.listen({ host: this.#options.host, port: this.#options.port, backlog: LISTEN_BACKLOG });
    await Promise.race([once(this.#server, 'listening'), once(this.#server, 'error').then(([error]) => { throw error; })]);
    this.#port = (this.#server.address() as net.AddressInfo).port;
    this.#sweepTimer = setInterval(() => this.#sweep(), this.#options.sweepIntervalMs);
    this.#sweepTimer.unref();
    this.#logger.info({ host: this.#options.host, port: this.#port, version: PROTOCOL_VERSION }, 'broker listening');
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const session of this.#sessions) session.socket.destroy();
    await closed;
    this.#logger.info({ port: this.#port }, 'broker closed');
  }

  query(options: { id?: string; after?: string; limit?: number } = {}): BrokerQueryResult {
    const limit = options.limit ?? DEFAULT_QUERY_LIMIT;
    const peers: PeerInfo[] = [];
    let next: string | undefined;
    if (options.id !== undefined) {
      const record = this.#peers.get(options.id);
      if (record) peers.push(this.#peerInfo(record));
    } else {
      let skipping = options.after !== undefined;
      for (const record of this.#peers.values()) {
        if (skipping) {
          skipping = record.id !== options.after;
          continue;
        }
        if (peers.length === limit) {
          next = peers[peers.length - 1]!.id;
          break;
        }
        peers.push(this.#peerInfo(record));
      }
    }
    const counts = { connections: this.#sessions.size, probe: 0, idle: 0, busy: 0, dead: 0, coordinations: this.#coordinations.size };
    for (const session of this.#sessions) if (!session.peer) counts.probe += 1;
    for (const record of this.#peers.values()) counts[record.state] += 1;
    return { peers, ...(next === undefined ? {} : { next }), counts, counters: this.counters.snapshot() };
  }

  #peerInfo(record: PeerRecord): PeerInfo {
    return {
      id: record.id,
      state: record.state,
      observed: record.observed,
      profile: record.profileJson === null ? null : (JSON.parse(record.profileJson) as Record<string, unknown>),
      transports: record.transports,
      registeredAt: record.registeredAt,
      rttMs: record.rtt.srttMs === undefined ? null : roundTenth(record.rtt.srttMs),
      coordinations: record.coordinationCount,
    };
  }

  // ---- connections and frames ------------------------------------------------------------

  #accept(socket: net.Socket): void {
    const observed = observedAddress(socket);
    if (this.#sessions.size >= this.#options.maxConnections || !observed) {
      this.counters.increment('connections-refused');
      socket.on('error', (error) => this.#logger.debug({ err: error }, 'refused socket error'));
      endGracefully(socket, encodeFrame(errorReply(new LimitError('the broker is at its connection limit'), undefined, true)));
      return;
    }
    this.counters.increment('connections-accepted');
    const session = new Session(socket, observed, {
      maxFrameBytes: this.#options.maxFrameBytes,
      ratePerSecond: this.#options.messagesPerSecond,
      burst: this.#options.messageBurst,
    }, Date.now());
    this.#sessions.add(session);
    socket.on('data', (chunk: Buffer) => this.#onData(session, chunk));
    socket.on('error', (error) => this.#logger.debug({ err: error, remote: observed }, 'socket error'));
    socket.on('close', () => this.#onClose(session));
  }

  #onData(session: Session, chunk: Buffer): void {
    if (session.closing) return;
    let bodies: Buffer[];
    try {
      bodies = session.decoder.push(chunk);
    } catch (error) {
      this.counters.increment(error instanceof BrokerError && error.code === 'ERR_FRAME_TOO_LARGE' ? 'frames-too-large' : 'bad-messages');
      this.#fail(session, error as BrokerError);
      return;
    }
    const now = Date.now();
    session.lastHeardAt = now;
    for (const body of bodies) {
      if (session.closing) return;
      if (!session.bucket.tryTake(1, now)) {
        this.#overRate(session);
        continue;
      }
      session.droppedByRate = 0;
      this.#onFrame(session, body, now);
    }
  }

  /** Over-rate messages are dropped; the first gets an error, a sustained flood a close. */
  #overRate(session: Session): void {
    session.droppedByRate += 1;
    this.counters.increment('rate-limited');
    if (session.droppedByRate === 1) {
      this.#send(session, errorReply(new RateLimitError(`more than ${this.#options.messagesPerSecond} messages/s: dropped`)));
    } else if (session.droppedByRate > this.#options.messageBurst) {
      this.counters.increment('floods-closed');
      this.#fail(session, new RateLimitError('message flood: closing'));
    }
  }

  #onFrame(session: Session, body: Buffer, now: number): void {
    let raw: unknown;
    try {
      raw = parseFrameBody(body);
    } catch (error) {
      this.counters.increment('bad-messages');
      this.#fail(session, error as BrokerError);
      return;
    }
    if (!session.helloDone) {
      this.#onHello(session, raw);
      return;
    }
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) {
      this.counters.increment('bad-messages');
      this.#send(session, errorReply(invalidMessageError(raw, parsed.error), requestIdOf(raw)));
      return;
    }
    const message = parsed.data;
    switch (message.type) {
      case 'hello':
        this.#send(session, errorReply(new BadMessageError('hello was already received')));
        return;
      case 'register':
        this.#onRegister(session, message, now);
        return;
      case 'ping':
        this.#send(session, { type: 'pong', seq: message.seq });
        return;
      case 'pong':
        this.#onPong(session, message.seq, now);
        return;
      case 'connect':
        this.#onConnect(session, message).catch((error: unknown) => {
          this.counters.increment('connect-errors');
          this.#logger.error({ err: error }, 'connect handler failed');
          this.#send(session, errorReply(new BrokerError('ERR_FAIL', 'internal broker error'), message.requestId));
        });
        return;
      case 'signal':
        this.#onSignal(session, message);
        return;
      case 'done':
        this.#onDone(session, message);
        return;
      case 'deregister':
        this.#onDeregister(session);
        return;
      case 'query':
        this.#onQuery(session, message);
        return;
    }
  }

  #onHello(session: Session, raw: unknown): void {
    const hello = raw as { type?: unknown; version?: unknown };
    if (typeof raw !== 'object' || raw === null || hello.type !== 'hello' || typeof hello.version !== 'number') {
      this.counters.increment('bad-messages');
      this.#fail(session, new BadMessageError('the first message must be hello { version }'));
      return;
    }
    if (!SUPPORTED_VERSIONS.includes(hello.version)) {
      this.counters.increment('versions-refused');
      this.#logger.info({ remote: session.observed, version: hello.version }, 'version refused');
      this.#fail(session, new VersionError(hello.version, SUPPORTED_VERSIONS));
      return;
    }
    session.helloDone = true;
    this.#send(session, {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      observed: session.observed,
      limits: {
        maxFrameBytes: this.#options.maxFrameBytes,
        maxIdBytes: MAX_ID_BYTES,
        maxProfileBytes: MAX_PROFILE_BYTES,
        maxSignalBytes: MAX_SIGNAL_BYTES,
      },
    });
  }

  // ---- registration (XSTUNT's log service) -------------------------------------------------

  #onRegister(session: Session, message: z.infer<typeof Register>, now: number): void {
    if (session.peer) {
      this.#send(session, errorReply(new BadMessageError(`already registered as ${JSON.stringify(session.peer.id)}`)));
      return;
    }
    const existing = this.#peers.get(message.id);
    const profileJson = message.profile ? JSON.stringify(message.profile) : null;
    const reflexive = reflexiveCandidates(message.profile ?? null);
    if (existing) {
      if (!tokenMatches(existing.reclaimToken, message.reclaimToken)) {
        this.counters.increment('duplicates-refused');
        this.#logger.info({ id: message.id, remote: session.observed }, 'duplicate id refused');
        this.#send(session, errorReply(new DuplicateIdError(message.id)));
        return;
      }
      this.#reclaim(existing, session, { profileJson, reflexive, message });
      return;
    }
    if (this.#peers.size >= this.#options.maxPeers) {
      this.counters.increment('registrations-refused');
      this.#logger.warn({ id: message.id, peers: this.#peers.size }, 'peer table full: registration refused');
      this.#send(session, errorReply(new LimitError(`the broker holds its maximum of ${this.#options.maxPeers} ids`)));
      return;
    }
    const record = new PeerRecord({
      id: message.id, session, profileJson, reflexive, privateAddresses: message.privateAddresses,
      transports: message.transports, reclaimToken: randomBytes(RECLAIM_TOKEN_BYTES), now,
    });
    this.#peers.set(record.id, record);
    session.peer = record;
    this.counters.increment('registrations');
    this.#logger.info({ id: record.id, observed: record.observed, transports: record.transports, nat: natSummary(message.profile) }, 'registered');
    this.#sendRegistered(session, record, false);
  }

  #reclaim(record: PeerRecord, session: Session, update: { profileJson: string | null; reflexive: Candidate[]; message: z.infer<typeof Register> }): void {
    const previous = record.session;
    if (previous) {
      // The owner came back on a new connection before we noticed the old one die.
      previous.peer = undefined;
      previous.closing = true;
      previous.socket.destroy();
    }
    this.#dead.delete(record);
    record.deadAt = 0;
    record.session = session;
    record.observed = session.observed;
    record.profileJson = update.profileJson;
    record.reflexive = update.reflexive;
    record.privateAddresses = update.message.privateAddresses;
    record.transports = update.message.transports;
    session.peer = record;
    this.counters.increment('reclaims');
    this.#logger.info({ id: record.id, observed: record.observed }, 'id reclaimed after reconnect');
    this.#sendRegistered(session, record, true);
  }

  #sendRegistered(session: Session, record: PeerRecord, reclaimed: boolean): void {
    this.#send(session, {
      type: 'registered', id: record.id, reclaimToken: record.reclaimToken.toString('base64url'), reclaimed, observed: record.observed,
    });
    this.#ping(session, Date.now());
  }

  #onDeregister(session: Session): void {
    const record = session.peer;
    if (record) {
      this.#forget(record);
      session.peer = undefined;
      this.counters.increment('deregistrations');
      this.#logger.info({ id: record.id }, 'deregistered');
    }
    session.closing = true;
    endGracefully(session.socket, encodeFrame({ type: 'deregistered' }));
  }

  #onClose(session: Session): void {
    this.#sessions.delete(session);
    session.closing = true;
    for (const wake of session.pongWaiters ?? []) wake();
    session.pongWaiters = undefined;
    const record = session.peer;
    if (record && record.session === session) this.#markDead(record, 'connection closed');
  }

  #markDead(record: PeerRecord, reason: string): void {
    const session = record.session;
    record.session = undefined;
    record.deadAt = Date.now();
    this.#dead.add(record);
    this.counters.increment('deaths');
    this.#logger.info({ id: record.id, reason }, 'peer dead');
    if (session) {
      session.peer = undefined;
      session.socket.destroy();
    }
  }

  #forget(record: PeerRecord): void {
    for (const connectionId of record.coordinations ?? []) this.#endCoordination(connectionId);
    this.#peers.delete(record.id);
    this.#dead.delete(record);
  }

  // ---- heartbeats and RTT ----------------------------------------------------------------

  #ping(session: Session, now: number): void {
    session.pingSeq += 1;
    session.pingSentAt = now;
    session.lastPingAt = now;
    this.counters.increment('pings-sent');
    this.#send(session, { type: 'ping', seq: session.pingSeq });
  }

  #onPong(session: Session, seq: number, now: number): void {
    if (seq !== session.pingSeq || session.pingSentAt === 0) return;
    session.peer?.rtt.sample(now - session.pingSentAt, now);
    session.pingSentAt = 0;
    const waiters = session.pongWaiters;
    session.pongWaiters = undefined;
    for (const wake of waiters ?? []) wake();
  }

  /** Resolves after a fresh RTT sample arrives, or after the probe timeout. */
  #refreshRtt(record: PeerRecord): Promise<void> {
    const session = record.session;
    const now = Date.now();
    if (!session || record.rtt.isFresh(now, this.#options.rttMaxAgeMs)) return Promise.resolve();
    if (session.pingSentAt === 0) this.#ping(session, now);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      // A peer that never answers pings must not collect one waiter per connect aimed at it.
      const timer = setTimeout(() => {
        const index = session.pongWaiters?.indexOf(wake) ?? -1;
        if (index !== -1) session.pongWaiters!.splice(index, 1);
        resolve();
      }, this.#options.rttProbeTimeoutMs);
      (session.pongWaiters ??= []).push(wake);
    });
  }

  #sweep(): void {
    const now = Date.now();
    const silentLimit = this.#options.heartbeatIntervalMs * this.#options.missedHeartbeats;
    for (const session of this.#sessions) {
      if (session.closing) continue;
      if (!session.peer) {
        if (now - session.connectedAt > this.#options.registrationTimeoutMs) {
          this.counters.increment('registration-timeouts');
          this.#fail(session, new BrokerError('ERR_TIMEOUT', 'no registration within the registration timeout'));
        }
      } else if (now - session.lastHeardAt > silentLimit) {
        this.#markDead(session.peer, 'missed heartbeats');
      } else if (now - session.lastPingAt >= this.#options.heartbeatIntervalMs) {
        this.#ping(session, now);
      }
    }
    for (const record of this.#dead) {
      if (now - record.deadAt <= this.#options.purgeAfterMs) continue;
      this.#forget(record);
      this.counters.increment('purged');
    }
    // Insertion order is creation order and the TTL is fixed, so expired entries come first.
    for (const coordination of this.#coordinations.values()) {
      if (coordination.expiresAt > now) break;
      this.counters.increment('coordinations-expired');
      this.#endCoordination(coordination.id);
    }
  }

  // ---- connect requests (XSTUNT's communication + control services) -----------------------

  async #onConnect(session: Session, message: z.infer<typeof Connect>): Promise<void> {
    const initiator = session.peer;
    const refuse = (error: BrokerError): void => {
      this.counters.increment('connect-errors');
      this.#logger.info({ from: initiator?.id, to: message.peerId, code: error.code, reason: error.message }, 'connect refused');
      this.#send(session, errorReply(error, message.requestId));
    };
    if (!initiator) return refuse(new NotRegisteredError());
    const problem = this.#matchProblem(initiator, message.peerId, message.transport);
    if (problem) return refuse(problem);
    const responder = this.#peers.get(message.peerId)!;
    if (this.#coordinations.size >= this.#options.maxPendingCoordinations) return refuse(new LimitError('too many coordinations in progress'));
    for (const record of [initiator, responder]) {
      if (record.coordinationCount >= this.#options.maxCoordinationsPerPeer) return refuse(new BusyError(record.id));
    }

    // 1. Reserve both peers (busy) so limits hold while we wait for RTTs and the relay.
    const coordination: Coordination = {
      id: randomBytes(CONNECTION_ID_BYTES).toString('base64url'), initiator, responder, transport: message.transport,
      expiresAt: Date.now() + this.#options.coordinationTtlMs, signals: 0,
    };
    this.#coordinations.set(coordination.id, coordination);
    initiator.addCoordination(coordination.id);
    responder.addCoordination(coordination.id);

    // 2. Fresh one-way delays for both, and a relay session when asked for.
    const [, relay] = await Promise.all([
      Promise.all([this.#refreshRtt(initiator), this.#refreshRtt(responder)]),
      message.relay ? this.#relaySession() : Promise.resolve(undefined),
    ]);
    if (!this.#coordinations.has(coordination.id)) {
      this.#cancelRelaySession(relay);
      return refuse(new MatchError(message.peerId, 'dead'));
    }
    const again = this.#matchProblem(initiator, message.peerId, message.transport);
    if (again || initiator.session !== session) {
      this.#endCoordination(coordination.id);
      this.#cancelRelaySession(relay);
      return refuse(again ?? new MatchError(message.peerId, 'dead'));
    }

    // 3. Schedule both first packets to cross, then tell both sides at once.
    const plan = planStart(pathDelay(initiator), pathDelay(responder), { minMarginMs: this.#options.startMarginMs });
    const sameNat = initiator.observed.address === responder.observed.address;
    const secret = randomBytes(SECRET_BYTES).toString('base64');
    const common = { connectionId: coordination.id, transport: coordination.transport, sameNat, secret, expiresInMs: this.#options.coordinationTtlMs };
    this.#send(responder.session!, {
      type: 'coordinate', ...common, role: 'responder', peer: peerView(initiator), candidates: candidatesOf(initiator, sameNat),
      startInMs: plan.responderStartInMs, rttMs: pathDelay(responder).rttMs,
      ...(relay ? { relay: { id: relay.id, token: relay.tokens[1], endpoints: relay.endpoints } } : {}),
    }, initiator.profileJson);
    this.#send(session, {
      type: 'coordinate', ...common, requestId: message.requestId, role: 'initiator', peer: peerView(responder),
      candidates: candidatesOf(responder, sameNat), startInMs: plan.initiatorStartInMs, rttMs: pathDelay(initiator).rttMs,
      ...(relay ? { relay: { id: relay.id, token: relay.tokens[0], endpoints: relay.endpoints } } : {}),
    }, responder.profileJson);
    this.counters.increment('coordinations');
    this.#logger.info({
      connectionId: coordination.id, initiator: initiator.id, responder: responder.id, transport: coordination.transport,
      sameNat, startAfterSendMs: plan.startAfterSendMs, relay: relay !== undefined,
    }, 'coordinated');
  }

  #matchProblem(initiator: PeerRecord, peerId: string, transport: Transport): BrokerError | undefined {
    if (peerId === initiator.id) return new MatchError(peerId, 'self');
    const responder = this.#peers.get(peerId);
    if (!responder) return new MatchError(peerId, 'unknown');
    if (!responder.session) return new MatchError(peerId, 'dead');
    if (!responder.transports.includes(transport)) return new MatchError(peerId, 'transport');
    return undefined;
  }

  async #relaySession(): Promise<{ id: string; tokens: [string, string]; endpoints: unknown } | undefined> {
    if (!this.#relay) return undefined;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    let creating: ReturnType<RelayRegistry['createSession']> | undefined;
    try {
      creating = this.#relay.createSession();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new BrokerError('ERR_TIMEOUT', 'relay registry did not answer in time'));
        }, this.#options.relayTimeoutMs);
      });
      const session = await Promise.race([creating, timeout]);
      this.counters.increment('relay-sessions');
      return session;
    } catch (error) {
      this.counters.increment('relay-failures');
      this.#logger.warn({ err: error }, 'relay session unavailable: coordinating without it');
      // a session created after we gave up would otherwise hold relay capacity until its tokens expire
      if (timedOut) {
        creating!.then(
          (late) => this.#cancelRelaySession(late),
          (lateError: unknown) => this.#logger.debug({ err: lateError }, 'relay registry failed after its timeout'),
        );
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Gives back a relay session whose tokens no peer received. */
  #cancelRelaySession(relay: { id: string } | undefined): void {
    if (!relay || !this.#relay) return;
    try {
      this.#relay.cancelSession(relay.id);
    } catch (error) {
      this.#logger.warn({ err: error, relaySession: relay.id }, 'relay registry could not cancel a session: it lasts until its tokens expire');
    }
  }

  #endCoordination(connectionId: string): Coordination | undefined {
    const coordination = this.#coordinations.get(connectionId);
    if (!coordination) return undefined;
    this.#coordinations.delete(connectionId);
    coordination.initiator.removeCoordination(connectionId);
    coordination.responder.removeCoordination(connectionId);
    return coordination;
  }

  #involving(session: Session, connectionId: string): Coordination | undefined {
    const coordination = this.#coordinations.get(connectionId);
    const record = session.peer;
    if (!coordination || !record) return undefined;
    return coordination.initiator === record || coordination.responder === record ? coordination : undefined;
  }

  #onSignal(session: Session, message: z.infer<typeof SignalOut>): void {
    if (!session.peer) return this.#send(session, errorReply(new NotRegisteredError()));
    const coordination = this.#involving(session, message.connectionId);
    if (!coordination) return this.#send(session, errorReply(new UnknownConnectionError(message.connectionId)));
    if (coordination.signals >= this.#options.maxSignalsPerCoordination) {
      this.counters.increment('rate-limited');
      return this.#send(session, errorReply(new RateLimitError(`at most ${this.#options.maxSignalsPerCoordination} signals per connection`)));
    }
    const other = coordination.initiator === session.peer ? coordination.responder : coordination.initiator;
    if (!other.session) return this.#send(session, errorReply(new MatchError(other.id, 'dead')));
    coordination.signals += 1;
    this.counters.increment('signals-relayed');
    this.#send(other.session, { type: 'signal', connectionId: coordination.id, from: session.peer.id, payload: message.payload });
  }

  #onDone(session: Session, message: z.infer<typeof Done>): void {
    const coordination = this.#involving(session, message.connectionId);
    if (!coordination) return;
    this.#endCoordination(coordination.id);
    this.counters.increment(message.outcome === 'connected' ? 'outcomes-connected' : 'outcomes-failed');
    this.#logger.info({
      connectionId: coordination.id, reporter: session.peer?.id, initiator: coordination.initiator.id,
      responder: coordination.responder.id, outcome: message.outcome, method: message.method,
    }, 'connection outcome');
  }

  #onQuery(session: Session, message: z.infer<typeof Query>): void {
    if (this.#queryToken && !tokenMatches(this.#queryToken, message.token, 'utf8')) {
      this.#send(session, errorReply(new UnauthorizedError(), message.requestId));
      return;
    }
    if (!this.#queryBucket.tryTake()) {
      this.counters.increment('rate-limited');
      this.#send(session, errorReply(new RateLimitError(`more than ${this.#options.queriesPerSecond} management queries/s: try again`), message.requestId));
      return;
    }
    this.counters.increment('queries');
    const result = this.query({
      ...(message.id === undefined ? {} : { id: message.id }),
      ...(message.after === undefined ? {} : { after: message.after }),
      ...(message.limit === undefined ? {} : { limit: message.limit }),
    });
    this.#send(session, { type: 'query-result', requestId: message.requestId, ...result });
  }

  // ---- output ----------------------------------------------------------------------------

  /** `rawProfile`: the JSON text that replaces a RAW_JSON marker in the message (see peerView). */
  #send(session: Session, message: BrokerMessage, rawProfile?: string | null): void {
    if (session.socket.destroyed) return;
    if (session.socket.writableLength > this.#options.maxWriteBufferBytes) {
      this.counters.increment('slow-consumers-closed');
      this.#logger.warn({ remote: session.observed, id: session.peer?.id }, 'client does not read: closing');
      session.socket.destroy();
      return;
    }
    session.socket.write(typeof rawProfile === 'string' ? encodeFrameWithRawJson(message, rawProfile) : encodeFrame(message));
  }

  /** Tells the client why, then closes: bad input never takes the broker down. */
  #fail(session: Session, error: BrokerError): void {
    if (session.closing) return;
    session.closing = true;
    this.#logger.info({ remote: session.observed, id: session.peer?.id, code: error.code, reason: error.message }, 'closing connection');
    endGracefully(session.socket, encodeFrame(errorReply(error, undefined, true)));
  }
}

/**
 * Sends a last frame and half-closes. A closing session is skipped by the sweep, so a peer that
 * never closes its side, or keeps sending (which would reset an idle timeout), is cut by a plain
 * timer instead: a closing connection cannot hold a connection slot.
 */
function endGracefully(socket: net.Socket, lastFrame: Buffer): void {
  if (socket.destroyed) return;
  socket.end(lastFrame);
  const timer = setTimeout(() => socket.destroy(), FATAL_END_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function errorReply(error: BrokerError, requestId?: string, fatal?: boolean): BrokerMessage {
  return {
    type: 'error', code: error.code, message: error.message,
    ...(requestId === undefined ? {} : { requestId }),
    ...(fatal ? { fatal } : {}),
    ...(error.details ? { details: error.details } : {}),
  };
}

/** Invalid ids get their own code; anything else is a bad message with zod's first complaint. */
function invalidMessageError(raw: unknown, error: z.ZodError): BrokerError {
  const issue = error.issues[0];
  const field = issue?.path[0];
  const type = (raw as { type?: unknown } | null)?.type;
  if ((field === 'id' || field === 'peerId' || field === 'after') && issue) return new InvalidIdError(issue.message);
  return new BadMessageError(`invalid ${typeof type === 'string' ? type.slice(0, 32) : 'message'}: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown'}`);
}

function requestIdOf(raw: unknown): string | undefined {
  const requestId = (raw as { requestId?: unknown } | null)?.requestId;
  return typeof requestId === 'string' && requestId.length > 0 && requestId.length <= 64 ? requestId : undefined;
}

function tokenMatches(expected: Buffer, given: string | undefined, encoding: BufferEncoding = 'base64url'): boolean {
  if (given === undefined) return false;
  const candidate = Buffer.from(given, encoding);
  return candidate.length === expected.length && timingSafeEqual(candidate, expected);
}

function observedAddress(socket: net.Socket): TransportAddress | undefined {
  const address = socket.remoteAddress;
  const port = socket.remotePort;
  if (address === undefined || port === undefined) return undefined;
  // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; peers compare plain IPv4.
  if (address.startsWith('::ffff:') && net.isIPv4(address.slice(7))) return { family: 'IPv4', address: address.slice(7), port };
  return { family: net.isIPv6(address) ? 'IPv6' : 'IPv4', address, port };
}

function pathDelay(record: PeerRecord): PathDelay {
  if (record.rtt.srttMs === undefined) return UNKNOWN_PATH;
  return { rttMs: roundTenth(record.rtt.srttMs), rttVarMs: record.rtt.rttVarMs };
}

/** The stored profile text is spliced into the frame by #send instead of being parsed again. */
function peerView(record: PeerRecord) {
  return {
    id: record.id,
    observed: record.observed,
    profile: record.profileJson === null ? null : (RAW_JSON as unknown as Record<string, unknown>),
    transports: record.transports,
  };
}

/** Same NAT: private addresses first (XSTUNT left this to the caller as ERR_SAME_NAT). */
function candidatesOf(record: PeerRecord, sameNat: boolean): Candidate[] {
  const candidates: Candidate[] = [];
  if (sameNat) {
    for (const host of record.privateAddresses) candidates.push({ source: 'private', address: host.address, ...(host.port ? { port: host.port } : {}) });
  }
  candidates.push(...record.reflexive);
  candidates.push({ source: 'broker-observed', address: record.observed.address, port: record.observed.port });
  return candidates;
}

function natSummary(profile: Record<string, unknown> | null | undefined): unknown {
  const udp = profile?.udp as { rfc3489Type?: unknown } | undefined;
  const tcp = profile?.tcp as { kind?: unknown } | undefined;
  return profile ? { udp: udp?.rfc3489Type, tcp: tcp?.kind } : undefined;
}

/** RTTs are reported to a tenth of a millisecond: finer digits are noise. */
function roundTenth(ms: number): number {
  return Math.round(ms * 10) / 10;
}
