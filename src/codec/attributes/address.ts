import { MAGIC_COOKIE } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { readIPv4, readIPv6, writeIPv4, writeIPv6 } from '../ip.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';
import type { AttributeCodec, CodecContext, TransportAddress } from '../types.js';
import { AttributeType } from '../constants.js';

/** RFC 8489 §14.1: family codes of the address attributes. */
const FAMILY_IPV4 = 0x01;
const FAMILY_IPV6 = 0x02;
const IPV4_VALUE_LENGTH = 8;
const IPV6_VALUE_LENGTH = 20;
const COOKIE_HIGH_16 = MAGIC_COOKIE >>> 16;

function checkAddress(name: string, value: TransportAddress): void {
  if (value === null || typeof value !== 'object') throw encodeFailure(name, 'expected a TransportAddress');
  if (!Number.isInteger(value.port) || value.port < 0 || value.port > 0xffff) {
    throw encodeFailure(name, `port ${String(value.port)} is not in 0..65535`);
  }
  if (value.family !== 'IPv4' && value.family !== 'IPv6') {
    throw encodeFailure(name, `family ${String(value.family)} is neither IPv4 nor IPv6`);
  }
}

function sizeOf(name: string, value: TransportAddress): number {
  checkAddress(name, value);
  return value.family === 'IPv4' ? IPV4_VALUE_LENGTH : IPV6_VALUE_LENGTH;
}

/** Family, port and address in the clear (byte 0 is reserved and written as zero). */
function writePlain(name: string, value: TransportAddress, target: Buffer, offset: number): void {
  target[offset] = 0;
  target.writeUInt16BE(value.port, offset + 2);
  if (value.family === 'IPv4') {
    target[offset + 1] = FAMILY_IPV4;
    if (!writeIPv4(value.address, target, offset + 4)) throw encodeFailure(name, `"${value.address}" is not an IPv4 address`);
  } else {
    target[offset + 1] = FAMILY_IPV6;
    if (!writeIPv6(value.address, target, offset + 4)) throw encodeFailure(name, `"${value.address}" is not an IPv6 address`);
  }
}

function readPlain(bytes: Buffer, offset: number, length: number): TransportAddress {
  if (length < 4) throw new StunDecodeError(`value of ${length} bytes is shorter than an address header`, 0);
  const family = bytes[offset + 1]!;
  const port = bytes.readUInt16BE(offset + 2);
  if (family === FAMILY_IPV4) {
    if (length !== IPV4_VALUE_LENGTH) throw new StunDecodeError(`IPv4 address value must be 8 bytes, got ${length}`, 0);
    return { family: 'IPv4', address: readIPv4(bytes, offset + 4), port };
  }
  if (family === FAMILY_IPV6) {
    if (length !== IPV6_VALUE_LENGTH) throw new StunDecodeError(`IPv6 address value must be 20 bytes, got ${length}`, 0);
    return { family: 'IPv6', address: readIPv6(bytes, offset + 4), port };
  }
  throw new StunDecodeError(`unknown address family 0x${family.toString(16).padStart(2, '0')}`, 1);
}

/**
 * The 16 bytes an address is XORed with (RFC 8489 §14.2): magic cookie then transaction id. In a
 * legacy message the same wire bytes (4..20 of the header) are its 16-byte transaction id.
 */
function xorByte(context: CodecContext, index: number): number {
  if (context.legacy) return context.transactionId[index]!;
  if (index < 4) return (MAGIC_COOKIE >>> (24 - index * 8)) & 0xff;
  return context.transactionId[index - 4]!;
}

function xorPort(context: CodecContext): number {
  return context.legacy ? context.transactionId.readUInt16BE(0) : COOKIE_HIGH_16;
}

function xorInPlace(data: Buffer, offset: number, length: number, context: CodecContext): void {
  data.writeUInt16BE(data.readUInt16BE(offset + 2) ^ xorPort(context), offset + 2);
  for (let i = 0; i < length - 4; i++) data[offset + 4 + i] = data[offset + 4 + i]! ^ xorByte(context, i);
}

const xorScratchIPv4 = Buffer.alloc(IPV4_VALUE_LENGTH);
const xorScratchIPv6 = Buffer.alloc(IPV6_VALUE_LENGTH);

function plainAddressCodec(type: number, name: string): AttributeCodec<TransportAddress> {
  return defineCodec<TransportAddress>({
    type,
    name,
    size: (value) => sizeOf(name, value),
    write: (value, target, offset) => writePlain(name, value, target, offset),
    read: (bytes, offset, length) => readPlain(bytes, offset, length),
  });
}

function xorAddressCodec(type: number, name: string): AttributeCodec<TransportAddress> {
  return defineCodec<TransportAddress>({
    type,
    name,
    size: (value) => sizeOf(name, value),
    write(value, target, offset, context) {
      writePlain(name, value, target, offset);
      xorInPlace(target, offset, value.family === 'IPv4' ? IPV4_VALUE_LENGTH : IPV6_VALUE_LENGTH, context);
    },
    read(bytes, offset, length, context) {
      if (length !== IPV4_VALUE_LENGTH && length !== IPV6_VALUE_LENGTH) return readPlain(bytes, offset, length);
      // Decoding is synchronous, so module-level scratch buffers serve every call.
      const clear = length === IPV4_VALUE_LENGTH ? xorScratchIPv4 : xorScratchIPv6;
      bytes.copy(clear, 0, offset, offset + length);
      xorInPlace(clear, 0, length, context);
      return readPlain(clear, 0, length);
    },
  });
}

export const MappedAddress = plainAddressCodec(AttributeType.MappedAddress, 'MAPPED-ADDRESS');
export const XorMappedAddress = xorAddressCodec(AttributeType.XorMappedAddress, 'XOR-MAPPED-ADDRESS');
export const AlternateServer = plainAddressCodec(AttributeType.AlternateServer, 'ALTERNATE-SERVER');
/** RFC 5780 §7.3: the address and port the response was sent from. */
export const ResponseOrigin = plainAddressCodec(AttributeType.ResponseOrigin, 'RESPONSE-ORIGIN');
/** RFC 5780 §7.4: the server's alternate address and port (CHANGED-ADDRESS's successor). */
export const OtherAddress = plainAddressCodec(AttributeType.OtherAddress, 'OTHER-ADDRESS');
/** RFC 3489 §11.2.3: where the server would send a CHANGE-REQUEST response from. */
export const ChangedAddress = plainAddressCodec(AttributeType.ChangedAddress, 'CHANGED-ADDRESS');
/** RFC 3489 §11.2.5: the address the response was sent from. */
export const SourceAddress = plainAddressCodec(AttributeType.SourceAddress, 'SOURCE-ADDRESS');
/** RFC 3489 §11.2.2: where the client asks the response to be sent (deprecated: reflection risk). */
export const ResponseAddress = plainAddressCodec(AttributeType.ResponseAddress, 'RESPONSE-ADDRESS');
/** RFC 3489 §11.2.11: who asked, when the response went to a RESPONSE-ADDRESS. */
export const ReflectedFrom = plainAddressCodec(AttributeType.ReflectedFrom, 'REFLECTED-FROM');

for (const codec of [MappedAddress, XorMappedAddress, AlternateServer, ResponseOrigin, OtherAddress, ChangedAddress, SourceAddress, ResponseAddress, ReflectedFrom]) {
  registerAttribute(codec);
}
