import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../../errors.js';
import {
  ACK_FLAG_NOMINATE,
  FrameType,
  header,
  MAC_LENGTH,
  NONCE_LENGTH,
  ROLE_BYTE,
  type Frame,
  type PunchRole,
} from './wire.js';

/** A per-connection secret shorter than this is too easy to guess within a punch's lifetime. */
export const MIN_SECRET_LENGTH = 16;
const MAX_CONNECTION_ID_LENGTH = 255;
const EMPTY_NONCE = Buffer.alloc(NONCE_LENGTH);

export interface VerifierOptions {
  secret: Buffer;
  connectionId: string;
  role: PunchRole;
  /** This side's nonce for the whole punch. @default 16 random bytes */
  nonce?: Buffer;
}

/**
 * Mutual proof of the broker's per-connection secret, as a challenge / response:
 *
 * 1. Each side sends PROBE(role, nonce, mac) to every candidate; the mac shows it knows the
 *    secret and the connection id, but a PROBE can be replayed, so it proves nothing about the path.
 * 2. Whoever gets a valid PROBE answers ACK(role, own nonce, echo = the prober's nonce, mac).
 *    An ACK echoing our own fresh nonce, arriving on a path, proves the peer is live there.
 * 3. Whoever gets a valid ACK for a path it had not verified yet answers with an ACK too, so one
 *    probe and two ACKs verify a path both ways.
 * 4. The initiator nominates the first path it verified (ACK with the nominate flag); the
 *    responder adopts it and confirms with a nominated ACK of its own.
 *
 * The mac is HMAC-SHA256(secret, type | role | flags | nonce | echo | connection id), truncated to
 * 16 bytes. The role byte makes a reflected copy of one's own datagram invalid.
 */
export class Verifier {
  readonly role: PunchRole;
  readonly nonce: Buffer;
  readonly #secret: Buffer;
  readonly #connectionId: Buffer;
  readonly #peerRole: number;

  constructor(options: VerifierOptions) {
    if (!Buffer.isBuffer(options.secret) || options.secret.length < MIN_SECRET_LENGTH) {
      throw new InvalidArgumentError(`the punch secret must be a Buffer of at least ${MIN_SECRET_LENGTH} bytes`);
    }
    const connectionId = Buffer.from(options.connectionId, 'utf8');
    if (connectionId.length === 0 || connectionId.length > MAX_CONNECTION_ID_LENGTH) {
      throw new InvalidArgumentError(`the connection id must be 1..${MAX_CONNECTION_ID_LENGTH} bytes of UTF-8`);
    }
    if (options.nonce !== undefined && options.nonce.length !== NONCE_LENGTH) {
      throw new InvalidArgumentError(`a nonce is ${NONCE_LENGTH} bytes`);
    }
    this.role = options.role;
    this.nonce = options.nonce ?? randomBytes(NONCE_LENGTH);
    this.#secret = options.secret;
    this.#connectionId = connectionId;
    this.#peerRole = ROLE_BYTE[options.role === 'initiator' ? 'responder' : 'initiator'];
  }

  probe(): Buffer {
    const role = ROLE_BYTE[this.role];
    return Buffer.concat([header(FrameType.Probe), Buffer.from([role]), this.nonce, this.#mac(FrameType.Probe, role, 0, this.nonce, EMPTY_NONCE)]);
  }

  ack(peerNonce: Buffer, nominate: boolean): Buffer {
    const role = ROLE_BYTE[this.role];
    const flags = nominate ? ACK_FLAG_NOMINATE : 0;
    return Buffer.concat([
      header(FrameType.Ack),
      Buffer.from([role, flags]),
      this.nonce,
      peerNonce,
      this.#mac(FrameType.Ack, role, flags, this.nonce, peerNonce),
    ]);
  }

  close(): Buffer {
    const role = ROLE_BYTE[this.role];
    return Buffer.concat([header(FrameType.Close), Buffer.from([role]), this.#mac(FrameType.Close, role, 0, EMPTY_NONCE, EMPTY_NONCE)]);
  }

  /** The peer's nonce when `frame` is a PROBE from the peer (right role, right mac). */
  checkProbe(frame: Frame): Buffer | undefined {
    if (frame.type !== FrameType.Probe || frame.role !== this.#peerRole) return undefined;
    const expected = this.#mac(FrameType.Probe, frame.role, 0, frame.nonce, EMPTY_NONCE);
    return this.#equal(frame.mac, expected) ? Buffer.from(frame.nonce) : undefined;
  }

  /** The peer's nonce and nomination when `frame` is the peer's ACK of our current nonce. */
  checkAck(frame: Frame): { peerNonce: Buffer; nominate: boolean } | undefined {
    if (frame.type !== FrameType.Ack || frame.role !== this.#peerRole) return undefined;
    if (!this.#equal(frame.echo, this.nonce)) return undefined;
    const expected = this.#mac(FrameType.Ack, frame.role, frame.flags, frame.nonce, frame.echo);
    if (!this.#equal(frame.mac, expected)) return undefined;
    return { peerNonce: Buffer.from(frame.nonce), nominate: (frame.flags & ACK_FLAG_NOMINATE) !== 0 };
  }

  /** True when `frame` is the peer's CLOSE for this connection. */
  checkClose(frame: Frame): boolean {
    if (frame.type !== FrameType.Close || frame.role !== this.#peerRole) return false;
    return this.#equal(frame.mac, this.#mac(FrameType.Close, frame.role, 0, EMPTY_NONCE, EMPTY_NONCE));
  }

  #mac(type: number, role: number, flags: number, nonce: Buffer, echo: Buffer): Buffer {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(this.#connectionId.length);
    return createHmac('sha256', this.#secret)
      .update(Buffer.from([type, role, flags]))
      .update(nonce)
      .update(echo)
      .update(length)
      .update(this.#connectionId)
      .digest()
      .subarray(0, MAC_LENGTH);
  }

  #equal(a: Buffer, b: Buffer): boolean {
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
