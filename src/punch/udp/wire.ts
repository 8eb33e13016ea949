/**
 * The datagrams of a UDP punch and of the connection it yields (pure encode / decode).
 *
 * Every datagram starts with a 4-byte header: two magic bytes, a version and a type. The first
 * magic byte has its two top bits set, so it never passes for STUN (RFC 8489 §5: top bits 00),
 * nor for DTLS (20-63) or RTP (128-191) in RFC 7983's demultiplexing ranges.
 *
 *   0xCE 0x75 version type | body
 *   PROBE     role(1) nonce(16) mac(16)
 *   ACK       role(1) flags(1) nonce(16) echo(16) mac(16)
 *   DATA      payload
 *   KEEPALIVE (empty)
 *   CLOSE     role(1) mac(16)
 */
export const WIRE_MAGIC = Buffer.from([0xce, 0x75]);
export const WIRE_VERSION = 1;
export const HEADER_LENGTH = 4;
export const NONCE_LENGTH = 16;
export const MAC_LENGTH = 16;

export const FrameType = { Probe: 1, Ack: 2, Data: 16, Keepalive: 17, Close: 18 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export type PunchRole = 'initiator' | 'responder';
export const ROLE_BYTE: Record<PunchRole, number> = { initiator: 1, responder: 2 };

/** ACK flag: the initiator chose this path (or, from the responder, confirms that choice). */
export const ACK_FLAG_NOMINATE = 0x01;

export type Frame =
  | { type: typeof FrameType.Probe; role: number; nonce: Buffer; mac: Buffer }
  | { type: typeof FrameType.Ack; role: number; flags: number; nonce: Buffer; echo: Buffer; mac: Buffer }
  | { type: typeof FrameType.Data; payload: Buffer }
  | { type: typeof FrameType.Keepalive }
  | { type: typeof FrameType.Close; role: number; mac: Buffer };

const PROBE_BODY = 1 + NONCE_LENGTH + MAC_LENGTH;
const ACK_BODY = 2 + 2 * NONCE_LENGTH + MAC_LENGTH;
const CLOSE_BODY = 1 + MAC_LENGTH;

export function header(type: FrameType): Buffer {
  return Buffer.from([WIRE_MAGIC[0]!, WIRE_MAGIC[1]!, WIRE_VERSION, type]);
}

/** Cheap demultiplexing test: magic and version match. */
export function isWireFrame(bytes: Buffer): boolean {
  return bytes.length >= HEADER_LENGTH && bytes[0] === WIRE_MAGIC[0] && bytes[1] === WIRE_MAGIC[1] && bytes[2] === WIRE_VERSION;
}

/**
 * Decodes one datagram; undefined for anything that is not a well-formed frame of ours (stray
 * packets are normal on a punched port and must not raise).
 */
export function decodeFrame(bytes: Buffer): Frame | undefined {
  if (!isWireFrame(bytes)) return undefined;
  const body = bytes.subarray(HEADER_LENGTH);
  switch (bytes[3]) {
    case FrameType.Probe:
      if (body.length !== PROBE_BODY) return undefined;
      return {
        type: FrameType.Probe,
        role: body[0]!,
        nonce: body.subarray(1, 1 + NONCE_LENGTH),
        mac: body.subarray(1 + NONCE_LENGTH),
      };
    case FrameType.Ack:
      if (body.length !== ACK_BODY) return undefined;
      return {
        type: FrameType.Ack,
        role: body[0]!,
        flags: body[1]!,
        nonce: body.subarray(2, 2 + NONCE_LENGTH),
        echo: body.subarray(2 + NONCE_LENGTH, 2 + 2 * NONCE_LENGTH),
        mac: body.subarray(2 + 2 * NONCE_LENGTH),
      };
    case FrameType.Data:
      return { type: FrameType.Data, payload: body };
    case FrameType.Keepalive:
      return body.length === 0 ? { type: FrameType.Keepalive } : undefined;
    case FrameType.Close:
      if (body.length !== CLOSE_BODY) return undefined;
      return { type: FrameType.Close, role: body[0]!, mac: body.subarray(1) };
    default:
      return undefined;
  }
}

export function encodeData(payload: Buffer): Buffer {
  return Buffer.concat([header(FrameType.Data), payload]);
}

export function encodeKeepalive(): Buffer {
  return header(FrameType.Keepalive);
}
