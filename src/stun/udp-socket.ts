import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { decodeMessage, encodeMessage, type StunMessage, type TransportAddress } from '../codec/index.js';
import { systemClock, type Clock } from './clock.js';
import { StunSocketClosedError } from './errors.js';
import { Retransmission, type RetransmitOptions } from './retransmit.js';
import { transportAddress, type HostPort } from './addresses.js';

const HEADER_LENGTH = 20;
const RESPONSE_CLASS_BIT = 0x0100;
const MAGIC_COOKIE = 0x2112a442;

export interface StunUdpSocketOptions {
  /** Local address to bind. @default '0.0.0.0' ('::' for type 'udp6') */
  address?: string;
  /** Local port; 0 picks an ephemeral one. @default 0 */
  port?: number;
  /** @default 'udp6' when `address` is IPv6, else 'udp4' */
  type?: 'udp4' | 'udp6';
}

export interface StunRequestOptions extends RetransmitOptions {
  signal?: AbortSignal;
  /** Overall deadline in ms on top of the retransmission schedule. @default none */
  timeoutMs?: number;
}

export interface StunTransactionResult {
  response: StunMessage;
  from: TransportAddress;
  rttMs: number;
}

interface Pending {
  retransmission: Retransmission<StunTransactionResult>;
  firstSentAt: number;
}

/** Transaction ids are matched on bytes 8..20 (after the magic cookie) of an RFC 5389+ message. */
function transactionKey(bytes: Buffer): string {
  return bytes.toString('hex', 8, HEADER_LENGTH);
}

function isStunResponse(bytes: Buffer): boolean {
  return (
    bytes.length >= HEADER_LENGTH &&
    (bytes[0]! & 0xc0) === 0 &&
    (bytes.readUInt16BE(0) & RESPONSE_CLASS_BIT) !== 0 &&
    bytes.readUInt32BE(4) === MAGIC_COOKIE
  );
}

/**
 * A dgram socket shared by STUN transactions and application traffic (hole punching sends
 * both through one NAT mapping). STUN responses whose transaction id matches a pending request
 * settle it; every other datagram is emitted as `'message' (bytes, rinfo)` for the owner.
 * A matching response that does not decode is emitted as `'invalid' (error, rinfo)` and the
 * transaction keeps waiting (a spoofed or corrupt datagram must not end it).
 */
export class StunUdpSocket extends EventEmitter {
  readonly socket: dgram.Socket;
  readonly #pending = new Map<string, Pending>();
  readonly #clock: Clock;
  #closed = false;

  /** Wraps an already bound socket; prefer `StunUdpSocket.bind`. */
  constructor(socket: dgram.Socket, clock: Clock = systemClock) {
    super();
    this.socket = socket;
    this.#clock = clock;
    socket.on('message', (bytes, rinfo) => this.#onMessage(bytes, rinfo));
    socket.on('error', (error) => this.#onError(error));
  }

  static override async bind(options: StunUdpSocketOptions = {}, clock: Clock = systemClock): Promise<StunUdpSocket> {
    const type = options.type ?? (options.address !== undefined && isIPv6(options.address) ? 'udp6' : 'udp4');
    const socket = dgram.createSocket({ type });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: options.address, port: options.port ?? 0 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new StunUdpSocket(socket, clock);
  }

  local(): TransportAddress {
    const { address, port } = this.socket.address();
    return transportAddress(address, port);
  }

  /** Transactions still waiting for a response. */
  get pendingTransactions(): number {
    return this.#pending.size;
  }

  /**
   * Sends `message` (a request) with RFC 8489 retransmissions and resolves with the response
   * matching its transaction id, error responses included; rejects with StunTimeoutError,
   * AbortedError or StunSocketClosedError.
   */
  request(message: StunMessage, to: HostPort, options: StunRequestOptions = {}): Promise<StunTransactionResult> {
    if (this.#closed) return Promise.reject(new StunSocketClosedError());
    const bytes = encodeMessage(message);
    const key = transactionKey(bytes);
    const pending: Pending = {
      firstSentAt: this.#clock.now(),
      retransmission: new Retransmission<StunTransactionResult>({
        ...options,
        clock: this.#clock,
        send: () => this.socket.send(bytes, to.port, to.host, (error) => error && pending.retransmission.fail(error)),
      }),
    };
    this.#pending.set(key, pending);
    const forget = () => this.#pending.delete(key);
    return pending.retransmission.promise.finally(forget);
  }

  /** Application data (or a STUN indication) on the shared socket; send errors are emitted as 'error'. */
  send(bytes: Buffer, to: HostPort): void {
    this.socket.send(bytes, to.port, to.host, (error) => error && this.#onError(error));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.retransmission.fail(new StunSocketClosedError());
    this.#pending.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  #onMessage(bytes: Buffer, rinfo: dgram.RemoteInfo): void {
    const pending = isStunResponse(bytes) ? this.#pending.get(transactionKey(bytes)) : undefined;
    if (pending === undefined) {
      this.emit('message', bytes, rinfo);
      return;
    }
    let response: StunMessage;
    try {
      response = decodeMessage(bytes);
    } catch (error) {
      this.emit('invalid', error, rinfo);
      return;
    }
    pending.retransmission.complete({
      response,
      from: transportAddress(rinfo.address, rinfo.port),
      rttMs: this.#clock.now() - pending.firstSentAt,
    });
  }

  #onError(error: Error): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
      return;
    }
    // Nobody listens: the error belongs to whoever is waiting on this socket.
    for (const pending of this.#pending.values()) pending.retransmission.fail(error);
  }
}
