import { EventEmitter } from 'node:events';
import { AbortedError, InvalidArgumentError, TimeoutError } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import {
  DEFAULT_BROKER_PORT, FEATURE_PUNCH_PORT, SignalPayload, peerIdProblem, type BrokerMessage, type Candidate, type CandidateAddress,
  type NatProfileJson, type PunchPort, type QueryResult, type RelayInfo, type Role, type Transport, type TransportAddress,
} from './protocol.js';
import {
  BrokerError, ClientClosedError, DisconnectedError, InvalidIdError, errorFromReply,
} from './errors.js';
import { BrokerLink, DEFAULT_CLIENT_MAX_FRAME_BYTES, type BrokerTlsOptions } from './link.js';

export interface BrokerClientOptions {
  /** Broker host name or address. */
  host: string;
  /** @default 8123 */
  port?: number;
  /** The id to register: non-empty, at most 64 bytes of UTF-8, no control characters. */
  id: string;
  /** The NatProfile from discovery (opaque to the broker, at most 16 KiB of JSON). @default null */
  profile?: NatProfileJson | null;
  /** Host candidates handed to peers behind the same NAT. @default [] */
  privateAddresses?: CandidateAddress[];
  /** @default ['udp', 'tcp'] */
  transports?: Transport[];
  /** Source address for the broker connection. @default undefined (the kernel picks) */
  localAddress?: string;
  /**
   * Connect over TLS (a broker started with `tls`), so the secrets and relay tokens it hands out
   * cannot be read or forged on the path; `true` verifies against Node's root CAs. Reconnects use it too.
   * @default false (plain TCP)
   */
  tls?: boolean | BrokerTlsOptions;
  /** Per attempt: TCP connect + hello + register. @default 5000 */
  connectTimeoutMs?: number;
  /** Default deadline of requestConnect and query. @default 10000 */
  requestTimeoutMs?: number;
  /** Reconnect and re-register (same id, by reclaim token) when the connection drops. @default true */
  reconnect?: boolean;
  /** First reconnect delay, doubled per failure with ±20% jitter. @default 250 */
  reconnectInitialDelayMs?: number;
  /** @default 10000 */
  reconnectMaxDelayMs?: number;
  /** The broker is considered gone after this many silent heartbeat intervals. @default 3 */
  missedHeartbeats?: number;
  /** Largest frame accepted from the broker. @default 4194304 */
  maxFrameBytes?: number;
  /** Aborts the initial connect and registration. */
  signal?: AbortSignal;
  logger?: Logger;
}

/** What both peers of one connection receive from the broker (the initiator from requestConnect). */
export interface Coordination {
  connectionId: string;
  role: Role;
  transport: Transport;
  peer: { id: string; observed: TransportAddress; profile: NatProfileJson | null; transports: Transport[] };
  /** Where to reach the peer, private addresses first when both are behind the same NAT. */
  candidates: Candidate[];
  sameNat: boolean;
  /** 32 bytes known only to the two peers (and the broker): proves each to the other. */
  secret: Buffer;
  /** Delay from arrival to the first packet, computed by the broker from both RTTs. */
  startInMs: number;
  /** `performance.now()` on this host (monotonic) at which to send the first packet. */
  startAt: number;
  /** The broker's RTT estimate for this client. */
  rttMs: number;
  /** `performance.now()` after which the broker forgets this connection (no more signals). */
  expiresAt: number;
  relay?: RelayInfo;
  /** TCP, from a broker with the `punch-port` feature: the ready punching ports it held for this side (`own`) and the peer. */
  punchPorts?: { own?: PunchPort; peer?: PunchPort };
}

export interface SignalEvent {
  connectionId: string;
  from: string;
  payload: unknown;
}

export interface ConnectRequestOptions {
  /** @default 'udp' */
  transport?: Transport;
  /** Ask the broker for a relay session (when it has a relay registry). @default false */
  relay?: boolean;
  /** @default the client's requestTimeoutMs */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface QueryOptions {
  token?: string;
  id?: string;
  after?: string;
  limit?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type BrokerQueryReply = Omit<QueryResult, 'type' | 'requestId'>;

export interface BrokerClientEvents {
  coordination: [Coordination];
  signal: [SignalEvent];
  registered: [{ id: string; reclaimed: boolean; observed: TransportAddress }];
  disconnected: [{ error: BrokerError | undefined }];
  reconnecting: [{ attempt: number; delayMs: number; error: unknown }];
  /** Final: closed by the owner (no error) or by a refusal reconnecting cannot fix. */
  closed: [{ error: BrokerError | undefined }];
  /** A broker error that answered no request (rate limit, unknown connection for a signal, ...). */
  'broker-error': [BrokerError];
}

interface Pending {
  resolve: (message: BrokerMessage) => void;
  reject: (error: unknown) => void;
}

const DEREGISTER_GRACE_MS = 1000;
const JITTER = 0.2;
/** Refusals that another attempt with the same id and version cannot fix. */
const TERMINAL_CODES = new Set(['ERR_DUPLICATE_ID', 'ERR_VERSION', 'ERR_INVALID_ID', 'ERR_BAD_MESSAGE']);

/**
 * A peer's connection to the broker (XSTUNT's XInit / XConnect / XDeRegister, client side).
 * Create with `BrokerClient.connect`; it stays registered across broker restarts by itself.
 */
export class BrokerClient extends EventEmitter<BrokerClientEvents> {
  readonly id: string;
  readonly #options: Required<Omit<BrokerClientOptions, 'localAddress' | 'signal' | 'logger' | 'profile'>> & { localAddress: string | undefined; profile: NatProfileJson | null };
  readonly #logger: Logger;
  readonly #pending = new Map<string, Pending>();
  #link: BrokerLink | undefined;
  #reclaimToken: string | undefined;
  #observed: TransportAddress | undefined;
  #nextRequest = 0;
  #lastHeardAt = 0;
  #watchdog: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #punchPort: PunchPort | undefined;

  private constructor(options: BrokerClientOptions) {
    super();
    this.id = options.id;
    this.#options = {
      host: options.host,
      port: options.port ?? DEFAULT_BROKER_PORT,
      id: options.id,
      profile: options.profile ?? null,
      privateAddresses: options.privateAddresses ?? [],
      transports: options.transports ?? ['udp', 'tcp'],
      localAddress: options.localAddress,
      tls: options.tls ?? false,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      reconnect: options.reconnect ?? true,
      reconnectInitialDelayMs: options.reconnectInitialDelayMs ?? 250,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 10_000,
      missedHeartbeats: options.missedHeartbeats ?? 3,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_CLIENT_MAX_FRAME_BYTES,
    };
    this.#logger = (options.logger ?? silentLogger).child({ component: 'broker-client', id: options.id });
  }

  /** Connects, checks the protocol version and registers (XInit without the probing). */
  static async connect(options: BrokerClientOptions): Promise<BrokerClient> {
    const problem = peerIdProblem(options.id);
    if (problem) throw new InvalidIdError(problem);
    const client = new BrokerClient(options);
    await client.#establish(options.signal);
    return client;
  }

  /** True while registered on a live connection. */
  get connected(): boolean {
    return this.#link?.open === true && !this.#closed;
  }

  /** This client's address as the broker sees it (its public TCP mapping). */
  get observed(): TransportAddress | undefined {
    return this.#observed;
  }

  /** Asks the broker to coordinate a connection to `peerId`; both sides get the coordination. */
  async requestConnect(peerId: string, options: ConnectRequestOptions = {}): Promise<Coordination> {
    const problem = peerIdProblem(peerId);
    if (problem) throw new InvalidIdError(problem);
    const reply = await this.#request(
      (requestId) => ({ type: 'connect', requestId, peerId, transport: options.transport ?? 'udp', ...(options.relay ? { relay: true } : {}) }),
      options,
      'connect request',
    );
    if (reply.type !== 'coordinate') throw new BrokerError('ERR_BAD_MESSAGE', `unexpected ${reply.type} answering a connect request`);
    return toCoordination(reply);
  }

  /** Sends extra candidates (or anything small) to the other peer of a coordination in progress. */
  signal(connectionId: string, payload: unknown): void {
    if (!SignalPayload.safeParse(payload).success) throw new InvalidArgumentError('signal payload must be JSON, at most 2 KiB and 16 levels deep');
    this.#liveLink().send({ type: 'signal', connectionId, payload });
  }

  /**
   * The signal channel of one coordination as a small object: `send` and a subscription that
   * only sees this connection's signals (the shape the punch engines take).
   */
  channel(connectionId: string): { send(payload: object): void; onMessage(handler: (payload: object) => void): () => void } {
    return {
      send: (payload) => this.signal(connectionId, payload),
      onMessage: (handler) => {
        const listener = (event: SignalEvent): void => {
          if (event.connectionId === connectionId && typeof event.payload === 'object' && event.payload !== null) handler(event.payload);
        };
        this.on('signal', listener);
        return () => this.off('signal', listener);
      },
    };
  }

  /**
   * Tells the broker which TCP port this peer keeps ready to punch from (undefined: none now), so
   * it hands the port to the peers of later TCP coordinations. Kept across reconnects; ignored by
   * a broker without the `punch-port` feature. Returns whether the broker takes it.
   */
  advertisePunchPort(tcp: PunchPort | undefined): boolean {
    this.#punchPort = tcp;
    const link = this.#link;
    if (!link?.open || !link.features.includes(FEATURE_PUNCH_PORT)) return false;
    link.send({ type: 'punch-port', tcp: tcp ?? null });
    return true;
  }

  /** Releases a coordination early and tells the broker how it ended (it logs outcomes). */
  done(connectionId: string, outcome: 'connected' | 'failed', method?: string): void {
    this.#link?.send({ type: 'done', connectionId, outcome, ...(method ? { method: method.slice(0, 32) } : {}) });
  }

  /** Management query: peers, states, NAT profiles, counts (paged by `after`). */
  async query(options: QueryOptions = {}): Promise<BrokerQueryReply> {
    const reply = await this.#request((requestId) => queryMessage(requestId, options), options, 'query');
    if (reply.type !== 'query-result') throw new BrokerError('ERR_BAD_MESSAGE', `unexpected ${reply.type} answering a query`);
    const { type: _type, requestId: _requestId, ...result } = reply;
    return result;
  }

  /** Measures the round trip to the broker now. */
  async ping(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number> {
    const started = performance.now();
    await this.#request((requestId) => ({ type: 'ping', seq: Number(requestId) }), options, 'ping');
    return performance.now() - started;
  }

  /** Deregisters (XDeRegister) and closes; pending requests reject with ERR_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#watchdog);
    const link = this.#link;
    if (link?.open) {
      const gone = new Promise<void>((resolve) => link.socket.once('close', () => resolve()));
      link.send({ type: 'deregister' });
      const timer = setTimeout(() => link.destroy(), DEREGISTER_GRACE_MS);
      await gone;
      clearTimeout(timer);
    }
    this.#rejectPending(new ClientClosedError());
    this.emit('closed', { error: undefined });
  }

  // ---- connection lifecycle --------------------------------------------------------------

  async #establish(signal?: AbortSignal): Promise<boolean> {
    const link = await BrokerLink.open({
      host: this.#options.host, port: this.#options.port, maxFrameBytes: this.#options.maxFrameBytes,
      connectTimeoutMs: this.#options.connectTimeoutMs, tls: this.#options.tls,
      ...(this.#options.localAddress ? { localAddress: this.#options.localAddress } : {}),
      ...(signal ? { signal } : {}),
    });
    try {
      const registered = await this.#register(link, signal);
      this.#reclaimToken = registered.reclaimToken;
      this.#observed = registered.observed;
      if (this.#closed) throw new ClientClosedError();
      this.#attach(link);
      return registered.reclaimed;
    } catch (error) {
      link.destroy();
      throw error;
    }
  }

  #register(link: BrokerLink, signal?: AbortSignal): Promise<Extract<BrokerMessage, { type: 'registered' }>> {
    return new Promise((resolve, reject) => {
      const fail = (error: unknown): void => {
        finish();
        reject(error);
      };
      const onAbort = (): void => fail(new AbortedError('registering with the broker was aborted', { cause: signal?.reason }));
      const timer = setTimeout(() => fail(new TimeoutError('no registration answer from the broker', this.#options.connectTimeoutMs)), this.#options.connectTimeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      link.onMessage = (message) => {
        if (message.type === 'ping') return link.send({ type: 'pong', seq: message.seq });
        finish();
        // what follows the answer waits for #attach's handler instead of landing here
        link.onMessage = undefined;
        if (message.type === 'registered') resolve(message);
        else if (message.type === 'error') reject(errorFromReply(message));
        else reject(new BrokerError('ERR_BAD_MESSAGE', `expected registered, got ${message.type}`));
      };
      link.onClose = (error) => fail(error ?? new DisconnectedError('the broker closed the connection during registration'));
      link.send({
        type: 'register', id: this.id, profile: this.#options.profile, privateAddresses: this.#options.privateAddresses,
        transports: this.#options.transports, ...(this.#reclaimToken ? { reclaimToken: this.#reclaimToken } : {}),
      });
    });
  }

  #attach(link: BrokerLink): void {
    this.#link = link;
    this.#lastHeardAt = Date.now();
    link.onMessage = (message) => this.#onMessage(message);
    link.onClose = (error) => this.#onLinkClosed(link, error);
    const silentLimit = link.heartbeatIntervalMs * this.#options.missedHeartbeats;
    clearInterval(this.#watchdog);
    this.#watchdog = setInterval(() => {
      if (Date.now() - this.#lastHeardAt > silentLimit) link.destroy(new DisconnectedError('the broker stopped answering heartbeats'));
    }, Math.max(100, link.heartbeatIntervalMs / 2));
    this.#watchdog.unref();
    if (this.#punchPort && link.features.includes(FEATURE_PUNCH_PORT)) link.send({ type: 'punch-port', tcp: this.#punchPort });
    this.#logger.info({ observed: this.#observed }, 'registered');
  }

  #onLinkClosed(link: BrokerLink, error: BrokerError | undefined): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    clearInterval(this.#watchdog);
    this.#rejectPending(new DisconnectedError('the connection to the broker was lost', { cause: error }));
    if (this.#closed) return;
    this.#logger.warn({ err: error }, 'broker connection lost');
    this.emit('disconnected', { error });
    if (!this.#options.reconnect) {
      this.#closed = true;
      this.emit('closed', { error: error ?? new DisconnectedError() });
      return;
    }
    this.#scheduleReconnect(1, error);
  }

  #scheduleReconnect(attempt: number, error: unknown): void {
    const base = Math.min(this.#options.reconnectMaxDelayMs, this.#options.reconnectInitialDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.round(base * (1 - JITTER + 2 * JITTER * Math.random()));
    this.emit('reconnecting', { attempt, delayMs, error });
    this.#reconnectTimer = setTimeout(() => {
      this.#establish().then(
        (reclaimed) => this.emit('registered', { id: this.id, reclaimed, observed: this.#observed! }),
        (failure: unknown) => {
          if (this.#closed) return;
          if (failure instanceof BrokerError && TERMINAL_CODES.has(failure.code)) {
            this.#logger.error({ err: failure }, 'broker refused re-registration: giving up');
            this.#closed = true;
            this.emit('closed', { error: failure });
            return;
          }
          this.#logger.info({ err: failure, attempt }, 'reconnect failed');
          this.#scheduleReconnect(attempt + 1, failure);
        },
      );
    }, delayMs);
  }

  // ---- messages --------------------------------------------------------------------------

  #onMessage(message: BrokerMessage): void {
    this.#lastHeardAt = Date.now();
    switch (message.type) {
      case 'ping':
        this.#link?.send({ type: 'pong', seq: message.seq });
        return;
      case 'pong':
        this.#settle(String(message.seq), message);
        return;
      case 'coordinate':
        this.#onCoordinate(message);
        return;
      case 'signal':
        this.emit('signal', { connectionId: message.connectionId, from: message.from, payload: message.payload });
        return;
      case 'query-result':
        this.#settle(message.requestId, message);
        return;
      case 'error':
        this.#onError(message);
        return;
      default:
        this.#logger.debug({ type: message.type }, 'ignored broker message');
    }
  }

  #onCoordinate(message: Extract<BrokerMessage, { type: 'coordinate' }>): void {
    if (message.requestId === undefined) {
      this.emit('coordination', toCoordination(message));
      return;
    }
    if (!this.#settle(message.requestId, message)) {
      // Our request timed out or was aborted: free the broker's slot for it.
      this.done(message.connectionId, 'failed', 'abandoned');
    }
  }

  #onError(message: Extract<BrokerMessage, { type: 'error' }>): void {
    const error = errorFromReply(message);
    const pending = message.requestId === undefined ? undefined : this.#pending.get(message.requestId);
    if (pending) {
      this.#pending.delete(message.requestId!);
      pending.reject(error);
      return;
    }
    this.#logger.warn({ err: error }, 'broker error');
    if (message.fatal) this.#link?.destroy(error);
    if (this.listenerCount('broker-error') > 0) this.emit('broker-error', error);
  }

  #settle(requestId: string, message: BrokerMessage): boolean {
    const pending = this.#pending.get(requestId);
    if (!pending) return false;
    this.#pending.delete(requestId);
    pending.resolve(message);
    return true;
  }

  #liveLink(): BrokerLink {
    if (this.#closed) throw new ClientClosedError();
    if (!this.#link?.open) throw new DisconnectedError('not connected to the broker (reconnecting)');
    return this.#link;
  }

  #request(build: (requestId: string) => object, options: { timeoutMs?: number; signal?: AbortSignal }, what: string): Promise<BrokerMessage> {
    const link = this.#liveLink();
    const requestId = String(++this.#nextRequest);
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs;
    if (options.signal?.aborted) return Promise.reject(new AbortedError(`${what} aborted`, { cause: options.signal.reason }));
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#pending.delete(requestId);
      };
      const onAbort = (): void => {
        cleanup();
        reject(new AbortedError(`${what} aborted`, { cause: options.signal?.reason }));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new TimeoutError(`${what} got no answer within ${timeoutMs} ms`, timeoutMs));
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(requestId, {
        resolve: (message) => { cleanup(); resolve(message); },
        reject: (error) => { cleanup(); reject(error); },
      });
      link.send(build(requestId));
    });
  }

  #rejectPending(error: BrokerError): void {
    for (const pending of [...this.#pending.values()]) pending.reject(error);
    this.#pending.clear();
  }
}

function toCoordination(message: Extract<BrokerMessage, { type: 'coordinate' }>): Coordination {
  const now = performance.now();
  return {
    connectionId: message.connectionId,
    role: message.role,
    transport: message.transport,
    peer: message.peer,
    candidates: message.candidates,
    sameNat: message.sameNat,
    secret: Buffer.from(message.secret, 'base64'),
    startInMs: message.startInMs,
    startAt: now + message.startInMs,
    rttMs: message.rttMs,
    expiresAt: now + message.expiresInMs,
    ...(message.relay ? { relay: message.relay } : {}),
    ...(message.punchPorts ? { punchPorts: message.punchPorts } : {}),
  };
}

function queryMessage(requestId: string, options: QueryOptions): object {
  return {
    type: 'query', requestId,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.id === undefined ? {} : { id: options.id }),
    ...(options.after === undefined ? {} : { after: options.after }),
    ...(options.limit === undefined ? {} : { limit: options.limit }),
  };
}

/** A one-off management query without registering (for `ntcp` tooling and operators). */
export async function queryBroker(options: QueryOptions & { host: string; port?: number; localAddress?: string; tls?: boolean | BrokerTlsOptions }): Promise<BrokerQueryReply> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const link = await BrokerLink.open({
    host: options.host, port: options.port ?? DEFAULT_BROKER_PORT, maxFrameBytes: DEFAULT_CLIENT_MAX_FRAME_BYTES,
    connectTimeoutMs: timeoutMs, ...(options.localAddress ? { localAddress: options.localAddress } : {}), tls: options.tls ?? false,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  try {
    return await new Promise<BrokerQueryReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError('query got no answer', timeoutMs)), timeoutMs);
      link.onMessage = (message) => {
        if (message.type === 'query-result') {
          clearTimeout(timer);
          const { type: _type, requestId: _requestId, ...result } = message;
          resolve(result);
        } else if (message.type === 'error') {
          clearTimeout(timer);
          reject(errorFromReply(message));
        }
      };
      link.onClose = (error) => {
        clearTimeout(timer);
        reject(error ?? new DisconnectedError('the broker closed the connection before answering'));
      };
      link.send(queryMessage('1', options));
    });
  } finally {
    link.destroy();
  }
}
