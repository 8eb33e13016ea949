import type dgram from 'node:dgram';
import net from 'node:net';
import {
  attribute,
  encodeMessage,
  OtherAddress,
  ResponseOrigin,
  StunClass,
  StunMethod,
  type TransportAddress,
} from '../codec/index.js';
import { InvalidArgumentError } from '../errors.js';
import type { Counters } from '../observe/counters.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { familyOf, formatAddress, transportAddress } from './addresses.js';
import { BindingHandler, type BindingDecision, type EndpointIndex } from './binding-handler.js';
import { CoarseClock, systemClock, type Clock } from './clock.js';
import { BindingFastPath } from './fast-path.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { RateLimiter } from './rate-limiter.js';
import { StunServerCounters, type StunServerCounter } from './server-counters.js';
import { bindUdp, endpointIndexes, listenTcp, slot } from './server-endpoints.js';
import { StunTcpConnections } from './tcp-connections.js';

export type { StunServerCounter } from './server-counters.js';

export const DEFAULT_STUN_PORT = 3478;
export const DEFAULT_STUN_ALT_PORT = 3479;

export interface StunServerLimits {
  /** Requests per second per source IP (UDP and TCP together); Infinity disables. @default 200 */
  ratePerSecond?: number;
  /** Burst per source IP. @default 2 * ratePerSecond */
  rateBurst?: number;
  /** Source IPs tracked by the rate limiter. @default 65536 */
  maxTrackedSources?: number;
  /** Open TCP connections over all TCP endpoints. @default 1024 */
  maxTcpConnections?: number;
  /** A TCP connection with no traffic for this long is closed. @default 30000 */
  tcpIdleTimeoutMs?: number;
  /** Largest STUN message accepted over TCP. @default 2048 */
  maxFrameBytes?: number;
  /** Largest PADDING echoed to an authenticated UDP request. @default 1024 */
  maxPaddingBytes?: number;
  /** Bytes queued for a slow TCP reader before we stop reading from it. @default 65536 */
  maxTcpWriteQueueBytes?: number;
}

export interface StunServerOptions {
  /** Primary address (IPv4 or IPv6 literal). */
  host: string;
  /** Alternate address; with it the server is a full RFC 5780 server. */
  altHost?: string;
  /** Primary port; 0 picks a free one (shared by all endpoints on that port). @default 3478 */
  port?: number;
  /** Alternate port; 0 picks a free one. @default 3479 */
  altPort?: number;
  /** @default true */
  udp?: boolean;
  /** @default true */
  tcp?: boolean;
  /** Short-term credentials: requests without a valid MESSAGE-INTEGRITY get 400/401. */
  credentials?: { username: string; password: string };
  limits?: StunServerLimits;
  /** @default silentLogger */
  logger?: Logger;
  /** @default the system clock */
  clock?: Clock;
  /**
   * Bind non-exclusively so that node:cluster workers share the listening sockets (a worker
   * per core; Node 20's dgram has no SO_REUSEPORT). @default false
   */
  shareAcrossWorkers?: boolean;
}

export interface StunServerEndpoints {
  /** Up to four each: [primary ip/primary port, primary/alt port, alt ip/primary port, alt/alt]. */
  udp: TransportAddress[];
  tcp: TransportAddress[];
  addresses: string[];
  port: number;
  altPort: number;
  /** True with two addresses (CHANGE-REQUEST, OTHER-ADDRESS served). */
  fullRfc5780: boolean;
}

export interface StunServer {
  readonly endpoints: StunServerEndpoints;
  readonly counters: Counters<StunServerCounter>;
  /** Open TCP connections. */
  readonly tcpConnections: number;
  close(): Promise<void>;
}

const PORT_PICK_ATTEMPTS = 8;

class StunServerImpl implements StunServer {
  readonly counters = new StunServerCounters();
  readonly #udp: Array<dgram.Socket | undefined> = [];
  readonly #tcp: net.Server[] = [];
  readonly #connections: StunTcpConnections;
  readonly #limiter: RateLimiter | undefined;
  readonly #clock: CoarseClock | undefined;
  readonly #logger: Logger;
  #handler!: BindingHandler;
  #fastPath!: BindingFastPath;
  #endpoints!: StunServerEndpoints;
  readonly #onUdpSendError = (error: Error | null) => {
    if (error === null) return;
    this.counters.increment('udp.send-errors');
    this.#logger.debug({ err: error.message }, 'udp send failed');
  };

  constructor(readonly options: StunServerOptions) {
    const limits = options.limits ?? {};
    const rate = limits.ratePerSecond ?? 200;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'stun-server' });
    if (Number.isFinite(rate)) {
      this.#clock = new CoarseClock(options.clock ?? systemClock);
      this.#limiter = new RateLimiter({ ratePerSecond: rate, burst: limits.rateBurst, maxSources: limits.maxTrackedSources }, this.#clock);
    }
    const tcpLimits = {
      maxTcpConnections: limits.maxTcpConnections ?? 1024,
      tcpIdleTimeoutMs: limits.tcpIdleTimeoutMs ?? 30_000,
      maxFrameBytes: limits.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxTcpWriteQueueBytes: limits.maxTcpWriteQueueBytes ?? 65_536,
    };
    this.#connections = new StunTcpConnections(tcpLimits, this.counters, this.#logger, (frame, source, at) => this.#onFrame(frame, source, at));
  }

  get endpoints(): StunServerEndpoints {
    return this.#endpoints;
  }

  get tcpConnections(): number {
    return this.#connections.size;
  }

  async start(): Promise<void> {
    const { options } = this;
    const addresses = options.altHost === undefined ? [options.host] : [options.host, options.altHost];
    const wantUdp = options.udp ?? true;
    const wantTcp = options.tcp ?? true;
    if (!wantUdp && !wantTcp) throw new InvalidArgumentError('a STUN server needs UDP or TCP');
    for (const address of addresses) {
      if (net.isIP(address) === 0) throw new InvalidArgumentError(`STUN server host must be an IP address, got ${address}`);
    }
    if (addresses.length === 2 && familyOf(addresses[0]!) !== familyOf(addresses[1]!)) {
      throw new InvalidArgumentError('primary and alternate addresses must be of the same family');
    }
    const requested: [number, number] = [options.port ?? DEFAULT_STUN_PORT, options.altPort ?? DEFAULT_STUN_ALT_PORT];
    if (requested[0] === requested[1] && requested[0] !== 0) {
      throw new InvalidArgumentError(`port and altPort must differ (both ${requested[0]})`);
    }
    const pickFree = requested[0] === 0 || requested[1] === 0;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#bindAll(addresses, requested, wantUdp, wantTcp);
        break;
      } catch (error) {
        await this.close();
        const busy = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!pickFree || !busy || attempt >= PORT_PICK_ATTEMPTS) throw error;
      }
    }
    const mode = this.#endpoints.fullRfc5780 ? 'full RFC 5780 (two addresses, two ports)' : 'Binding only';
    this.#logger.info(
      { udp: this.#endpoints.udp.map(formatAddress), tcp: this.#endpoints.tcp.map(formatAddress), rfc5780: this.#endpoints.fullRfc5780 },
      `STUN server listening: ${mode}`,
    );
    if (!this.#endpoints.fullRfc5780) {
      this.#logger.warn({ host: options.host }, 'one address only: not a full RFC 5780 server (no OTHER-ADDRESS; CHANGE-REQUEST gets 420)');
    }
  }

  /** Binds every endpoint; with port 0 the first socket's port is reused for the others. */
  async #bindAll(addresses: string[], requested: [number, number], wantUdp: boolean, wantTcp: boolean): Promise<void> {
    const ports: [number, number] = [...requested];
    this.#udp.length = 0;
    this.#tcp.length = 0;
    const udp: TransportAddress[] = [];
    const tcp: TransportAddress[] = [];
    for (const index of endpointIndexes(addresses.length)) {
      const address = addresses[index.ip]!;
      if (wantUdp) {
        const socket = await bindUdp(address, ports[index.port], !this.options.shareAcrossWorkers);
        ports[index.port] = socket.address().port;
        this.#udp[slot(index)] = socket;
        udp.push(transportAddress(address, ports[index.port]));
      }
      if (wantTcp) {
        const server = net.createServer((socket) => this.#connections.accept(socket, index));
        this.#tcp.push(server);
        await listenTcp(server, address, ports[index.port], !this.options.shareAcrossWorkers);
        ports[index.port] = (server.address() as net.AddressInfo).port;
        tcp.push(transportAddress(address, ports[index.port]));
        server.on('error', (error) => this.#logger.error({ err: error.message }, 'tcp listener error'));
      }
    }
    this.#endpoints = { udp, tcp, addresses, port: ports[0], altPort: ports[1], fullRfc5780: addresses.length === 2 };
    this.#handler = new BindingHandler({
      addresses,
      ports,
      credentials: this.options.credentials,
      maxPaddingBytes: this.options.limits?.maxPaddingBytes ?? 1024,
    });
    this.#fastPath = new BindingFastPath(this.#fastPathTails(addresses.length));
    for (const index of endpointIndexes(addresses.length)) {
      const socket = this.#udp[slot(index)];
      socket?.on('message', (bytes, rinfo) => this.#onDatagram(socket, bytes, rinfo, index));
      socket?.on('error', (error) => this.#logger.error({ err: error.message }, 'udp socket error'));
    }
  }

  #fastPathTails(addressCount: number): Buffer[] {
    if (this.options.credentials !== undefined) return [];
    const tails: Buffer[] = [];
    for (const index of endpointIndexes(addressCount)) {
      const other = { ip: (1 - index.ip) as 0 | 1, port: (1 - index.port) as 0 | 1 };
      const attributes = [attribute(ResponseOrigin, this.#handler.endpoint(index))];
      if (addressCount === 2) attributes.push(attribute(OtherAddress, this.#handler.endpoint(other)));
      const message = { cls: StunClass.SuccessResponse, method: StunMethod.Binding, transactionId: Buffer.alloc(12), attributes };
      tails[slot(index)] = encodeMessage(message).subarray(20);
    }
    return tails;
  }

  #onDatagram(socket: dgram.Socket, bytes: Buffer, rinfo: dgram.RemoteInfo, at: EndpointIndex): void {
    this.counters.udpReceived++;
    if (this.#limiter !== undefined && !this.#limiter.allow(rinfo.address)) {
      this.counters.increment('dropped.rate-limited');
      return;
    }
    const fast = this.options.credentials === undefined ? this.#fastPath.respond(bytes, rinfo.address, rinfo.port, at) : undefined;
    if (fast !== undefined) {
      // no callback: dgram then tries a synchronous send (uv_udp_try_send) instead of queueing a request
      socket.send(fast, rinfo.port, rinfo.address);
      this.counters.udpResponses++;
      return;
    }
    const decision = this.#handler.handle(bytes, transportAddress(rinfo.address, rinfo.port), at, 'udp');
    if (!this.#count(decision)) return;
    if (decision.action !== 'respond') return;
    const from = this.#udp[slot(decision.from)];
    if (from === undefined) return;
    from.send(decision.bytes, decision.to.port, decision.to.address, this.#onUdpSendError);
    this.counters.increment('udp.responses');
  }

  /** Counts drops and error responses; true when there is something to send. */
  #count(decision: BindingDecision): boolean {
    if (decision.action === 'drop') {
      this.counters.increment(`dropped.${decision.reason}`);
      return false;
    }
    if (decision.errorCode === 400 || decision.errorCode === 401 || decision.errorCode === 420) {
      this.counters.increment(`errors.${decision.errorCode}`);
    }
    return true;
  }

  /** The response to one framed request, if any. */
  #onFrame(frame: Buffer, source: TransportAddress, at: EndpointIndex): Buffer | undefined {
    this.counters.increment('tcp.received');
    if (this.#limiter !== undefined && !this.#limiter.allow(source.address)) {
      this.counters.increment('dropped.rate-limited');
      return undefined;
    }
    const fast = this.options.credentials === undefined ? this.#fastPath.respond(frame, source.address, source.port, at) : undefined;
    const decision: BindingDecision = fast !== undefined ? { action: 'respond', bytes: fast, from: at, to: source } : this.#handler.handle(frame, source, at, 'tcp');
    if (!this.#count(decision) || decision.action !== 'respond') return undefined;
    this.counters.increment('tcp.responses');
    return decision.bytes;
  }

  async close(): Promise<void> {
    this.#clock?.stop();
    this.#connections.destroyAll();
    const closing: Array<Promise<void>> = [];
    for (const server of this.#tcp.splice(0)) {
      closing.push(new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
    }
    for (const socket of this.#udp.splice(0)) {
      if (socket !== undefined) closing.push(new Promise((resolve) => socket.close(() => resolve())));
    }
    await Promise.all(closing);
  }
}

/**
 * Starts a STUN server on UDP and TCP at (host, altHost) x (port, altPort). With one address it
 * serves Binding (RFC 8489) and says in its start-up log that it is not a full RFC 5780 server.
 */
export async function startStunServer(options: StunServerOptions): Promise<StunServer> {
  const server = new StunServerImpl(options);
  await server.start();
  return server;
}
