/**
 * UDP relay datagrams carried over one TCP connection (pure, no I/O), for peers whose network
 * drops UDP. Each frame is
 *   length (2, big-endian) | relay datagram (length bytes)
 * where the relay datagram is exactly what the UDP relay exchanges (attach-protocol.ts: type byte,
 * then ATTACH / ATTACH_REPLY / KEEPALIVE / CLOSE / DATA), so the relay bridges a TCP-attached
 * peer and a UDP-attached one by adding or removing the two length bytes.
 */
export const DATAGRAM_FRAME_HEADER_LENGTH = 2;
/**
 * Largest relay datagram a frame may carry: a jumbo-frame path's datagram (9000-byte MTU) plus
 * the type byte fits; anything larger is no datagram a UDP peer could have sent, so it is refused.
 */
export const MAX_DATAGRAM_FRAME_BODY = 9216;

export function encodeDatagramFrame(parts: ReadonlyArray<Buffer | Uint8Array>): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  if (length === 0 || length > MAX_DATAGRAM_FRAME_BODY) throw new RangeError(`a relay datagram frame carries 1..${MAX_DATAGRAM_FRAME_BODY} bytes, got ${length}`);
  const header = Buffer.allocUnsafe(DATAGRAM_FRAME_HEADER_LENGTH);
  header.writeUInt16BE(length, 0);
  return Buffer.concat([header, ...parts], DATAGRAM_FRAME_HEADER_LENGTH + length);
}

export type FrameRead = { kind: 'frame'; body: Buffer } | { kind: 'invalid'; reason: string };

/**
 * Splits a TCP byte stream into frame bodies. Holds at most one frame's bytes; a length of zero or
 * above MAX_DATAGRAM_FRAME_BODY is reported as invalid (the stream cannot be resynchronised).
 */
export class DatagramFrameReader {
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #failed = false;

  /** Bytes received but not yet returned as a frame (a partial frame). */
  get buffered(): number {
    return this.#pendingLength;
  }

  /** Adds `chunk` and returns the frames it completes; after an invalid frame nothing more is read. */
  push(chunk: Buffer): FrameRead[] {
    if (this.#failed) return [];
    this.#pending.push(chunk);
    this.#pendingLength += chunk.length;
    let bytes = this.#pending.length === 1 ? chunk : Buffer.concat(this.#pending, this.#pendingLength);
    const frames: FrameRead[] = [];
    while (bytes.length >= DATAGRAM_FRAME_HEADER_LENGTH) {
      const length = bytes.readUInt16BE(0);
      if (length === 0 || length > MAX_DATAGRAM_FRAME_BODY) {
        this.#failed = true;
        this.#pending = [];
        this.#pendingLength = 0;
        frames.push({ kind: 'invalid', reason: length === 0 ? 'empty frame' : `frame of ${length} bytes exceeds ${MAX_DATAGRAM_FRAME_BODY}` });
        return frames;
      }
      const end = DATAGRAM_FRAME_HEADER_LENGTH + length;
      if (bytes.length < end) break;
      frames.push({ kind: 'frame', body: bytes.subarray(DATAGRAM_FRAME_HEADER_LENGTH, end) });
      bytes = bytes.subarray(end);
    }
    this.#pending = bytes.length > 0 ? [bytes] : [];
    this.#pendingLength = bytes.length;
    return frames;
  }
}
