/**
 * The built-in relay's wire format (pure, no I/O).
 *
 * TCP: the client opens a connection and sends one attach frame
 *   'N' 'T' 'R' 'L' | version (1) | token length (1) | token (ASCII)
 * and the relay answers with one reply frame
 *   'N' 'T' 'R' 'L' | version (1) | status (1)
 * once both peers are attached (status Ok) or at once on an error. After Ok the connection carries
 * the other peer's bytes unchanged, both ways.
 *
 * UDP: every datagram between a client and the relay starts with a type byte. DATA datagrams carry
 * the peer's payload after that byte; the others are control messages:
 *   ATTACH       type | version | token length | token
 *   ATTACH_REPLY type | version | status
 *   KEEPALIVE    type
 *   CLOSE        type
 * The same datagrams also travel over TCP, length-prefixed, for peers whose UDP is blocked
 * (datagram-frames.ts).
 */
export const RELAY_MAGIC = Buffer.from('NTRL', 'ascii');
export const RELAY_PROTOCOL_VERSION = 1;
/** Tokens are base64url text; 255 is the most the length byte can say. */
export const MAX_TOKEN_LENGTH = 255;
export const TCP_ATTACH_HEADER_LENGTH = RELAY_MAGIC.length + 2;
export const TCP_REPLY_LENGTH = RELAY_MAGIC.length + 2;

export const UdpType = { Data: 0, Attach: 1, AttachReply: 2, Keepalive: 3, Close: 4 } as const;
export type UdpType = (typeof UdpType)[keyof typeof UdpType];

export type AttachParse =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'attach'; version: number; token: string; consumed: number };

export function encodeTcpAttach(token: string): Buffer {
  const tokenBytes = tokenToBytes(token);
  return Buffer.concat([RELAY_MAGIC, Buffer.from([RELAY_PROTOCOL_VERSION, tokenBytes.length]), tokenBytes]);
}

/** Parses an attach frame from the start of `bytes`; `incomplete` asks for more bytes. */
export function parseTcpAttach(bytes: Buffer): AttachParse {
  const magicSeen = Math.min(bytes.length, RELAY_MAGIC.length);
  if (!bytes.subarray(0, magicSeen).equals(RELAY_MAGIC.subarray(0, magicSeen))) return { kind: 'invalid', reason: 'bad magic' };
  if (bytes.length < TCP_ATTACH_HEADER_LENGTH) return { kind: 'incomplete' };
  const version = bytes[RELAY_MAGIC.length]!;
  if (version !== RELAY_PROTOCOL_VERSION) return { kind: 'invalid', reason: `unsupported version ${version}` };
  const tokenLength = bytes[RELAY_MAGIC.length + 1]!;
  if (tokenLength === 0) return { kind: 'invalid', reason: 'empty token' };
  const end = TCP_ATTACH_HEADER_LENGTH + tokenLength;
  if (bytes.length < end) return { kind: 'incomplete' };
  return { kind: 'attach', version, token: bytes.toString('latin1', TCP_ATTACH_HEADER_LENGTH, end), consumed: end };
}

export function encodeTcpReply(status: number): Buffer {
  return Buffer.concat([RELAY_MAGIC, Buffer.from([RELAY_PROTOCOL_VERSION, status])]);
}

export type ReplyParse = { kind: 'incomplete' } | { kind: 'invalid'; reason: string } | { kind: 'reply'; status: number };

export function parseTcpReply(bytes: Buffer): ReplyParse {
  const magicSeen = Math.min(bytes.length, RELAY_MAGIC.length);
  if (!bytes.subarray(0, magicSeen).equals(RELAY_MAGIC.subarray(0, magicSeen))) return { kind: 'invalid', reason: 'bad magic' };
  if (bytes.length < TCP_REPLY_LENGTH) return { kind: 'incomplete' };
  const version = bytes[RELAY_MAGIC.length]!;
  if (version !== RELAY_PROTOCOL_VERSION) return { kind: 'invalid', reason: `unsupported version ${version}` };
  return { kind: 'reply', status: bytes[RELAY_MAGIC.length + 1]! };
}

export function encodeUdpAttach(token: string): Buffer {
  const tokenBytes = tokenToBytes(token);
  return Buffer.concat([Buffer.from([UdpType.Attach, RELAY_PROTOCOL_VERSION, tokenBytes.length]), tokenBytes]);
}

export type UdpControl =
  | { type: typeof UdpType.Attach; token: string }
  | { type: typeof UdpType.AttachReply; status: number }
  | { type: typeof UdpType.Keepalive }
  | { type: typeof UdpType.Close }
  | { type: typeof UdpType.Data }
  | { type: 'invalid'; reason: string };

/** Classifies a datagram; DATA is not copied (its payload is `bytes.subarray(1)`). */
export function parseUdp(bytes: Buffer): UdpControl {
  if (bytes.length === 0) return { type: 'invalid', reason: 'empty datagram' };
  switch (bytes[0]) {
    case UdpType.Data:
      return { type: UdpType.Data };
    case UdpType.Keepalive:
      return { type: UdpType.Keepalive };
    case UdpType.Close:
      return { type: UdpType.Close };
    case UdpType.Attach: {
      if (bytes.length < 4 || bytes[1] !== RELAY_PROTOCOL_VERSION) return { type: 'invalid', reason: 'bad attach header' };
      const tokenLength = bytes[2]!;
      if (tokenLength === 0 || bytes.length !== 3 + tokenLength) return { type: 'invalid', reason: 'bad token length' };
      return { type: UdpType.Attach, token: bytes.toString('latin1', 3) };
    }
    case UdpType.AttachReply:
      if (bytes.length !== 3 || bytes[1] !== RELAY_PROTOCOL_VERSION) return { type: 'invalid', reason: 'bad attach reply' };
      return { type: UdpType.AttachReply, status: bytes[2]! };
    default:
      return { type: 'invalid', reason: `unknown type ${bytes[0]}` };
  }
}

export function encodeUdpReply(status: number): Buffer {
  return Buffer.from([UdpType.AttachReply, RELAY_PROTOCOL_VERSION, status]);
}

export const UDP_DATA_HEADER = Buffer.from([UdpType.Data]);
export const UDP_KEEPALIVE = Buffer.from([UdpType.Keepalive]);
export const UDP_CLOSE = Buffer.from([UdpType.Close]);

function tokenToBytes(token: string): Buffer {
  const bytes = Buffer.from(token, 'latin1');
  if (bytes.length === 0 || bytes.length > MAX_TOKEN_LENGTH) throw new RangeError(`relay token must be 1..${MAX_TOKEN_LENGTH} bytes`);
  return bytes;
}
