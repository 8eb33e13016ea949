import net from 'node:net';
import { EventEmitter } from 'node:events';
import {
  attribute,
  checkMessageIntegrity,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  getAttribute,
  HEADER_LENGTH,
  longTermKey,
  newTransactionId,
  Nonce,
  Realm,
  Software,
  StunClass,
  Username,
  XorMappedAddress,
  type StunAttribute,
  type StunMessage,
  type TransportAddress,
} from '../../codec/index.js';
import { InvalidArgumentError } from '../../errors.js';
import { silentLogger, type Logger } from '../../observe/logger.js';
import { deadline } from '../abort.js';
import {
  ChannelNumber,
  ConnectionId,
  Data,
  DontFragment,
  EvenPort,
  Lifetime,
  RequestedAddressFamily,
  ReservationToken,
  RequestedTransport,
  TransportProtocol,
  TurnMethod,
  XorPeerAddress,
  XorRelayedAddress,
} from './attributes.js';
import { channelDataHeader, CHANNEL_MIN, CHANNEL_MAX } from './channel-data.js';
import { StreamControlTransport, UdpControlTransport, type ControlTransport } from './control-transport.js';
import type { TurnCredentials } from './credentials.js';
import { TurnAuthError, TurnClosedError, TurnErrorResponse, TurnProtocolError } from './errors.js';
import { connectToServer, type TurnTlsOptions } from './server-connection.js';

export interface TurnServerAddress {
  host: string;
  port: number;
}

export interface TurnClientOptions {
  server: TurnServerAddress;
  /**
   * Transport to the TURN server; RFC 6062 TCP allocations need 'tcp' or 'tls'. 'tls' is TURN
   * over TLS (`turns:`): the control connection and every data connection. @default 'udp'
   */
  transport?: 'udp' | 'tcp' | 'tls';
  /** How to trust the server with transport 'tls' (verification is on unless turned off here). @default {} */
  tls?: TurnTlsOptions;
  /** Long-term credentials (see turnRestCredentials for the shared-secret scheme). */
  credentials: TurnCredentials;
  /** SOFTWARE attribute on requests. @default 'ntcp' */
  software?: string;
  /** Deadline of each request (and of connecting). @default 10000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface TurnClientComponents {
  /** @default silentLogger */
  logger?: Logger;
}

export interface AllocateOptions {
  /** Protocol between the relay and peers. @default 'udp' */
  relayTransport?: 'udp' | 'tcp';
  /** Requested allocation lifetime in seconds (the server may shorten it). @default server's choice (600) */
  lifetimeSeconds?: number;
  /** Ask the relay to set DF on datagrams to peers. @default false */
  dontFragment?: boolean;
  /** Relayed address family (RFC 8656 §7.1, REQUESTED-ADDRESS-FAMILY). @default the server's ('IPv4') */
  addressFamily?: 'IPv4' | 'IPv6';
  /** Ask for an even relayed port, optionally reserving the next one (EVEN-PORT). @default none */
  evenPort?: { reserve: boolean };
  /** Use a port reserved by an earlier EVEN-PORT allocation (RESERVATION-TOKEN). @default none */
  reservationToken?: Buffer;
  /** Refresh the allocation, permissions and channels before they expire. @default true */
  autoRefresh?: boolean;
  signal?: AbortSignal;
}

export interface TurnAllocation {
  relayed: TransportAddress;
  mapped: TransportAddress | undefined;
  lifetimeSeconds: number;
  relayTransport: 'udp' | 'tcp';
  /** Present when the allocation reserved the next port (evenPort.reserve). */
  reservationToken?: Buffer;
}

export interface TurnClientEvents {
  /** Data from a peer, through a Data indication or a channel. */
  data: [data: Buffer, peer: TransportAddress];
  /** RFC 6062: a peer connected to a TCP allocation's relayed address; the socket is ours already. */
  connection: [socket: net.Socket, peer: TransportAddress];
  /** A background refresh or connection bind failed. */
  warning: [error: Error];
  close: [];
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** RFC 8656 §9: permissions last 300 s, channel bindings 600 s; refresh well before. */
const PERMISSION_REFRESH_MS = 240_000;
const CHANNEL_REFRESH_MS = 480_000;
/** Refresh an allocation this long before it expires (or at half-life if shorter). */
const ALLOCATION_REFRESH_MARGIN_S = 60;
const MAX_AUTH_RETRIES = 2;
const AUTH_ERRORS = new Set([401, 441]);
const STALE_NONCE = 438;
const methodNames: Record<number, string> = Object.fromEntries(Object.entries(TurnMethod).map(([name, value]) => [value, name]));

/**
 * A TURN client (RFC 8656, RFC 6062 for TCP allocations) over one control connection: Allocate
 * with long-term credentials (401/438 nonce handling), Refresh, CreatePermission, ChannelBind,
 * Send/Data indications and ChannelData, Connect/ConnectionBind/ConnectionAttempt.
 */
export class TurnClient extends EventEmitter<TurnClientEvents> {
  readonly server: TurnServerAddress;
  readonly #control: ControlTransport;
  /** Set for TURN over TLS: RFC 6062 data connections are secured like the control connection. */
  readonly #tls: TurnTlsOptions | undefined;
  readonly #credentials: TurnCredentials;
  readonly #software: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #channelsByPeer = new Map<string, number>();
  readonly #peersByChannel = new Map<number, TransportAddress>();
  readonly #permissions = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #realm: string | undefined;
  #nonce: string | undefined;
  #key: Buffer | undefined;
  #allocation: TurnAllocation | undefined;
  #nextChannel = CHANNEL_MIN;
  #closed = false;

  private constructor(control: ControlTransport, options: TurnClientOptions, logger: Logger) {
    super();
    this.server = { ...options.server };
    this.#control = control;
    this.#tls = options.transport === 'tls' ? { ...options.tls } : undefined;
    this.#credentials = { ...options.credentials };
    this.#software = options.software ?? 'ntcp';
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#logger = logger;
    control.on('indication', (message) => this.#onIndication(message));
    control.on('channel-data', (channel, data) => {
      const peer = this.#peersByChannel.get(channel);
      if (peer) this.emit('data', data, peer);
    });
    control.on('close', (error) => {
      if (error) this.#logger.warn({ event: 'turn-control-closed', err: error.message }, 'TURN control connection closed');
      this.#shutdown();
    });
  }

  /** Opens the control connection (no request is sent until `allocate`). */
  static async connect(options: TurnClientOptions, components: TurnClientComponents = {}): Promise<TurnClient> {
    if (!options.credentials?.username) throw new InvalidArgumentError('TURN credentials need a username and password');
    if (options.tls && options.transport !== 'tls') throw new InvalidArgumentError(`TURN tls options need transport "tls", got "${options.transport ?? 'udp'}"`);
    const logger = (components.logger ?? silentLogger).child({ component: 'turn-client' });
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const control = await openControl(options, logger, timeoutMs);
    return new TurnClient(control, options, logger);
  }

  get allocation(): TurnAllocation | undefined {
    return this.#allocation;
  }

  /** The client's local transport address toward the server. */
  local(): TransportAddress {
    return this.#control.local();
  }

  /** 1. Allocate a relayed transport address (authenticating on the server's 401 challenge). */
  async allocate(options: AllocateOptions = {}): Promise<TurnAllocation> {
    const relayTransport = options.relayTransport ?? 'udp';
    if (relayTransport === 'tcp' && !this.#control.reliable) {
      throw new InvalidArgumentError('RFC 6062 TCP allocations need a TCP or TLS connection to the TURN server (transport: "tcp" or "tls")');
    }
    const attributes: StunAttribute[] = [
      attribute(RequestedTransport, relayTransport === 'tcp' ? TransportProtocol.Tcp : TransportProtocol.Udp),
    ];
    if (options.lifetimeSeconds !== undefined) attributes.push(attribute(Lifetime, options.lifetimeSeconds));
    if (options.dontFragment) attributes.push(attribute(DontFragment, true));
    if (options.addressFamily) attributes.push(attribute(RequestedAddressFamily, options.addressFamily));
    if (options.evenPort) attributes.push(attribute(EvenPort, options.evenPort));
    if (options.reservationToken) attributes.push(attribute(ReservationToken, options.reservationToken));
    const response = await this.#request(TurnMethod.Allocate, attributes, options.signal);
    const relayed = getAttribute(response, XorRelayedAddress);
    const lifetimeSeconds = getAttribute(response, Lifetime);
    if (!relayed || lifetimeSeconds === undefined) throw new TurnProtocolError('Allocate success response lacks XOR-RELAYED-ADDRESS or LIFETIME');
    const reservationToken = getAttribute(response, ReservationToken);
    this.#allocation = {
      relayed, mapped: getAttribute(response, XorMappedAddress), lifetimeSeconds, relayTransport,
      ...(reservationToken ? { reservationToken: Buffer.from(reservationToken) } : {}),
    };
    this.#logger.info({ event: 'allocated', relayed, lifetimeSeconds, relayTransport }, 'TURN allocation created');
    if (options.autoRefresh !== false) this.#scheduleAllocationRefresh(lifetimeSeconds);
    return this.#allocation;
  }

  /** Refreshes the allocation; 0 deletes it. Resolves with the lifetime the server granted. */
  async refresh(lifetimeSeconds?: number, signal?: AbortSignal): Promise<number> {
    const attributes = lifetimeSeconds === undefined ? [] : [attribute(Lifetime, lifetimeSeconds)];
    const response = await this.#request(TurnMethod.Refresh, attributes, signal);
    const granted = getAttribute(response, Lifetime) ?? 0;
    if (this.#allocation) this.#allocation.lifetimeSeconds = granted;
    return granted;
  }

  /** Installs permissions for peers' IP addresses (ports are ignored by TURN). Kept fresh while open. */
  async createPermission(peers: Array<string | { address: string }>, signal?: AbortSignal): Promise<void> {
    const addresses = peers.map((peer) => (typeof peer === 'string' ? peer : peer.address));
    await this.#sendPermission(addresses, signal);
    const fresh = addresses.filter((address) => !this.#permissions.has(address));
    for (const address of fresh) this.#permissions.add(address);
    if (fresh.length > 0) this.#every(PERMISSION_REFRESH_MS, () => this.#sendPermission(fresh));
  }

  /** Binds a channel to a peer (permission included, RFC 8656 §12); later sends use ChannelData. */
  async channelBind(peer: { address: string; port: number }, signal?: AbortSignal): Promise<number> {
    const key = peerKey(peer);
    const existing = this.#channelsByPeer.get(key);
    if (existing !== undefined) return existing;
    if (this.#nextChannel > CHANNEL_MAX) throw new InvalidArgumentError('all TURN channel numbers are in use');
    const channel = this.#nextChannel++;
    const peerAddress = toTransportAddress(peer);
    const bind = () => this.#request(TurnMethod.ChannelBind, [attribute(ChannelNumber, channel), attribute(XorPeerAddress, peerAddress)], signal);
    // Inbound first: over TCP the server's first ChannelData can share a read with the bind's
    // response and be handled before this await resumes; it must not be dropped as unknown.
    this.#peersByChannel.set(channel, peerAddress);
    try {
      await bind();
    } catch (error) {
      this.#peersByChannel.delete(channel);
      throw error;
    }
    this.#channelsByPeer.set(key, channel);
    this.#permissions.add(peer.address);
    this.#every(CHANNEL_REFRESH_MS, bind);
    return channel;
  }

  /** Sends data to a peer: ChannelData when a channel is bound, a Send indication otherwise. */
  send(peer: { address: string; port: number }, data: Buffer): void {
    if (this.#closed) throw new TurnClosedError('TURN client is closed');
    const channel = this.#channelsByPeer.get(peerKey(peer));
    if (channel !== undefined) {
      this.#control.sendChannelData(channelDataHeader(channel, data.length), data);
      return;
    }
    const indication: StunMessage = {
      cls: StunClass.Indication,
      method: TurnMethod.Send,
      transactionId: newTransactionId(),
      attributes: [attribute(XorPeerAddress, toTransportAddress(peer)), attribute(Data, data)],
    };
    this.#control.send([encodeMessage(indication)]);
  }

  /**
   * RFC 6062 §4.3: asks the relay to open a TCP connection to `peer` (permission installed first),
   * then binds a new connection to it; resolves with that connection, which carries the peer's
   * bytes unchanged.
   */
  async connect(peer: { address: string; port: number }, options: { signal?: AbortSignal } = {}): Promise<net.Socket> {
    if (this.#allocation?.relayTransport !== 'tcp') throw new InvalidArgumentError('connect needs a TCP allocation (allocate({ relayTransport: "tcp" }))');
    if (!this.#permissions.has(peer.address)) await this.createPermission([peer.address], options.signal);
    const response = await this.#request(TurnMethod.Connect, [attribute(XorPeerAddress, toTransportAddress(peer))], options.signal);
    const connectionId = getAttribute(response, ConnectionId);
    if (connectionId === undefined) throw new TurnProtocolError('Connect success response lacks CONNECTION-ID');
    return this.#connectionBind(connectionId, options.signal);
  }

  /** Deletes the allocation (Refresh with lifetime 0) and closes the control connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#allocation) {
      await this.refresh(0).catch((error: Error) => this.#logger.debug({ event: 'turn-delete-failed', err: error.message }, 'deleting the TURN allocation failed'));
    }
    this.#shutdown();
    await this.#control.close();
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.clear();
    this.emit('close');
  }

  async #sendPermission(addresses: string[], signal?: AbortSignal): Promise<void> {
    const attributes = addresses.map((address) => attribute(XorPeerAddress, toTransportAddress({ address, port: 0 })));
    await this.#request(TurnMethod.CreatePermission, attributes, signal);
  }

  #scheduleAllocationRefresh(lifetimeSeconds: number): void {
    const refreshInS = Math.max(lifetimeSeconds / 2, lifetimeSeconds - ALLOCATION_REFRESH_MARGIN_S);
    this.#every(refreshInS * 1000, async () => {
      await this.refresh(this.#allocation?.lifetimeSeconds);
    });
  }

  #every(intervalMs: number, task: () => Promise<unknown>): void {
    const timer = setInterval(() => {
      task().catch((error: Error) => {
        this.#logger.warn({ event: 'turn-refresh-failed', err: error.message }, 'TURN refresh failed');
        this.emit('warning', error);
      });
    }, intervalMs);
    timer.unref();
    this.#timers.add(timer);
  }

  #onIndication(message: StunMessage): void {
    if (message.method === TurnMethod.Data) {
      const peer = getAttribute(message, XorPeerAddress);
      const data = getAttribute(message, Data);
      if (peer && data) this.emit('data', data, peer);
      return;
    }
    if (message.method === TurnMethod.ConnectionAttempt) {
      const peer = getAttribute(message, XorPeerAddress);
      const connectionId = getAttribute(message, ConnectionId);
      if (!peer || connectionId === undefined) return;
      this.#connectionBind(connectionId).then(
        (socket) => this.emit('connection', socket, peer),
        (error: Error) => {
          this.#logger.warn({ event: 'turn-connection-bind-failed', err: error.message }, 'binding an incoming TURN connection failed');
          this.emit('warning', error);
        },
      );
    }
  }

  /** RFC 6062 §4.4: a new TCP (or TLS) connection to the server, bound to the peer connection by its id. */
  async #connectionBind(connectionId: number, signal?: AbortSignal): Promise<net.Socket> {
    for (let attempt = 0; ; attempt++) {
      const socket = await connectToServer(this.server, this.#tls, signal, this.#timeoutMs);
      const message = this.#buildRequest(TurnMethod.ConnectionBind, [attribute(ConnectionId, connectionId)]);
      try {
        const response = await readOneResponse(socket, this.#encode(message), this.#timeoutMs, signal);
        this.#checkResponse(TurnMethod.ConnectionBind, response.message, response.bytes);
        return socket;
      } catch (error) {
        socket.destroy();
        if (error instanceof TurnErrorResponse && error.errorCode === STALE_NONCE && attempt < MAX_AUTH_RETRIES) continue;
        throw error;
      }
    }
  }

  /** One authenticated transaction: answers a 401 challenge and 438 Stale Nonce by retrying. */
  async #request(method: number, attributes: StunAttribute[], signal?: AbortSignal): Promise<StunMessage> {
    if (this.#closed) throw new TurnClosedError('TURN client is closed');
    for (let attempt = 0; ; attempt++) {
      const message = this.#buildRequest(method, attributes);
      const hadCredentials = this.#key !== undefined;
      const { message: response, bytes } = await this.#control.request(this.#encode(message), message.transactionId, this.#timeoutMs, signal);
      try {
        this.#checkResponse(method, response, bytes);
        return response;
      } catch (error) {
        const retry = error instanceof TurnErrorResponse && attempt < MAX_AUTH_RETRIES &&
          (error.errorCode === STALE_NONCE || (error.errorCode === 401 && !hadCredentials));
        if (!retry) throw error instanceof TurnErrorResponse && AUTH_ERRORS.has(error.errorCode) ? new TurnAuthError(error.errorCode, error.reason) : error;
      }
    }
  }

  #buildRequest(method: number, attributes: StunAttribute[]): StunMessage {
    const all = [...attributes, attribute(Software, this.#software)];
    if (this.#key && this.#realm !== undefined && this.#nonce !== undefined) {
      all.push(attribute(Username, this.#credentials.username), attribute(Realm, this.#realm), attribute(Nonce, this.#nonce));
    }
    return { cls: StunClass.Request, method, transactionId: newTransactionId(), attributes: all };
  }

  #encode(message: StunMessage): Buffer {
    return encodeMessage(message, this.#key && message.attributes.some((entry) => entry.type === Username.type) ? { integrity: { key: this.#key } } : undefined);
  }

  /** Throws TurnErrorResponse for an error response, after learning the realm and nonce it carries. */
  #checkResponse(method: number, response: StunMessage, bytes: Buffer): void {
    if (response.cls === StunClass.ErrorResponse) {
      const error = getAttribute(response, ErrorCode) ?? { code: 0, reason: 'error response without ERROR-CODE' };
      const realm = getAttribute(response, Realm);
      const nonce = getAttribute(response, Nonce);
      if (nonce !== undefined) this.#nonce = nonce;
      if (realm !== undefined && (error.code === 401 || error.code === STALE_NONCE)) {
        this.#realm = realm;
        this.#key = longTermKey(this.#credentials.username, realm, this.#credentials.password);
      }
      throw new TurnErrorResponse(methodNames[method] ?? `0x${method.toString(16)}`, error.code, error.reason);
    }
    if (response.cls !== StunClass.SuccessResponse) throw new TurnProtocolError(`unexpected message class ${response.cls} in a response`);
    // RFC 8489 §9.2.4: a success response to an authenticated request must carry a valid MESSAGE-INTEGRITY.
    if (this.#key && !checkMessageIntegrity(bytes, this.#key)) {
      throw new TurnProtocolError(`${methodNames[method] ?? method} response failed the MESSAGE-INTEGRITY check`);
    }
  }
}

function openControl(options: TurnClientOptions, logger: Logger, timeoutMs: number): Promise<ControlTransport> {
  switch (options.transport ?? 'udp') {
    case 'tls': return StreamControlTransport.open(options.server, options.tls ?? {}, logger, options.signal, timeoutMs);
    case 'tcp': return StreamControlTransport.open(options.server, undefined, logger, options.signal, timeoutMs);
    case 'udp': return UdpControlTransport.open(options.server, logger);
  }
}

/** Writes one request on a fresh connection and reads exactly its response, leaving later bytes unread. */
function readOneResponse(socket: net.Socket, request: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<{ message: StunMessage; bytes: Buffer }> {
  const limit = deadline('TURN ConnectionBind', timeoutMs, signal);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const done = (error?: Error, result?: { message: StunMessage; bytes: Buffer }): void => {
      limit.dispose();
      limit.signal.removeEventListener('abort', onAbort);
      socket.off('readable', onReadable);
      socket.off('error', onError);
      socket.off('end', onEnd);
      if (error) reject(error);
      else resolve(result!);
    };
    const onAbort = (): void => done(limit.signal.reason as Error);
    const onError = (error: Error): void => done(new TurnClosedError(`TURN data connection failed: ${error.message}`, { cause: error }));
    const onEnd = (): void => done(new TurnClosedError('TURN server closed the data connection during ConnectionBind'));
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        received = Buffer.concat([received, chunk]);
        if (received.length < HEADER_LENGTH) continue;
        const length = HEADER_LENGTH + received.readUInt16BE(2);
        if (received.length < length) continue;
        const bytes = received.subarray(0, length);
        if (received.length > length) socket.unshift(received.subarray(length));
        let message: StunMessage;
        try {
          message = decodeMessage(bytes, { requireMagicCookie: true });
        } catch (error) {
          done(new TurnProtocolError('malformed ConnectionBind response', { cause: error }));
          return;
        }
        done(undefined, { message, bytes });
        return;
      }
    };
    limit.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('readable', onReadable);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.write(request);
  });
}

function toTransportAddress(peer: { address: string; port: number }): TransportAddress {
  const family = net.isIPv6(peer.address) ? 'IPv6' : 'IPv4';
  if (!net.isIP(peer.address)) throw new InvalidArgumentError(`TURN peer address must be an IP address, got "${peer.address}"`);
  return { family, address: peer.address, port: peer.port };
}

function peerKey(peer: { address: string; port: number }): string {
  return `${peer.address}|${peer.port}`;
}
