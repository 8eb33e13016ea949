import { StunFramingError } from './errors.js';

const HEADER_LENGTH = 20;
const EMPTY = Buffer.alloc(0);
/** RFC 8489 section 6.2.2: a STUN message over TCP is self-delimiting (20 + length bytes). */
export const DEFAULT_MAX_FRAME_BYTES = 2048;

/**
 * Splits a TCP byte stream into STUN messages. Holds at most one partial frame, so memory per
 * connection is bounded by `maxFrameBytes`.
 */
export class StunFrameDecoder {
  readonly #maxFrameBytes: number;
  #pending: Buffer = EMPTY;
  #consumed = 0;

  /** @param maxFrameBytes largest accepted message, header included. @default 2048 */
  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes waiting for the rest of their frame. */
  get buffered(): number {
    return this.#pending.length;
  }

  /**
   * Feeds bytes; returns every complete message. Throws StunFramingError on a bad frame.
   * Returned frames may be views into `chunk`: use them before reusing that buffer.
   */
  push(chunk: Buffer): Buffer[] {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: Buffer[] = [];
    while (data.length >= HEADER_LENGTH) {
      if ((data[0]! & 0xc0) !== 0) {
        throw new StunFramingError('stream does not carry STUN: first two bits of a frame are not zero', this.#consumed);
      }
      const bodyLength = data.readUInt16BE(2);
      const frameLength = HEADER_LENGTH + bodyLength;
      if (bodyLength % 4 !== 0 || frameLength > this.#maxFrameBytes) {
        throw new StunFramingError(`bad STUN frame length ${frameLength} (max ${this.#maxFrameBytes}, multiple of 4)`, this.#consumed);
      }
      if (data.length < frameLength) break;
      frames.push(data.subarray(0, frameLength));
      data = data.subarray(frameLength);
      this.#consumed += frameLength;
    }
    // a private copy of the partial frame: callers may reuse their chunk buffers
    this.#pending = data.length === 0 ? EMPTY : Buffer.from(data);
    return frames;
  }
}
