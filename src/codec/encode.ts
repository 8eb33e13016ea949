import { createHmac } from 'node:crypto';
import {
  AttributeType,
  FINGERPRINT_XOR,
  HEADER_LENGTH,
  LEGACY_TRANSACTION_ID_LENGTH,
  MAGIC_COOKIE,
  TRANSACTION_ID_LENGTH,
} from './constants.js';
import { crc32 } from './crc32.js';
import { StunEncodeError } from './errors.js';
import { ATTRIBUTE_HEADER_LENGTH, hex16, messageType, padded } from './header.js';
import { FINGERPRINT_LENGTH, MESSAGE_INTEGRITY_LENGTH, MESSAGE_INTEGRITY_SHA256_LENGTH } from './attributes/integrity.js';
import { codecFor } from './registry.js';
import type { AttributeCodec, CodecContext, StunAttribute, StunMessage } from './types.js';

const MAX_METHOD = 0xfff;
/** The 16-bit length field bounds a message to this many bytes after the header. */
const MAX_BODY_LENGTH = 0xfffc;

export interface EncodeOptions {
  /** Appends MESSAGE-INTEGRITY (sha1, the default) or MESSAGE-INTEGRITY-SHA256 computed with `key`. */
  integrity?: { key: Buffer; algorithm?: 'sha1' | 'sha256' };
  /** Appends FINGERPRINT. @default false */
  fingerprint?: boolean;
}

function checkHeader(message: StunMessage): void {
  if (message === null || typeof message !== 'object') throw new StunEncodeError('message must be an object');
  if (!Number.isInteger(message.cls) || message.cls < 0 || message.cls > 3) throw new StunEncodeError(`class ${String(message.cls)} is not in 0..3`);
  if (!Number.isInteger(message.method) || message.method < 0 || message.method > MAX_METHOD) {
    throw new StunEncodeError(`method ${String(message.method)} is not a 12-bit number`);
  }
  const expected = message.legacy === true ? LEGACY_TRANSACTION_ID_LENGTH : TRANSACTION_ID_LENGTH;
  if (!Buffer.isBuffer(message.transactionId) || message.transactionId.length !== expected) {
    throw new StunEncodeError(`transaction id must be a ${expected}-byte Buffer${message.legacy === true ? ' (legacy)' : ''}`);
  }
  if (!Array.isArray(message.attributes)) throw new StunEncodeError('attributes must be an array');
}

/**
 * Per attribute: value length, codec, and the Buffer of codecs without size/write. One shared
 * instance is reused across calls (encoding is synchronous); a codec that itself encodes a
 * message while the shared one is in use gets a fresh one.
 */
interface Scratch {
  sizes: number[];
  encoded: (Buffer | undefined)[];
  codecs: (AttributeCodec<unknown> | undefined)[];
}
const sharedScratch: Scratch = { sizes: [], encoded: [], codecs: [] };
let sharedScratchInUse = false;

function acquireScratch(): Scratch {
  if (sharedScratchInUse) return { sizes: [], encoded: [], codecs: [] };
  sharedScratchInUse = true;
  return sharedScratch;
}

function releaseScratch(scratch: Scratch, count: number): void {
  for (let i = 0; i < count; i++) {
    scratch.encoded[i] = undefined;
    scratch.codecs[i] = undefined;
  }
  if (scratch === sharedScratch) sharedScratchInUse = false;
}

function measure(entry: StunAttribute, index: number, context: CodecContext, scratch: Scratch): number {
  if (entry === null || typeof entry !== 'object' || !Number.isInteger(entry.type) || entry.type < 0 || entry.type > 0xffff) {
    throw new StunEncodeError(`attribute #${index} has no 16-bit type`);
  }
  const codec = codecFor(entry.type);
  let size: number;
  let bytes: Buffer | undefined;
  if (codec === undefined) {
    if (!Buffer.isBuffer(entry.value)) throw new StunEncodeError(`attribute ${hex16(entry.type)} has no codec, so its value must be a Buffer`);
    bytes = entry.value;
    size = bytes.length;
  } else if (codec.size !== undefined && codec.write !== undefined) {
    size = codec.size(entry.value, context);
  } else {
    bytes = encodeWith(codec, entry.value, context);
    size = bytes.length;
  }
  if (size > 0xffff) throw new StunEncodeError(`attribute ${codec?.name ?? hex16(entry.type)} value of ${size} bytes exceeds 65535`);
  scratch.sizes[index] = size;
  scratch.encoded[index] = bytes;
  scratch.codecs[index] = codec;
  return ATTRIBUTE_HEADER_LENGTH + padded(size);
}

function encodeWith(codec: AttributeCodec<unknown>, value: unknown, context: CodecContext): Buffer {
  try {
    const bytes = codec.encode(value, context);
    if (!Buffer.isBuffer(bytes)) throw new StunEncodeError(`${codec.name}: codec returned no Buffer`);
    return bytes;
  } catch (error) {
    if (error instanceof StunEncodeError) throw error;
    throw new StunEncodeError(`${codec.name}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

function writeAttribute(entry: StunAttribute, index: number, target: Buffer, offset: number, context: CodecContext, scratch: Scratch): number {
  const size = scratch.sizes[index]!;
  target.writeUInt16BE(entry.type, offset);
  target.writeUInt16BE(size, offset + 2);
  const valueOffset = offset + ATTRIBUTE_HEADER_LENGTH;
  const bytes = scratch.encoded[index];
  if (bytes !== undefined) bytes.copy(target, valueOffset);
  else scratch.codecs[index]!.write!(entry.value, target, valueOffset, context);
  const end = valueOffset + padded(size);
  const pad = end - valueOffset - size;
  if (pad > 0) {
    const given = entry.padding;
    if (Buffer.isBuffer(given) && given.length === pad) given.copy(target, valueOffset + size);
    else target.fill(0, valueOffset + size, end);
  }
  return end;
}

function integrityLength(options: EncodeOptions | undefined): number {
  const integrity = options?.integrity;
  if (integrity === undefined) return 0;
  if (!Buffer.isBuffer(integrity.key)) throw new StunEncodeError('integrity key must be a Buffer');
  const algorithm = integrity.algorithm ?? 'sha1';
  if (algorithm !== 'sha1' && algorithm !== 'sha256') throw new StunEncodeError(`unknown integrity algorithm ${String(algorithm)}`);
  return ATTRIBUTE_HEADER_LENGTH + (algorithm === 'sha1' ? MESSAGE_INTEGRITY_LENGTH : MESSAGE_INTEGRITY_SHA256_LENGTH);
}

/**
 * Exact number of bytes encodeMessage will produce, so a caller can size a preallocated buffer.
 * Also validates the message (throws StunEncodeError).
 */
export function encodedLength(message: StunMessage, options?: EncodeOptions): number {
  checkHeader(message);
  const context: CodecContext = { transactionId: message.transactionId, legacy: message.legacy === true };
  const scratch = acquireScratch();
  try {
    return measureAll(message, options, context, scratch);
  } finally {
    releaseScratch(scratch, message.attributes.length);
  }
}

/** Total message length; FINGERPRINT in the list (recomputed, must be last) is counted once. */
function measureAll(message: StunMessage, options: EncodeOptions | undefined, context: CodecContext, scratch: Scratch): number {
  const attributes = message.attributes;
  let length = HEADER_LENGTH;
  let listed = 0;
  for (let i = 0; i < attributes.length; i++) {
    const entry = attributes[i]!;
    if (entry?.type === AttributeType.Fingerprint) {
      if (i !== attributes.length - 1) throw new StunEncodeError('FINGERPRINT must be the last attribute');
      listed = 1;
      continue;
    }
    if (options?.integrity !== undefined && (entry?.type === AttributeType.MessageIntegrity || entry?.type === AttributeType.MessageIntegritySha256)) {
      throw new StunEncodeError('message already carries a MESSAGE-INTEGRITY attribute; drop it or omit options.integrity');
    }
    length += measure(entry, i, context, scratch);
  }
  length += integrityLength(options);
  if (listed === 1 || options?.fingerprint === true) length += ATTRIBUTE_HEADER_LENGTH + FINGERPRINT_LENGTH;
  if (length - HEADER_LENGTH > MAX_BODY_LENGTH) throw new StunEncodeError(`message body of ${length - HEADER_LENGTH} bytes exceeds ${MAX_BODY_LENGTH}`);
  return length;
}

/**
 * Writes the message into `target` at `offset` and returns the number of bytes written: the
 * server's fast path (one preallocated buffer, no intermediate Buffers for built-in attributes).
 */
export function encodeMessageInto(message: StunMessage, target: Buffer, offset = 0, options?: EncodeOptions): number {
  checkHeader(message);
  const context: CodecContext = { transactionId: message.transactionId, legacy: message.legacy === true };
  const scratch = acquireScratch();
  try {
    const total = measureAll(message, options, context, scratch);
    if (offset < 0 || target.length - offset < total) {
      throw new StunEncodeError(`target has ${target.length - offset} bytes from offset ${offset}, message needs ${total}`);
    }
    writeBody(message, options, context, scratch, target, offset, total);
    return total;
  } finally {
    releaseScratch(scratch, message.attributes.length);
  }
}

export function encodeMessage(message: StunMessage, options?: EncodeOptions): Buffer {
  checkHeader(message);
  const context: CodecContext = { transactionId: message.transactionId, legacy: message.legacy === true };
  const scratch = acquireScratch();
  try {
    const total = measureAll(message, options, context, scratch);
    const target = Buffer.allocUnsafe(total);
    writeBody(message, options, context, scratch, target, 0, total);
    return target;
  } finally {
    releaseScratch(scratch, message.attributes.length);
  }
}

function writeBody(
  message: StunMessage,
  options: EncodeOptions | undefined,
  context: CodecContext,
  scratch: Scratch,
  target: Buffer,
  start: number,
  total: number,
): void {
  const attributes = message.attributes;
  target.writeUInt16BE(messageType(message.cls, message.method), start);
  let offset = start + 4;
  if (message.legacy !== true) {
    target.writeUInt32BE(MAGIC_COOKIE, offset);
    offset += 4;
  }
  offset += message.transactionId.copy(target, offset);
  let withFingerprint = options?.fingerprint === true;
  for (let i = 0; i < attributes.length; i++) {
    const entry = attributes[i]!;
    if (entry.type === AttributeType.Fingerprint) withFingerprint = true;
    else offset = writeAttribute(entry, i, target, offset, context, scratch);
  }
  const integrity = options?.integrity;
  if (integrity !== undefined) offset = writeIntegrity(target, start, offset, integrity.key, integrity.algorithm ?? 'sha1');
  if (withFingerprint) offset = writeFingerprint(target, start, offset);
  target.writeUInt16BE(total - HEADER_LENGTH, start + 2);
}

/** RFC 8489 §14.5: the HMAC covers the message up to the attribute, with a length field that ends at it. */
function writeIntegrity(target: Buffer, start: number, offset: number, key: Buffer, algorithm: 'sha1' | 'sha256'): number {
  const type = algorithm === 'sha1' ? AttributeType.MessageIntegrity : AttributeType.MessageIntegritySha256;
  const length = algorithm === 'sha1' ? MESSAGE_INTEGRITY_LENGTH : MESSAGE_INTEGRITY_SHA256_LENGTH;
  target.writeUInt16BE(offset + ATTRIBUTE_HEADER_LENGTH + length - start - HEADER_LENGTH, start + 2);
  const mac = createHmac(algorithm, key).update(target.subarray(start, offset)).digest();
  target.writeUInt16BE(type, offset);
  target.writeUInt16BE(length, offset + 2);
  mac.copy(target, offset + ATTRIBUTE_HEADER_LENGTH);
  return offset + ATTRIBUTE_HEADER_LENGTH + length;
}

/** RFC 8489 §14.7: CRC-32 of everything before the attribute, the length field already final. */
function writeFingerprint(target: Buffer, start: number, offset: number): number {
  const end = offset + ATTRIBUTE_HEADER_LENGTH + FINGERPRINT_LENGTH;
  target.writeUInt16BE(end - start - HEADER_LENGTH, start + 2);
  target.writeUInt16BE(AttributeType.Fingerprint, offset);
  target.writeUInt16BE(FINGERPRINT_LENGTH, offset + 2);
  target.writeUInt32BE((crc32(target, start, offset) ^ FINGERPRINT_XOR) >>> 0, offset + ATTRIBUTE_HEADER_LENGTH);
  return end;
}
