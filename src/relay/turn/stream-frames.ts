import { HEADER_LENGTH } from '../../codec/index.js';
import { CHANNEL_DATA_HEADER_LENGTH, paddingFor } from './channel-data.js';
import { TurnProtocolError } from './errors.js';

/** The most a framed message may claim: a 16-bit length plus its header. */
const MAX_FRAME = 0xffff + HEADER_LENGTH;

/**
 * RFC 8656 §12.5: over a stream (TCP or TLS) STUN messages and padded ChannelData follow each
 * other with no other delimiter; each message's own length field says where the next begins.
 * Collects a stream's chunks and hands out whole messages.
 */
export class StreamFrames {
  #buffered = Buffer.alloc(0);

  /** The whole messages `chunk` completes, in order; throws TurnProtocolError on bytes that are neither. */
  push(chunk: Buffer): Buffer[] {
    let data = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      const length = frameLength(data);
      if (length === undefined) break;
      if (length < 0 || length > MAX_FRAME) throw new TurnProtocolError('TURN server sent a bad frame');
      if (data.length < length) break;
      frames.push(data.subarray(0, length));
      data = data.subarray(length);
    }
    // A copy, so the caller's chunk (and the frames handed out) are not kept alive by the remainder.
    this.#buffered = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
    return frames;
  }
}

/** Length of the frame at the start of `data` (STUN or padded ChannelData); -1 when neither. */
function frameLength(data: Buffer): number | undefined {
  if (data.length < CHANNEL_DATA_HEADER_LENGTH) return undefined;
  const kind = data[0]! & 0xc0;
  const length = data.readUInt16BE(2);
  if (kind === 0x40) return CHANNEL_DATA_HEADER_LENGTH + length + paddingFor(length);
  if (kind === 0) return HEADER_LENGTH + length;
  return -1;
}
