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
 * before any of the body is buffered, so a peer cannot make us hold more than one frame.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #buffered: Buffer | undefined;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held while waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#buffered?.length ?? 0;
  }

  /** Returns the complete frame bodies in `chunk` (plus what was buffered); throws on a bad header. */
  push(chunk: Buffer): Buffer[] {
    let data = this.#buffered ? Buffer.concat([this.#buffered, chunk]) : chunk;
    this.#buffered = undefined;
    const frames: Buffer[] = [];
    while (data.length >= FRAME_HEADER_BYTES) {
      const length = data.readUInt32BE(0);
      if (length > this.#maxFrameBytes) throw new FrameTooLargeError(length, this.#maxFrameBytes);
      if (length === 0) throw new BadMessageError('empty frame');
      if (data.length < FRAME_HEADER_BYTES + length) break;
      frames.push(data.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length));
      data = data.subarray(FRAME_HEADER_BYTES + length);
    }
    // Copy the remainder so a small tail does not pin the whole socket chunk in memory.
    if (data.length > 0) this.#buffered = Buffer.from(data);
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
