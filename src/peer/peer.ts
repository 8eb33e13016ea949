import { EventEmitter } from 'node:events';
import type net from 'node:net';
import {
  BrokerClient, peerIdProblem, InvalidIdError, type BrokerClientOptions, type BrokerError, type BrokerQueryReply,
  type Coordination, type QueryOptions, type Transport,
} from '../broker/index.js';
import type { TransportAddress } from '../codec/index.js';
import { compactProfile, discoverNat, type NatProfile } from '../discovery/index.js';
import { AbortedError, InvalidArgumentError, NtcpError, TimeoutError } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import type { UdpConnectionOptions } from '../punch/udp/index.js';
import { transportAddress } from '../stun/addresses.js';
import type { StunUdpSocket } from '../stun/index.js';
import { localHostAddresses } from './candidates.js';
import { PeerClosedError, ProbeError } from './errors.js';
import { recordPath, type ConnectionPath, type DatagramConnection, type IncomingConnection } from './path.js';
import { DEFAULT_RELAY_DEADLINE_MS, establishPath, RELAY_MODES, type RelayMode } from './paths/establish.js';
import type { Established, PathContext, PathStrategy } from './paths/path-strategy.js';
import { relayTcpPath } from './paths/relay-tcp-path.js';
import { relayUdpPath } from './paths/relay-udp-path.js';
import type { TurnOption } from './paths/turn-config.js';
import { turnPaths } from './paths/turn-paths.js';
import { tcpPath } from './paths/tcp-path.js';
import { directUdpPath } from './paths/udp-blocked-path.js';
import { withPoolEvidence } from './paths/udp-blocked-rule.js';
import { toServerAddress, type ServerAddress, type ServerAddressOptions } from './server-address.js';
import { UdpSocketPool } from './udp-socket-pool.js';
import { TcpPunchPortKeeper } from './tcp-punch-port.js';
import { SignalMailbox } from './signal-channel.js';
import { natViewOf } from '../punch/tcp/index.js';

/** @default of `connectTimeoutMs`: the broker exchange plus the longest punch plan (TCP, 15 s). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
/** @default of `incomingTimeoutMs`: the listening side punches as long as a dialler may wait. */
export const DEFAULT_INCOMING_TIMEOUT_MS = DEFAULT_CONNECT_TIMEOUT_MS;
/** @default of `probeTimeoutMs` (per discovery probe). */
export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;
/** Incoming coordinations punched at once; more are refused so a flood cannot exhaust sockets. */
export const MAX_INCOMING_IN_PROGRESS = 16;
const DEFAULT_RELAY_PATHS: Partial<Record<Transport, PathStrategy>> = { tcp: relayTcpPath, udp: relayUdpPath };
/** The broker takes at most this many private addresses per peer. */
const MAX_PRIVATE_ADDRESSES = 8;
/** The outer guard fires this long after the punch deadline, in case an engine overruns it. */
const DEADLINE_GRACE_MS = 1_000;

/**
 * A ready TCP punching port helps where its mapping holds for any destination: no NAT, or an
 * endpoint-independent (cone) one. Sequential and random NATs map per destination; they keep
 * probing a fresh port per connection (prediction needs that fresh mapping anyway).
 */
function keepsTcpPort(profile: NatProfile, transports: Transport[]): boolean {
  return transports.includes('tcp') && profile.tcp?.reachable === true && natViewOf(profile).mapping === 'cone';
}

/** The local address TCP punching binds to (the engine's choice for this profile). */
function tcpLocalAddress(profile: NatProfile): string {
  return profile.tcp?.local?.address ?? profile.local.address ?? '0.0.0.0';
}

export interface PeerRegisterOptions {
  /**
   * `ntcp server`'s address: 'HOST' (ports 8123 and 3478), 'HOST:BROKER_PORT', or an object, whose
   * `tls` reaches a broker that serves TLS (`true`, or `{ ca, servername, rejectUnauthorized }`).
   */
  server: string | ServerAddressOptions;
  /** Non-empty, at most 64 bytes of UTF-8, no control characters. */
  id: string;
  /** A NatProfile from an earlier discovery (or a cache): skips probing. @default probe now */
  profile?: NatProfile;
  /** Transports this peer accepts and probes for. @default ['udp', 'tcp'] */
  transports?: Transport[];
  /** Per-probe deadline of NAT discovery. @default 1000 */
  probeTimeoutMs?: number;
  /** XSTUNT's fingerprint.dat: reuse a matching profile from this file and store new ones. @default no cache */
  profileCachePath?: string;
  /** Default deadline of `connect` (broker exchange and punching). @default 20000 */
  connectTimeoutMs?: number;
  /** How long the listening side keeps punching for one incoming connection. @default 20000 */
  incomingTimeoutMs?: number;
  /** Default relay policy of `connect` (incoming connections follow the dialler's). @default 'auto' */
  relay?: RelayMode;
  /** With relay 'auto': the relay is taken when no direct path completed by then. @default 3000 */
  relayDeadlineMs?: number;
  /**
   * Relay through this TURN server (RFC 8656/6062, e.g. coturn) instead of the built-in relay. Both
   * peers need it: the dialler allocates, the listener reaches the relayed address. @default the built-in relay
   */
  turn?: TurnOption;
  /**
   * Keep a TCP port ready to punch from, its mapping advertised through the broker, so TCP
   * connects start with the first SYN (only behind no NAT or a cone NAT; false: every connect
   * probes a fresh port's mapping and exchanges it first, about two round trips more). @default true
   */
  tcpPunchPort?: boolean;
  /** Addresses offered to peers behind the same NAT (host candidates). @default every non-loopback interface address */
  hostAddresses?: string[];
  /** Keepalive, idle timeout and path MTU of UDP connections. */
  udpConnection?: UdpConnectionOptions;
  /** Broker connection tuning (timeouts, reconnect backoff, heartbeats). @default BrokerClient's */
  broker?: Pick<BrokerClientOptions, 'connectTimeoutMs' | 'requestTimeoutMs' | 'reconnectInitialDelayMs' | 'reconnectMaxDelayMs' | 'missedHeartbeats' | 'localAddress'>;
  /** Aborts registering (probing and the broker handshake). */
  signal?: AbortSignal;
}

/** Injected components, separate from options. */
export interface PeerComponents {
  logger?: Logger;
  /** Relay path strategies per transport. @default the built-in relay's (relayTcpPath, relayUdpPath) */
  relayPaths?: Partial<Record<Transport, PathStrategy>>;
  /** Binds the UDP sockets connections punch from. @default StunUdpSocket.bind */
  bindUdpSocket?: (options: { address: string }) => Promise<StunUdpSocket>;
}

export interface ConnectOptions {
  /** @default 'tcp' */
  transport?: Transport;
  /** @default the peer's connectTimeoutMs (20 s) */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** @default the peer's relay option ('auto') */
  relay?: RelayMode;
  /**
   * Relay this connection through this TURN server. The listener needs a `turn` option of its own,
   * but any server: it reaches the relayed address the dialler announces. @default the peer's `turn`
   */
  turn?: TurnOption;
}

export interface PeerEvents {
  /** A verified incoming connection (XListen). Closed at once when nobody listens. */
  connection: [IncomingConnection];
  /** An incoming connection attempt that failed (the peer dialled, no path was verified). */
  'incoming-error': [{ peerId: string; connectionId: string; transport: Transport; error: unknown }];
  /** Lost the broker: reconnecting with backoff (connects fail meanwhile, listening resumes after). */
  disconnected: [{ error: BrokerError | undefined }];
  /** Registered again after a broker restart or network loss, with the same id and profile. */
  registered: [{ reclaimed: boolean; observed: TransportAddress }];
  /** Final: closed by `close()` (no error) or refused by the broker for good. */
  close: [{ error: NtcpError | undefined }];
}

interface Settings {
  server: ServerAddress;
  connectTimeoutMs: number;
  incomingTimeoutMs: number;
  relay: RelayMode;
  relayDeadlineMs: number;
  udpConnection: UdpConnectionOptions | undefined;
  hostAddresses: string[];
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const chosen = value ?? fallback;
  if (!(Number.isFinite(chosen) && chosen > 0)) throw new InvalidArgumentError(`${name} must be a positive number, got ${value}`);
  return chosen;
}

function relayMode(value: RelayMode | undefined, fallback: RelayMode): RelayMode {
  const chosen = value ?? fallback;
  if (!RELAY_MODES.includes(chosen)) throw new InvalidArgumentError(`relay must be one of ${RELAY_MODES.join(', ')}, got ${String(value)}`);
  return chosen;
}

function transportOf(value: Transport | undefined): Transport {
  const chosen = value ?? 'tcp';
  if (chosen !== 'tcp' && chosen !== 'udp') throw new InvalidArgumentError(`transport must be 'tcp' or 'udp', got ${String(value)}`);
  return chosen;
}

async function probe(options: PeerRegisterOptions, server: ServerAddress, transports: Transport[], logger: Logger): Promise<NatProfile> {
  if (options.profile) return options.profile;
  try {
    return await discoverNat({
      server: { host: server.host, port: server.stunPort },
      transports,
      timeoutMs: positive(options.probeTimeoutMs, DEFAULT_PROBE_TIMEOUT_MS, 'probeTimeoutMs'),
      ...(options.profileCachePath ? { cachePath: options.profileCachePath } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      logger,
    });
  } catch (error) {
    if (error instanceof AbortedError || error instanceof InvalidArgumentError) throw error;
    throw new ProbeError(`NAT discovery against ${server.host}:${server.stunPort} failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A registered peer (XSTUNT's client after XInit): listens for connections from other peers and
 * connects to them by id, over UDP or TCP, through whatever NATs lie between.
 *
 * ```ts
 * const peer = await Peer.register({ server: 'broker.example:8123', id: 'alice' });
 * peer.on('connection', ({ transport, path, ...c }) => ...);
 * const socket = await peer.connect('bob');                      // net.Socket
 * const udp = await peer.connect('bob', { transport: 'udp' });  // UdpConnection
 * pathOf(socket); // { method: 'tcp-simultaneous', elapsedMs, local, remote, ... }
 * await peer.close();
 * ```
 */
export class Peer extends EventEmitter<PeerEvents> {
  readonly id: string;
  /** This host's NAT behaviour, as probed (or given) when registering. */
  readonly profile: NatProfile;
  readonly #settings: Settings;
  readonly #broker: BrokerClient;
  readonly #udpSockets: UdpSocketPool;
  readonly #logger: Logger;
  readonly #relayPaths: Partial<Record<Transport, PathStrategy>>;
  readonly #tcpPorts: TcpPunchPortKeeper | undefined;
  readonly #signals: SignalMailbox;
  /** Attempts in progress, with the function that stops their deadline guard. */
  readonly #inProgress = new Map<AbortController, () => void>();
  #closed = false;

  private constructor(parts: {
    id: string; profile: NatProfile; settings: Settings; broker: BrokerClient; udpSockets: UdpSocketPool; logger: Logger;
    relayPaths: Partial<Record<Transport, PathStrategy>>; tcpPorts: TcpPunchPortKeeper | undefined;
  }) {
    super();
    this.id = parts.id;
    this.profile = parts.profile;
    this.#settings = parts.settings;
    this.#broker = parts.broker;
    this.#udpSockets = parts.udpSockets;
    this.#logger = parts.logger;
    this.#relayPaths = parts.relayPaths;
    this.#tcpPorts = parts.tcpPorts;
    this.#signals = new SignalMailbox(parts.broker, parts.logger);
    this.#broker.on('coordination', (coordination) => this.#onCoordination(coordination));
    this.#broker.on('disconnected', (event) => this.emit('disconnected', event));
    this.#broker.on('registered', ({ reclaimed, observed }) => {
      this.#logger.info({ reclaimed, observed }, 're-registered with the broker');
      this.emit('registered', { reclaimed, observed });
    });
    this.#broker.on('closed', ({ error }) => {
      if (error !== undefined) void this.#shutdown(error);
    });
  }

  /**
   * XInit: probes the NAT (unless a profile is given), binds the UDP socket whose mapping
   * connections start from, and registers `id` with the broker. Rejects with ERR_PROBE,
   * ERR_CONNECT, ERR_DUPLICATE_ID, ERR_VERSION, ERR_INVALID_ID, ERR_TIMEOUT or ERR_ABORTED.
   */
  static async register(options: PeerRegisterOptions, components: PeerComponents = {}): Promise<Peer> {
    const problem = peerIdProblem(options.id);
    if (problem) throw new InvalidIdError(problem);
    const server = toServerAddress(options.server);
    const turnRelayPaths = options.turn ? turnPaths(options.turn) : undefined;
    const transports = options.transports ?? ['udp', 'tcp'];
    if (transports.length === 0 || !transports.every((transport) => transport === 'udp' || transport === 'tcp')) {
      throw new InvalidArgumentError(`transports must list 'udp' and/or 'tcp', got ${JSON.stringify(transports)}`);
    }
    const settings: Settings = {
      server,
      connectTimeoutMs: positive(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs'),
      incomingTimeoutMs: positive(options.incomingTimeoutMs, DEFAULT_INCOMING_TIMEOUT_MS, 'incomingTimeoutMs'),
      relay: relayMode(options.relay, 'auto'),
      relayDeadlineMs: positive(options.relayDeadlineMs, DEFAULT_RELAY_DEADLINE_MS, 'relayDeadlineMs'),
      udpConnection: options.udpConnection,
      hostAddresses: [...(options.hostAddresses ?? localHostAddresses())].slice(0, MAX_PRIVATE_ADDRESSES),
    };
    const logger = (components.logger ?? silentLogger).child({ component: 'peer', id: options.id });
    const stunServer = { host: server.host, port: server.stunPort };
    const udpSockets = new UdpSocketPool({
      stunServer, logger, ...(components.bindUdpSocket ? { bindSocket: components.bindUdpSocket } : {}),
    });
    let tcpPorts: TcpPunchPortKeeper | undefined;
    try {
      // 1. Probe the NAT and bind the first UDP socket at once: both talk to the STUN server.
      const [discovered] = await Promise.all([
        probe(options, server, transports, logger),
        transports.includes('udp') ? udpSockets.start().catch((error: unknown) => {
          const failure = new ProbeError(`no UDP mapping from the STUN server ${server.host}:${server.stunPort}: ${(error as Error).message}`, { cause: error });
          // A UDP-blocking network still reaches the broker over TCP, and UDP connections go through the relay over TCP.
          logger.warn({ err: failure }, 'UDP is unavailable: registering anyway, UDP connections need the relay');
          return undefined;
        }) : undefined,
      ]);
      // The pool's own binding is the second opinion on a udp-blocked profile (it may overrule it).
      const profile = withPoolEvidence(discovered, udpSockets.udpAnswered);
      // 2. Register the id with the profile and the addresses a peer behind the same NAT can use,
      //    and (after discovery: its probe would disturb a sequential NAT's measurement) arm the
      //    TCP port connections punch from, advertised once registered.
      const advertiseTo: { broker?: BrokerClient } = {};
      tcpPorts = options.tcpPunchPort !== false && keepsTcpPort(profile, transports)
        ? new TcpPunchPortKeeper({ stunServer, localAddress: tcpLocalAddress(profile), logger, advertise: (port) => advertiseTo.broker?.advertisePunchPort(port) })
        : undefined;
      const [broker] = await Promise.all([BrokerClient.connect({
        ...options.broker,
        host: server.host,
        port: server.brokerPort,
        ...(server.tls ? { tls: server.tls } : {}),
        id: options.id,
        profile: compactProfile(profile) as unknown as Record<string, unknown>,
        privateAddresses: settings.hostAddresses.map((address) => ({ address })),
        transports,
        logger,
        ...(options.signal ? { signal: options.signal } : {}),
      }), tcpPorts?.rearm()]);
      advertiseTo.broker = broker;
      const ready = tcpPorts?.current;
      if (ready) broker.advertisePunchPort({ address: ready.mapped.address, port: ready.mapped.port, hostPort: ready.port });
      logger.info({ observed: broker.observed, udp: profile.udp?.rfc3489Type, tcp: profile.tcp?.kind, tcpPunchPort: ready?.port }, 'registered');
      return new Peer({
        id: options.id, profile, settings, broker, udpSockets, logger, relayPaths: { ...(components.relayPaths ?? turnRelayPaths ?? DEFAULT_RELAY_PATHS) }, tcpPorts,
      });
    } catch (error) {
      tcpPorts?.close();
      await udpSockets.close();
      throw error;
    }
  }

  /** True until `close()` (or a final refusal by the broker). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The local TCP port kept ready to punch from and its public mapping, when this peer keeps one
   * (no NAT or a cone NAT). A connect uses it up; a new one is armed in the background.
   */
  get tcpPunchPort(): { port: number; mapped: { address: string; port: number } } | undefined {
    const ready = this.#tcpPorts?.current;
    return ready ? { port: ready.port, mapped: { ...ready.mapped } } : undefined;
  }

  /** True while registered on a live broker connection (false while reconnecting). */
  get registered(): boolean {
    return this.#broker.connected;
  }

  /** This peer's address as the broker sees it (its public TCP mapping). */
  get observed(): TransportAddress | undefined {
    return this.#broker.observed;
  }

  /**
   * XConnect: asks the broker to coordinate with `peerId`, then makes and verifies a path.
   * TCP (the default) resolves with a connected net.Socket, UDP with a UdpConnection; `pathOf`
   * tells how. Rejects with ERR_MATCH (unknown, self, dead, transport), ERR_PUNCH_FAILED,
   * ERR_TIMEOUT, ERR_ABORTED, ERR_BUSY, ERR_DISCONNECTED, ERR_RELAY_UNAVAILABLE or ERR_CLOSED.
   */
  connect(peerId: string, options?: ConnectOptions & { transport?: 'tcp' }): Promise<net.Socket>;
  connect(peerId: string, options: ConnectOptions & { transport: 'udp' }): Promise<DatagramConnection>;
  connect(peerId: string, options?: ConnectOptions): Promise<net.Socket | DatagramConnection>;
  async connect(peerId: string, options: ConnectOptions = {}): Promise<net.Socket | DatagramConnection> {
    if (this.#closed) throw new PeerClosedError();
    const transport = transportOf(options.transport);
    const timeoutMs = positive(options.timeoutMs, this.#settings.connectTimeoutMs, 'timeoutMs');
    const relay = relayMode(options.relay, this.#settings.relay);
    const relayPath = options.turn ? turnPaths(options.turn)[transport] : this.#relayPaths[transport];
    if (options.signal?.aborted) throw new AbortedError('connect aborted', { cause: options.signal.reason });
    const startedAt = performance.now();
    const controller = this.#track(options.signal, timeoutMs + DEADLINE_GRACE_MS);
    try {
      const remaining = (): number => Math.max(1, timeoutMs - (performance.now() - startedAt));
      const coordination = await this.#broker.requestConnect(peerId, {
        transport, relay: relay !== 'never' && relayPath !== undefined, timeoutMs: remaining(), signal: controller.signal,
      });
      const coordinatedAt = performance.now();
      const startAt = coordinatedAt + coordination.startInMs;
      const established = await this.#establish(coordination, { startAt, origin: startedAt }, remaining(), controller.signal, relay, relayPath);
      return this.#handOut(established, coordination, startedAt, coordinatedAt).connection;
    } catch (error) {
      throw deadlineError(error, controller.signal, timeoutMs);
    } finally {
      this.#untrack(controller);
    }
  }

  /** Management query on the broker: peers, states, NAT profiles, counts. */
  query(options: QueryOptions = {}): Promise<BrokerQueryReply> {
    if (this.#closed) return Promise.reject(new PeerClosedError());
    return this.#broker.query(options);
  }

  /**
   * XListen as an async iterator: yields each verified incoming connection until the peer
   * closes. Connections arriving while no iterator or 'connection' listener exists are closed.
   */
  incoming(): AsyncIterableIterator<IncomingConnection> {
    const queue: IncomingConnection[] = [];
    const waiters: Array<(result: IteratorResult<IncomingConnection>) => void> = [];
    let done = this.#closed;
    const onConnection = (incoming: IncomingConnection): void => {
      const waiter = waiters.shift();
      if (waiter) waiter({ value: incoming, done: false });
      else queue.push(incoming);
    };
    const finish = (): void => {
      done = true;
      this.off('connection', onConnection);
      this.off('close', finish);
      for (const waiter of waiters.splice(0)) waiter({ value: undefined, done: true });
    };
    if (!done) {
      this.on('connection', onConnection);
      this.on('close', finish);
    }
    const iterator: AsyncIterableIterator<IncomingConnection> = {
      next: () => {
        const value = queue.shift();
        if (value) return Promise.resolve({ value, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => waiters.push(resolve));
      },
      return: () => {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<IncomingConnection> {
    return this.incoming();
  }

  /** XDeRegister: stops listening, aborts connections in progress, deregisters and releases sockets. */
  async close(): Promise<void> {
    await this.#shutdown(undefined);
  }

  // ---- internals ---------------------------------------------------------------------------

  async #shutdown(error: NtcpError | undefined): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const controller of this.#inProgress.keys()) controller.abort(new PeerClosedError());
    this.#tcpPorts?.close();
    this.#signals.close();
    await this.#broker.close();
    await this.#udpSockets.close();
    if (error) this.#logger.error({ err: error }, 'the broker refused this peer for good');
    this.emit('close', { error });
  }

  #onCoordination(coordination: Coordination): void {
    const coordinatedAt = performance.now();
    const startAt = coordinatedAt + coordination.startInMs;
    const { peer, connectionId, transport } = coordination;
    if (this.#closed) return;
    if (this.#inProgress.size >= MAX_INCOMING_IN_PROGRESS) {
      this.#logger.warn({ peer: peer.id, connectionId }, 'incoming connection refused: too many in progress');
      this.#broker.done(connectionId, 'failed', 'busy');
      return;
    }
    const timeoutMs = this.#settings.incomingTimeoutMs;
    const controller = this.#track(undefined, timeoutMs + DEADLINE_GRACE_MS);
    // The dialler chose the relay policy: the broker offers a relay only when it asked for one, and
    // this side then races direct and relay, keeping whichever the dialler selects.
    this.#establish(coordination, { startAt, origin: coordinatedAt }, timeoutMs, controller.signal, 'auto')
      .then((established) => {
        const { connection, path } = this.#handOut(established, coordination, coordinatedAt, coordinatedAt);
        const incoming: IncomingConnection = established.transport === 'tcp'
          ? { transport: 'tcp', socket: connection as net.Socket, path }
          : { transport: 'udp', connection: connection as DatagramConnection, path };
        if (this.#closed || this.listenerCount('connection') === 0) {
          this.#logger.warn({ peer: peer.id, connectionId }, 'incoming connection closed: nobody is listening');
          releaseEstablished(established);
          return;
        }
        this.emit('connection', incoming);
      })
      .catch((error: unknown) => {
        const failure = deadlineError(error, controller.signal, timeoutMs);
        this.#logger.info({ err: failure, peer: peer.id, connectionId, transport }, 'incoming connection failed');
        if (this.listenerCount('incoming-error') > 0) this.emit('incoming-error', { peerId: peer.id, connectionId, transport, error: failure });
      })
      .finally(() => this.#untrack(controller));
  }

  async #establish(coordination: Coordination, times: { startAt: number; origin: number }, timeoutMs: number, signal: AbortSignal, relay: RelayMode, relayPath = this.#relayPaths[coordination.transport]): Promise<Established> {
    const { transport } = coordination;
    const logger = this.#logger.child({ connectionId: coordination.connectionId, peer: coordination.peer.id, transport });
    const signals = this.#signals.open(coordination.connectionId, logger);
    const context: PathContext = {
      coordination,
      ...times,
      broker: this.#broker,
      signals,
      stunServer: { host: this.#settings.server.host, port: this.#settings.server.stunPort },
      profile: this.profile,
      hostAddresses: this.#settings.hostAddresses,
      udpSockets: this.#udpSockets,
      ...(this.#tcpPorts ? { tcpPorts: this.#tcpPorts } : {}),
      ...(this.#settings.udpConnection ? { udpConnection: this.#settings.udpConnection } : {}),
      timeoutMs,
      signal,
      logger,
    };
    try {
      const established = await establishPath(context, {
        direct: transport === 'udp' ? directUdpPath(this.profile, coordination) : tcpPath,
        relay: relayPath,
        mode: relay,
        relayDeadlineMs: this.#settings.relayDeadlineMs,
      });
      this.#broker.done(coordination.connectionId, 'connected', established.method);
      return established;
    } catch (error) {
      this.#broker.done(coordination.connectionId, 'failed');
      throw error;
    } finally {
      signals.close();
    }
  }

  /** `origin`: the connect call or the coordination's arrival; `elapsedMs` and the timeline count from it. */
  #handOut(established: Established, coordination: Coordination, origin: number, coordinatedAt: number): { connection: net.Socket | DatagramConnection; path: ConnectionPath } {
    const elapsedMs = performance.now() - origin;
    const connection = established.transport === 'tcp' ? established.socket : established.connection;
    const [local, remote] = established.transport === 'tcp'
      ? [socketAddress(established.socket.localAddress, established.socket.localPort), socketAddress(established.socket.remoteAddress, established.socket.remotePort)]
      : [established.connection.local, established.connection.remote];
    const path: ConnectionPath = {
      peerId: coordination.peer.id,
      connectionId: coordination.connectionId,
      role: coordination.role,
      transport: established.transport,
      method: established.method,
      elapsedMs: Math.round(elapsedMs),
      local: this.#concreteLocal(local),
      remote,
      sameNat: coordination.sameNat,
      ...(established.attempts !== undefined ? { attempts: established.attempts } : {}),
      timeline: { coordination: Math.round((coordinatedAt - origin) * 10) / 10, ...established.timeline },
    };
    recordPath(connection, path);
    this.#logger.info({ peer: path.peerId, method: path.method, elapsedMs: path.elapsedMs, role: path.role, attempts: path.attempts, timeline: path.timeline }, 'connected');
    return { connection, path };
  }

  /** A socket bound to the wildcard reports 0.0.0.0: name the address the route to the server leaves from. */
  #concreteLocal(local: TransportAddress): TransportAddress {
    const wildcard = local.address === '0.0.0.0' || local.address === '::';
    const routed = this.profile.local.address;
    return wildcard && routed ? transportAddress(routed, local.port) : local;
  }

  /** An AbortController for one attempt: follows `signal`, fires a TimeoutError after `guardMs`, aborted by close(). */
  #track(signal: AbortSignal | undefined, guardMs: number): AbortController {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(new AbortedError('connect aborted', { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    const guard = setTimeout(() => controller.abort(new TimeoutError(`no connection within ${guardMs} ms`, guardMs)), guardMs);
    this.#inProgress.set(controller, () => {
      clearTimeout(guard);
      signal?.removeEventListener('abort', onAbort);
    });
    return controller;
  }

  /** The attempt is over; its signal is left as it is (an engine may still watch it for the connection's lifetime). */
  #untrack(controller: AbortController): void {
    this.#inProgress.get(controller)?.();
    this.#inProgress.delete(controller);
  }
}

function socketAddress(address: string | undefined, port: number | undefined): TransportAddress {
  return transportAddress(address ?? '0.0.0.0', port ?? 0);
}

function releaseEstablished(established: Established): void {
  if (established.transport === 'tcp') established.socket.destroy();
  else void established.connection.close();
}

/** An engine's AbortedError caused by our own deadline or close() is reported as what it was. */
function deadlineError(error: unknown, signal: AbortSignal, timeoutMs: number): unknown {
  if (!(error instanceof AbortedError) || !signal.aborted) return error;
  const reason: unknown = signal.reason;
  if (reason instanceof TimeoutError) return new TimeoutError(`no connection within ${timeoutMs} ms`, timeoutMs, { cause: error });
  if (reason instanceof PeerClosedError) return new PeerClosedError('the peer was closed during the connect', { cause: error });
  return error;
}
