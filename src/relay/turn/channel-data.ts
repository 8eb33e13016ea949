/**
 * RFC 8656 §12.4: ChannelData messages. A 4-byte header (channel number 0x4000..0x4FFF, data
 * length) and the data; over TCP the message is padded to a multiple of 4 bytes (§12.5).
 */
export const CHANNEL_MIN = 0x4000;
export const CHANNEL_MAX = 0x4fff;
export const CHANNEL_DATA_HEADER_LENGTH = 4;

export function isChannelData(bytes: Buffer): boolean {
  return bytes.length >= CHANNEL_DATA_HEADER_LENGTH && (bytes[0]! & 0xc0) === 0x40;
}

/** Header only, so the caller can send [header, data] without copying data. */
export function channelDataHeader(channel: number, dataLength: number): Buffer {
  const header = Buffer.alloc(CHANNEL_DATA_HEADER_LENGTH);
  header.writeUInt16BE(channel, 0);
  header.writeUInt16BE(dataLength, 2);
  return header;
}

export function paddingFor(dataLength: number): number {
  return (4 - (dataLength % 4)) % 4;
}

/** Parses a datagram holding one ChannelData message; undefined when it is too short. */
export function parseChannelData(bytes: Buffer): { channel: number; data: Buffer } | undefined {
  if (!isChannelData(bytes)) return undefined;
  const length = bytes.readUInt16BE(2);
  if (bytes.length < CHANNEL_DATA_HEADER_LENGTH + length) return undefined;
  return { channel: bytes.readUInt16BE(0), data: bytes.subarray(CHANNEL_DATA_HEADER_LENGTH, CHANNEL_DATA_HEADER_LENGTH + length) };
}
