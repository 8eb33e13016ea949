import { EventEmitter } from 'node:events';
import type { RemoteInfo } from 'node:dgram';
import type { TransportAddress } from '../../codec/index.js';
import type { StunUdpSocket } from '../../stun/index.js';
import { silentLogger, type Logger } from '../../observe/logger.js';
import { InvalidArgumentError } from '../../errors.js';
import { ConnectionClosedError, DatagramTooLargeError } from './errors.js';
import { decodeFrame, encodeData, encodeKeepalive, FrameType, HEADER_LENGTH, type Frame } from './wire.js';
import type { Verifier } from './verify.js';

/**
 * NAT UDP mappings are commonly dropped after 30-60 s of silence (RFC 4787 REQ-5 asks for at
 * least 2 min, XSTUNT saw ~60 s), so a keepalive every 15 s keeps them with room for loss.
 */
export const KEEPALIVE_INTERVAL_MS = 15_000;
/** Nothing heard for four keepalive intervals: the path is gone. */
export const IDLE_TIMEOUT_MS = 4 * KEEPALIVE_INTERVAL_MS;
/**
 * The IPv6 minimum link MTU (RFC 8200 §5). Without path MTU discovery we size datagrams for it:
 * every IPv6 path carries it and nearly every IPv4 path does, so no datagram gets fragmented.
 */
export const DEFAULT_PATH_MTU = 1280;
const IPV4_HEADER_LENGTH = 20;
const IPV6_HEADER_LENGTH = 40;
const UDP_HEADER_LENGTH = 8;
/** CLOSE is sent this many times: the peer learns of a clean end unless every copy is lost. */
const CLOSE_COPIES = 2;
/** How often the timers look at the keepalive and idle deadlines, per keepalive interval. */
const TICKS_PER_KEEPALIVE = 2;
/** The nomination is repeated first after this long, then at doubling intervals up to the max... */
const NOMINATION_FIRST_RETRY_MS = 20;
const NOMINATION_MAX_RETRY_MS = 250;
/** ...at most this many times: a responder that never confirms has failed its punch by then. */
const NOMINATION_MAX_REPEATS = 24;

export type UdpMethod = 'udp-punch' | 'lan' | 'udp-predict' | 'udp-birthday' | 'direct';

export interface UdpConnectionOptions {
  /** Send a keepalive when nothing was sent for this long. @default KEEPALIVE_INTERVAL_MS (15 s) */
  keepaliveIntervalMs?: number;
  /** Close with reason 'idle' when nothing was received for this long. @default IDLE_TIMEOUT_MS (60 s) */
  idleTimeoutMs?: number;
  /** Path MTU that datagrams are sized for. @default DEFAULT_PATH_MTU (1280) */
  pathMtu?: number;
}

export type CloseReason = 'local' | 'remote' | 'idle';

/** The largest `send` payload that fits one datagram of `pathMtu` bytes over `family`. */
export function maxDatagramSize(family: 'IPv4' | 'IPv6', pathMtu = DEFAULT_PATH_MTU): number {
  const ipHeader = family === 'IPv6' ? IPV6_HEADER_LENGTH : IPV4_HEADER_LENGTH;
  return pathMtu - ipHeader - UDP_HEADER_LENGTH - HEADER_LENGTH;
}

export interface UdpConnectionInit {
  socket: StunUdpSocket;
  remote: TransportAddress;
  method: UdpMethod;
  verifier: Verifier;
  /** The peer's nonce from the punch, to re-confirm a nomination whose confirmation was lost. */
  peerNonce: Buffer;
  /** Frames that arrived on the path before the connection existed, delivered first. */
  early?: Frame[];
  /** Initiator: repeat the nomination until the responder confirms it (ACK, data or keepalive). */
  awaitingConfirmation?: boolean;
  options?: UdpConnectionOptions;
  logger?: Logger;
  now?: () => number;
}

/**
 * A verified UDP path to the peer. Emits 'message' (payload: Buffer) for each datagram the
 * peer sent, 'close' ({ reason }) once. Datagrams from any other source are dropped. Owns its
 * socket: closing the connection closes the socket.
 */
export class UdpConnection extends EventEmitter {
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  readonly method: UdpMethod;
  /** Largest payload `send` accepts (see DEFAULT_PATH_MTU); the caller splits larger data. */
  readonly maxDatagramSize: number;
  readonly #socket: StunUdpSocket;
  readonly #verifier: Verifier;
  readonly #peerNonce: Buffer;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #keepaliveIntervalMs: number;
  readonly #idleTimeoutMs: number;
  readonly #timer: NodeJS.Timeout;
  readonly #onMessage = (bytes: Buffer, rinfo: RemoteInfo) => this.#receive(bytes, rinfo);
  readonly #onError = (error: Error) => this.#logger.warn({ err: error }, 'udp connection socket error');
  #lastSentAt: number;
  #lastReceivedAt: number;
  #closed = false;
  #awaitingConfirmation: boolean;
  #nominationTimer: NodeJS.Timeout | undefined;

  constructor(init: UdpConnectionInit) {
    super();
    const options = init.options ?? {};
    this.#keepaliveIntervalMs = positive(options.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS, 'keepaliveIntervalMs');
    this.#idleTimeoutMs = positive(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS, 'idleTimeoutMs');
    const pathMtu = positive(options.pathMtu ?? DEFAULT_PATH_MTU, 'pathMtu');
    this.#socket = init.socket;
    this.#verifier = init.verifier;
    this.#peerNonce = init.peerNonce;
    this.#logger = init.logger ?? silentLogger;
    this.#now = init.now ?? (() => performance.now());
    this.local = init.socket.local();
    this.remote = init.remote;
    this.method = init.method;
    this.maxDatagramSize = maxDatagramSize(init.remote.family, pathMtu);
    this.#lastSentAt = this.#now();
    this.#lastReceivedAt = this.#lastSentAt;
    this.#socket.on('message', this.#onMessage);
    this.#socket.on('error', this.#onError);
    const tick = Math.min(this.#keepaliveIntervalMs, this.#idleTimeoutMs) / TICKS_PER_KEEPALIVE;
    this.#timer = setInterval(() => this.#onTick(), tick);
    this.#timer.unref();
    const early = init.early ?? [];
    if (early.length > 0) this.#deliverWhenListened(early);
    this.#awaitingConfirmation = init.awaitingConfirmation ?? false;
    if (this.#awaitingConfirmation) this.#repeatNomination(NOMINATION_FIRST_RETRY_MS, NOMINATION_MAX_REPEATS);
  }

  #repeatNomination(interval: number, repeats: number): void {
    if (repeats <= 0) return;
    this.#nominationTimer = setTimeout(() => {
      if (this.#closed || !this.#awaitingConfirmation) return;
      this.#transmit(this.#verifier.ack(this.#peerNonce, true));
      this.#repeatNomination(Math.min(interval * 2, NOMINATION_MAX_RETRY_MS), repeats - 1);
    }, interval);
  }

  #confirmed(): void {
    this.#awaitingConfirmation = false;
    clearTimeout(this.#nominationTimer);
  }

  /** Datagrams that came before the caller could listen wait for its first 'message' listener. */
  #deliverWhenListened(early: Frame[]): void {
    const onNewListener = (event: string | symbol) => {
      if (event !== 'message') return;
      this.off('newListener', onNewListener);
      setImmediate(() => early.forEach((frame) => this.#handle(frame)));
    };
    this.on('newListener', onNewListener);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one datagram to the peer; throws DatagramTooLargeError or ConnectionClosedError. */
  send(data: Buffer): void {
    if (this.#closed) throw new ConnectionClosedError();
    if (data.length > this.maxDatagramSize) throw new DatagramTooLargeError(data.length, this.maxDatagramSize);
    this.#transmit(encodeData(data));
  }

  /** Tells the peer the session is over (best effort over UDP) and releases the socket. */
  async close(): Promise<void> {
    await this.#shutdown('local', true);
  }

  #transmit(bytes: Buffer): void {
    this.#lastSentAt = this.#now();
    try {
      this.#socket.send(bytes, { host: this.remote.address, port: this.remote.port });
    } catch (error) {
      // The socket was closed underneath us; idle detection ends the connection.
      this.#logger.warn({ err: error }, 'udp connection send failed');
    }
  }

  #receive(bytes: Buffer, rinfo: RemoteInfo): void {
    if (rinfo.address !== this.remote.address || rinfo.port !== this.remote.port) return;
    const frame = decodeFrame(bytes);
    if (frame !== undefined) this.#handle(frame);
  }

  #handle(frame: Frame): void {
    if (this.#closed) return;
    switch (frame.type) {
      case FrameType.Data:
        this.#lastReceivedAt = this.#now();
        this.#confirmed();
        this.emit('message', Buffer.from(frame.payload));
        return;
      case FrameType.Keepalive:
        this.#lastReceivedAt = this.#now();
        this.#confirmed();
        return;
      case FrameType.Close:
        if (this.#verifier.checkClose(frame)) void this.#shutdown('remote', false);
        return;
      case FrameType.Ack: {
        const ack = this.#verifier.checkAck(frame);
        if (ack === undefined) return;
        this.#lastReceivedAt = this.#now();
        if (!ack.nominate) return;
        // Initiator: the confirmation. Responder: the initiator did not hear ours; say it again.
        if (this.#verifier.role === 'initiator') this.#confirmed();
        else this.#transmit(this.#verifier.ack(this.#peerNonce, true));
        return;
      }
      case FrameType.Probe: {
        // The responder still punches: our nomination has not reached it yet.
        const peerNonce = this.#verifier.checkProbe(frame);
        if (peerNonce !== undefined && this.#awaitingConfirmation) this.#transmit(this.#verifier.ack(peerNonce, true));
        return;
      }
    }
  }

  #onTick(): void {
    const now = this.#now();
    if (now - this.#lastReceivedAt >= this.#idleTimeoutMs) {
      this.#logger.info({ remote: this.remote, idleMs: Math.round(now - this.#lastReceivedAt) }, 'udp connection idle');
      void this.#shutdown('idle', true);
      return;
    }
    if (now - this.#lastSentAt >= this.#keepaliveIntervalMs) this.#transmit(encodeKeepalive());
  }

  async #shutdown(reason: CloseReason, notifyPeer: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#nominationTimer);
    this.#socket.off('message', this.#onMessage);
    try {
      if (notifyPeer) await this.#sendClose();
      await this.#socket.close();
    } catch (error) {
      this.#logger.debug({ err: error }, 'udp connection socket was already closed');
    } finally {
      this.#socket.off('error', this.#onError);
      this.emit('close', { reason });
    }
  }

  /** The CLOSE copies must leave before the socket closes, so each send is awaited. */
  #sendClose(): Promise<void> {
    const bytes = this.#verifier.close();
    const copies = Array.from({ length: CLOSE_COPIES }, () =>
      new Promise<void>((resolve) => {
        this.#socket.socket.send(bytes, this.remote.port, this.remote.address, (error) => {
          if (error) this.#logger.debug({ err: error }, 'udp connection close frame not sent');
          resolve();
        });
      }),
    );
    return Promise.all(copies).then(() => undefined);
  }
}

function positive(value: number, name: string): number {
  if (!(Number.isFinite(value) && value > 0)) throw new InvalidArgumentError(`${name} must be a positive number, got ${value}`);
  return value;
}
