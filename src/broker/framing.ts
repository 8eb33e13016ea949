import { FRAME_HEADER_BYTES } from './protocol.js';
import { BadMessageError, FrameTooLargeError } from './errors.js';

/** One frame: a 4-byte big-endian body length, then the message as UTF-8 JSON. */
export function encodeFrame(message: object): Buffer {
  return frameOf(JSON.stringify(message));
}

/**
 * Stands in a message for JSON that is already encoded (a stored profile), so it is spliced in
 * as text instead of being parsed and encoded again. No field the broker sends may contain
 * control characters except this marker (ids and addresses are validated), and the first
 * occurrence is replaced, which is the first field of that value in key order.
 */
export const RAW_JSON = '\u0000raw-json\u0000';
const RAW_JSON_ENCODED = JSON.stringify(RAW_JSON);

export function encodeFrameWithRawJson(message: object, rawJson: string): Buffer {
  return frameOf(JSON.stringify(message).replace(RAW_JSON_ENCODED, () => rawJson));
}

function frameOf(json: string): Buffer {
  const length = Buffer.byteLength(json, 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  frame.writeUInt32BE(length, 0);
  frame.write(json, FRAME_HEADER_BYTES, 'utf8');
  return frame;
}

/**
 * Splits a byte stream into frame bodies. A header announcing more than `maxFrameBytes` throws
 * before any of the body is buffered, so a peer cannot make us hold more than one frame. Partial
 * chunks are kept as a list and joined once the frame is complete: a peer that trickles a frame
 * byte by byte costs one copy of it, not one copy per byte.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes needed before anything can be decoded: a header, or the whole announced frame. */
  #needed = FRAME_HEADER_BYTES;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held while waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Returns the complete frame bodies in `chunk` (plus what was buffered); throws on a bad header. */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered < this.#needed) return [];
    let data = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [];
    this.#buffered = 0;
    this.#needed = FRAME_HEADER_BYTES;
    const frames: Buffer[] = [];
    while (data.length >= FRAME_HEADER_BYTES) {
      const length = data.readUInt32BE(0);
      if (length > this.#maxFrameBytes) throw new FrameTooLargeError(length, this.#maxFrameBytes);
      if (length === 0) throw new BadMessageError('empty frame');
      if (data.length < FRAME_HEADER_BYTES + length) {
        this.#needed = FRAME_HEADER_BYTES + length;
        break;
      }
      frames.push(data.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length));
      data = data.subarray(FRAME_HEADER_BYTES + length);
    }
    if (data.length > 0) {
      // Copy the remainder so a small tail does not pin the whole socket chunk in memory.
      this.#chunks.push(Buffer.from(data));
      this.#buffered = data.length;
    }
    return frames;
  }
}

/** JSON.parse with the failure typed; the result still needs schema validation. */
export function parseFrameBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new BadMessageError('frame is not valid JSON', { cause: error });
  }
}
