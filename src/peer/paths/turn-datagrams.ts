import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { TransportAddress } from '../../codec/index.js';
import { TurnClosedError, type RelayUdpChannelEvents, type TurnClient } from '../../relay/index.js';
import type { Logger } from '../../observe/logger.js';

/**
 * Control bytes of this layer, outside RelayedDatagrams' frame types (0..3): the two ends of a
 * TURN path have no relay of their own to tell them the other left, and NAT mappings toward the
 * relay would expire between TURN's minutes-long refreshes.
 */
const Control = { Keepalive: 0x7e, Bye: 0x7f } as const;
/** Sent when nothing else was sent for this long (NAT UDP mappings often last 30 s). */
export const TURN_KEEPALIVE_MS = 15_000;
/** The other end is gone when nothing arrived for this long (four keepalives missed). */
export const TURN_IDLE_TIMEOUT_MS = 4 * TURN_KEEPALIVE_MS + 1_000;
/** BYE copies on close: one lost datagram should not leave the peer waiting for the idle timeout. */
const BYE_COPIES = 3;
/** 1500-byte MTU less IP/UDP headers and a TURN Send indication's 40-odd bytes, rounded down. */
export const TURN_MAX_DATAGRAM = 1400;

function addressOf(host: string, port: number): TransportAddress {
  return { address: host, port, family: net.isIPv6(host) ? 'IPv6' : 'IPv4' };
}

/** Keepalive, idle timeout and BYE, shared by both ends; subclasses move the bytes. */
abstract class TurnDatagramChannel extends EventEmitter<RelayUdpChannelEvents> {
  readonly maxDatagramSize = TURN_MAX_DATAGRAM;
  protected readonly logger: Logger;
  readonly #timer: NodeJS.Timeout;
  #lastSent = Date.now();
  #lastReceived = Date.now();
  #closed = false;

  constructor(logger: Logger) {
    super();
    this.logger = logger;
    this.#timer = setInterval(() => this.#tick(), TURN_KEEPALIVE_MS / 3);
    this.#timer.unref();
  }

  abstract readonly local: TransportAddress;
  abstract readonly remote: TransportAddress;
  protected abstract transmit(bytes: Buffer): void;
  protected abstract release(): Promise<void>;

  get closed(): boolean {
    return this.#closed;
  }

  send(data: Buffer): void {
    if (this.#closed) throw new TurnClosedError('the TURN path is closed');
    this.#lastSent = Date.now();
    this.transmit(data);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (let copy = 0; copy < BYE_COPIES; copy++) this.transmit(Buffer.of(Control.Bye));
    await this.end('local');
  }

  /** Hands one datagram from the peer to RelayedDatagrams, after taking out this layer's control bytes. */
  protected deliver(data: Buffer): void {
    if (this.#closed || data.length === 0) return;
    this.#lastReceived = Date.now();
    if (data.length === 1 && data[0] === Control.Keepalive) return;
    if (data.length === 1 && data[0] === Control.Bye) {
      void this.end('remote');
      return;
    }
    this.emit('message', data);
  }

  protected async end(reason: 'local' | 'remote'): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.emit('close', { reason });
    await this.release().catch((error: Error) => this.logger.warn({ err: error }, 'releasing the TURN path failed'));
  }

  #tick(): void {
    const now = Date.now();
    if (now - this.#lastReceived > TURN_IDLE_TIMEOUT_MS) {
      this.logger.info({ idleMs: now - this.#lastReceived }, 'TURN path idle: the peer is gone');
      void this.end('remote');
      return;
    }
    if (now - this.#lastSent >= TURN_KEEPALIVE_MS) {
      this.#lastSent = now;
      this.transmit(Buffer.of(Control.Keepalive));
    }
  }
}

/**
 * The allocating end: datagrams go out as Send indications (ChannelData once `lock` bound a
 * channel) and come in as Data indications from the permitted peer. Until `lock`, replies go to
 * whichever permitted address spoke last (its port is learnt from its first datagram).
 */
export class TurnAllocationChannel extends TurnDatagramChannel {
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  readonly #client: TurnClient;
  readonly #permitted: ReadonlySet<string>;
  #peer: { address: string; port: number } | undefined;
  #locked = false;

  constructor(client: TurnClient, permitted: readonly string[], logger: Logger) {
    super(logger);
    this.#client = client;
    this.#permitted = new Set(permitted);
    this.local = client.local();
    this.remote = addressOf(client.server.host, client.server.port);
    client.on('data', (data, from) => this.#onData(data, from));
    client.on('close', () => void this.end('remote'));
  }

  /** The peer proved itself: only its address is served from now on, over a bound channel. */
  lock(): void {
    const peer = this.#peer;
    if (peer === undefined || this.#locked) return;
    this.#locked = true;
    this.#client.channelBind(peer).catch((error: Error) => this.logger.warn({ err: error, peer }, 'TURN ChannelBind failed: staying with Send indications'));
  }

  protected transmit(bytes: Buffer): void {
    if (this.#peer === undefined || this.closed) return;
    try {
      this.#client.send(this.#peer, bytes);
    } catch (error) {
      this.logger.debug({ err: error }, 'datagram to the TURN server not sent');
    }
  }

  protected release(): Promise<void> {
    return this.#client.close();
  }

  #onData(data: Buffer, from: TransportAddress): void {
    if (!this.#permitted.has(from.address)) return;
    if (this.#locked && (from.address !== this.#peer?.address || from.port !== this.#peer.port)) return;
    this.#peer = { address: from.address, port: from.port };
    this.deliver(data);
  }
}

/** The reaching end: a plain UDP socket talking to the peer's relayed address. */
export class RelayedAddressChannel extends TurnDatagramChannel {
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  readonly #socket: dgram.Socket;

  private constructor(socket: dgram.Socket, relayed: { address: string; port: number }, logger: Logger) {
    super(logger);
    this.#socket = socket;
    const { address, port, family } = socket.address();
    this.local = { address, port, family: family === 'IPv6' ? 'IPv6' : 'IPv4' };
    this.remote = addressOf(relayed.address, relayed.port);
    socket.on('message', (data) => this.deliver(data));
    socket.on('error', (error) => this.logger.debug({ err: error }, 'TURN path socket error'));
  }

  /** Binds a fresh socket connected to `relayed` (only the relay's datagrams are received). */
  static async open(relayed: { address: string; port: number }, logger: Logger): Promise<RelayedAddressChannel> {
    const socket = dgram.createSocket(net.isIPv6(relayed.address) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => socket.connect(relayed.port, relayed.address, () => {
        socket.off('error', reject);
        resolve();
      }));
    }).catch((error: Error) => {
      socket.close();
      throw new TurnClosedError(`cannot open a UDP socket toward the relayed address: ${error.message}`, { cause: error });
    });
    return new RelayedAddressChannel(socket, relayed, logger);
  }

  protected transmit(bytes: Buffer): void {
    if (this.closed) return;
    this.#socket.send(bytes, (error) => {
      if (error) this.logger.debug({ err: error }, 'datagram to the relayed address not sent');
    });
  }

  protected release(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
