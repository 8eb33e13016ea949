import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { TransportAddress } from '../../codec/index.js';
import { AbortedError, TimeoutError } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import { computeProof, NONCE_BYTES, PROOF_BYTES } from '../../punch/tcp/handshake.js';
import type { RelayUdpChannel, RelayUdpChannelEvents } from '../../relay/index.js';
import type { Role } from '../../broker/index.js';
import type { DatagramConnection } from '../path.js';

/** What the proof needs of a relayed channel: the built-in relay's, or a TURN path's of the same shape. */
export interface RelayedChannel extends EventEmitter<RelayUdpChannelEvents>, Pick<RelayUdpChannel, 'local' | 'remote' | 'maxDatagramSize' | 'closed' | 'send' | 'close'> {}

/** The first byte of every datagram this layer sends through the relay. */
const FrameType = { Data: 0x00, Hello: 0x01, Proof: 0x02, Select: 0x03 } as const;
const ROLE_BYTE: Record<Role, number> = { initiator: 0x49, responder: 0x52 };
/** HELLO is repeated this often until the peer proved itself (the relay path may drop datagrams). */
export const HELLO_INTERVAL_MS = 200;
/** SELECT copies sent when the initiator picks the relayed path. */
const SELECT_COPIES = 3;

function other(role: Role): Role {
  return role === 'initiator' ? 'responder' : 'initiator';
}

export interface RelayedDatagramOptions {
  role: Role;
  connectionId: string;
  secret: Buffer;
  signal: AbortSignal;
  timeoutMs: number;
  logger: Logger;
}

/**
 * A relayed UDP channel after the end-to-end proof of the per-connection secret (the TCP
 * handshake's HELLO / PROOF / SELECT, one datagram each, repeated until answered; the initiator
 * sends SELECT once it keeps this path, see `select`). Every
 * datagram carries a one-byte type, so late handshake copies never reach the application.
 */
export class RelayedDatagrams extends EventEmitter implements DatagramConnection {
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  readonly maxDatagramSize: number;
  readonly #channel: RelayedChannel;
  readonly #options: RelayedDatagramOptions;
  readonly #ownNonce = randomBytes(NONCE_BYTES);
  #peerNonce: Buffer | undefined;
  #peerProved = false;
  #established = false;
  #selected = false;
  readonly #early: Buffer[] = [];

  private constructor(channel: RelayedChannel, options: RelayedDatagramOptions) {
    super();
    this.#channel = channel;
    this.#options = options;
    this.local = channel.local;
    this.remote = channel.remote;
    this.maxDatagramSize = channel.maxDatagramSize - 1;
  }

  /** Runs the proof over `channel`; the channel is closed when it fails. */
  static async establish(channel: RelayedChannel, options: RelayedDatagramOptions): Promise<RelayedDatagrams> {
    const connection = new RelayedDatagrams(channel, options);
    try {
      await connection.#handshake();
      return connection;
    } catch (error) {
      await channel.close();
      throw error;
    }
  }

  get closed(): boolean {
    return this.#channel.closed;
  }

  send(data: Buffer): void {
    this.#channel.send(Buffer.concat([Buffer.of(FrameType.Data), data]));
  }

  close(): Promise<void> {
    return this.#channel.close();
  }

  /** The initiator keeps this path: the responder's handshake completes on SELECT. */
  select(): void {
    if (this.#options.role !== 'initiator') return;
    this.#selected = true;
    this.#select();
  }

  #handshake(): Promise<void> {
    const { signal, timeoutMs, role } = this.#options;
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearInterval(hello);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#channel.off('close', onClose);
        if (error) return reject(error);
        this.#established = true;
        resolve();
        if (this.#early.length > 0) setImmediate(() => this.#early.splice(0).forEach((payload) => this.emit('message', payload)));
      };
      const onAbort = (): void => finish(new AbortedError('relay verification aborted', { cause: signal.reason }));
      const onClose = (): void => finish(new AbortedError('the relay ended the session during verification'));
      const timer = setTimeout(() => finish(new TimeoutError(`no proof from the peer through the relay within ${timeoutMs} ms`, timeoutMs)), timeoutMs);
      const sendHello = (): void => this.#transmit(Buffer.concat([Buffer.of(FrameType.Hello, ROLE_BYTE[role]), this.#ownNonce]));
      const hello = setInterval(() => {
        if (!this.#peerProved) sendHello();
      }, HELLO_INTERVAL_MS);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#channel.once('close', onClose);
      this.#channel.on('message', (payload: Buffer) => {
        if (this.#receive(payload) && !this.#established) finish();
      });
      this.#channel.on('close', (event: { reason: string }) => this.emit('close', event));
      sendHello();
    });
  }

  /** Handles one datagram; true when it completes the handshake for this side. */
  #receive(payload: Buffer): boolean {
    const type = payload[0];
    const body = payload.subarray(1);
    const { role } = this.#options;
    switch (type) {
      case FrameType.Data:
        if (this.#established) this.emit('message', Buffer.from(body));
        // The initiator sends data only after selecting: its SELECT was lost.
        else if (this.#peerProved && role === 'responder') {
          this.#early.push(Buffer.from(body));
          return true;
        }
        return false;
      case FrameType.Hello:
        return this.#onHello(body);
      case FrameType.Proof:
        return this.#onProof(body);
      case FrameType.Select:
        return role === 'responder' && this.#peerProved;
      default:
        return false;
    }
  }

  #onHello(body: Buffer): boolean {
    const { role, secret, connectionId } = this.#options;
    if (body.length !== 1 + NONCE_BYTES || body[0] !== ROLE_BYTE[other(role)]) return false;
    const nonce = Buffer.from(body.subarray(1));
    if (this.#peerNonce !== undefined && !this.#peerNonce.equals(nonce)) return false;
    this.#peerNonce = nonce;
    // Answered every time: our earlier proof may have been lost.
    this.#transmit(Buffer.concat([Buffer.of(FrameType.Proof), computeProof(secret, connectionId, role, nonce, this.#ownNonce)]));
    if (this.#selected) this.#select();
    return false;
  }

  #onProof(body: Buffer): boolean {
    const { role, secret, connectionId } = this.#options;
    if (this.#peerProved || this.#peerNonce === undefined || body.length !== PROOF_BYTES) return false;
    const expected = computeProof(secret, connectionId, other(role), this.#ownNonce, this.#peerNonce);
    if (!timingSafeEqual(body, expected)) {
      this.#options.logger.warn({ connectionId }, 'relayed datagram failed the peer proof');
      return false;
    }
    this.#peerProved = true;
    // The initiator's side is complete; whether it keeps this path is decided by select().
    return role === 'initiator';
  }

  #select(): void {
    for (let copy = 0; copy < SELECT_COPIES; copy++) this.#transmit(Buffer.of(FrameType.Select));
  }

  #transmit(bytes: Buffer): void {
    if (this.#channel.closed) return;
    try {
      this.#channel.send(bytes);
    } catch (error) {
      this.#options.logger.debug({ err: error }, 'relayed handshake datagram not sent');
    }
  }
}
