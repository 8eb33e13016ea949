import net from 'node:net';
import type tls from 'node:tls';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { Counters } from '../observe/counters.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import {
  BROKER_FEATURES, ClientMessage, Connect, MAX_ID_BYTES, MAX_PROFILE_BYTES, MAX_SIGNAL_BYTES, PROTOCOL_VERSION, SUPPORTED_VERSIONS,
  type BrokerMessage, type PunchPort, type Transport, type TransportAddress, Query, SignalOut, Done, PunchPortOut,
} from './protocol.js';
import {
  BadMessageError, BrokerError, BusyError, LimitError, MatchError,
  NotRegisteredError, RateLimitError, UnauthorizedError, UnknownConnectionError, VersionError,
} from './errors.js';
import { encodeFrame, encodeFrameWithRawJson, parseFrameBody } from './framing.js';
import { PeerRecord, Session } from './peer-record.js';
import { planStart } from './schedule.js';
import { TokenBucket } from '../util/token-bucket.js';
import { wallClock } from '../util/clock.js';
import { CoordinationTable, type Coordination } from './coordination-table.js';
import { candidatesOf, pathDelay, peerView, queryPeers, type QueryOptions } from './peer-views.js';
import { observedAddress, tokenMatches } from './peer-identity.js';
import { RelaySessions } from './relay-sessions.js';
import { endGracefully, errorReply, invalidMessageError, requestIdOf, type SendMessage } from './replies.js';
import { Heartbeats } from './heartbeats.js';
import { PeerTable } from './peer-table.js';
import { acceptTls, brokerSecureContext } from './tls-accept.js';
import {
  resolveBrokerOptions, type Broker, type BrokerCounter, type BrokerOptions, type BrokerQueryResult, type ResolvedBrokerOptions,
} from './server-options.js';

export type { Broker, BrokerCounter, BrokerOptions, BrokerQueryResult, BrokerTlsServerOptions, RelayRegistry } from './server-options.js';

/** Pending connections the kernel queues: registration storms after a broker restart arrive at once. */
const LISTEN_BACKLOG = 4096;
/** 96-bit connection ids, 256-bit per-connection secrets. */
const CONNECTION_ID_BYTES = 12;
const SECRET_BYTES = 32;

/** The coordinate's `punchPorts` for `receiver`: only for TCP, only the ports the broker holds. */
function punchPortsFor(transport: Transport, receiver: PeerRecord, partner: PeerRecord): { punchPorts?: { own?: PunchPort; peer?: PunchPort } } {
  if (transport !== 'tcp' || (receiver.tcpPunchPort === undefined && partner.tcpPunchPort === undefined)) return {};
  return {
    punchPorts: {
      ...(receiver.tcpPunchPort ? { own: receiver.tcpPunchPort } : {}),
      ...(partner.tcpPunchPort ? { peer: partner.tcpPunchPort } : {}),
    },
  };
}

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const server = new BrokerServer(options);
  await server.listen();
  return server;
}

class BrokerServer implements Broker {
  readonly counters = new Counters<BrokerCounter>();
  readonly #options: ResolvedBrokerOptions;
  readonly #queryToken: Buffer | undefined;
  /** Set when the broker serves TLS. */
  readonly #tls: tls.SecureContext | undefined;
  readonly #logger: Logger;
  readonly #relay: RelaySessions;
  readonly #server: net.Server;
  readonly #sessions = new Set<Session>();
  readonly #peers: PeerTable;
  readonly #heartbeats: Heartbeats;
  readonly #coordinations = new CoordinationTable();
  readonly #queryBucket: TokenBucket;
  #sweepTimer: NodeJS.Timeout | undefined;
  #port = 0;

  constructor(options: BrokerOptions) {
    this.#options = resolveBrokerOptions(options);
    this.#queryBucket = new TokenBucket(this.#options.queriesPerSecond, Math.max(1, this.#options.queriesPerSecond), wallClock);
    this.#queryToken = options.queryToken === undefined ? undefined : Buffer.from(options.queryToken);
    this.#tls = options.tls === undefined ? undefined : brokerSecureContext(options.tls);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'broker' });
    this.#relay = new RelaySessions(options.relayRegistry, this.#options.relayTimeoutMs, this.counters, this.#logger);
    const send: SendMessage = (session, message, rawProfile) => this.#send(session, message, rawProfile);
    this.#heartbeats = new Heartbeats({
      send, counters: this.counters, rttMaxAgeMs: this.#options.rttMaxAgeMs, rttProbeTimeoutMs: this.#options.rttProbeTimeoutMs,
    });
    this.#peers = new PeerTable({
      send, ping: (session, now) => this.#heartbeats.ping(session, now), endCoordination: (id) => this.#coordinations.end(id),
      counters: this.counters, logger: this.#logger, maxPeers: this.#options.maxPeers, purgeAfterMs: this.#options.purgeAfterMs,
    });
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
    this.#logger.info({ host: this.#options.host, port: this.#port, version: PROTOCOL_VERSION, tls: this.#tls !== undefined }, 'broker listening');
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const session of this.#sessions) session.socket.destroy();
    await closed;
    this.#logger.info({ port: this.#port }, 'broker closed');
  }

  query(options: QueryOptions = {}): BrokerQueryResult {
    return queryPeers({ peers: this.#peers.records, sessions: this.#sessions, coordinations: this.#coordinations.size, counters: this.counters }, options);
  }

  // ---- connections and frames ------------------------------------------------------------

  #accept(tcp: net.Socket): void {
    const observed = observedAddress(tcp);
    // A refusal goes over TLS too: a TLS client could not read a plaintext error frame.
    const socket = this.#tls ? this.#acceptTls(tcp, this.#tls, observed) : tcp;
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

  #acceptTls(tcp: net.Socket, context: tls.SecureContext, remote: TransportAddress | undefined): tls.TLSSocket {
    return acceptTls(tcp, context, this.#options.tlsHandshakeTimeoutMs, {
      onTimeout: () => {
        this.counters.increment('tls-handshake-timeouts');
        this.#logger.info({ remote }, 'TLS handshake timed out: closing');
      },
      onFailure: (error) => {
        this.counters.increment('tls-handshake-failures');
        this.#logger.info({ remote, reason: error?.message ?? 'closed during the handshake' }, 'TLS handshake failed');
      },
    });
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
        this.#peers.register(session, message, now);
        return;
      case 'ping':
        this.#send(session, { type: 'pong', seq: message.seq });
        return;
      case 'pong':
        this.#heartbeats.onPong(session, message.seq, now);
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
        this.#peers.deregister(session);
        return;
      case 'query':
        this.#onQuery(session, message);
        return;
      case 'punch-port':
        this.#onPunchPort(session, message);
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
      features: [...BROKER_FEATURES],
    });
  }

  #onClose(session: Session): void {
    this.#sessions.delete(session);
    session.closing = true;
    this.#heartbeats.release(session);
    const record = session.peer;
    if (record && record.session === session) this.#peers.markDead(record, 'connection closed');
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
        this.#peers.markDead(session.peer, 'missed heartbeats');
      } else if (now - session.lastPingAt >= this.#options.heartbeatIntervalMs) {
        this.#heartbeats.ping(session, now);
      }
    }
    this.#peers.purge(now);
    const expired = this.#coordinations.expire(now);
    if (expired > 0) this.counters.increment('coordinations-expired', expired);
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
    this.#coordinations.add(coordination);

    // 2. Fresh one-way delays for both, and a relay session when asked for.
    const [, relay] = await Promise.all([
      Promise.all([this.#heartbeats.refreshRtt(initiator), this.#heartbeats.refreshRtt(responder)]),
      message.relay ? this.#relay.create() : Promise.resolve(undefined),
    ]);
    if (!this.#coordinations.has(coordination.id)) {
      this.#relay.cancel(relay);
      return refuse(new MatchError(message.peerId, 'dead'));
    }
    const again = this.#matchProblem(initiator, message.peerId, message.transport);
    if (again || initiator.session !== session) {
      this.#coordinations.end(coordination.id);
      this.#relay.cancel(relay);
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
      ...punchPortsFor(coordination.transport, responder, initiator),
    }, initiator.profileJson);
    this.#send(session, {
      type: 'coordinate', ...common, requestId: message.requestId, role: 'initiator', peer: peerView(responder),
      candidates: candidatesOf(responder, sameNat), startInMs: plan.initiatorStartInMs, rttMs: pathDelay(initiator).rttMs,
      ...(relay ? { relay: { id: relay.id, token: relay.tokens[0], endpoints: relay.endpoints } } : {}),
      ...punchPortsFor(coordination.transport, initiator, responder),
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

  #onSignal(session: Session, message: z.infer<typeof SignalOut>): void {
    if (!session.peer) return this.#send(session, errorReply(new NotRegisteredError()));
    const coordination = this.#coordinations.involving(session.peer, message.connectionId);
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
    const coordination = this.#coordinations.involving(session.peer, message.connectionId);
    if (!coordination) return;
    this.#coordinations.end(coordination.id);
    this.counters.increment(message.outcome === 'connected' ? 'outcomes-connected' : 'outcomes-failed');
    this.#logger.info({
      connectionId: coordination.id, reporter: session.peer?.id, initiator: coordination.initiator.id,
      responder: coordination.responder.id, outcome: message.outcome, method: message.method,
    }, 'connection outcome');
  }

  #onPunchPort(session: Session, message: z.infer<typeof PunchPortOut>): void {
    if (!session.peer) return this.#send(session, errorReply(new NotRegisteredError()));
    session.peer.tcpPunchPort = message.tcp ?? undefined;
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

