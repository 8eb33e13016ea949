import { createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';
import {
  AttributeType,
  COMPREHENSION_OPTIONAL_MIN,
  FINGERPRINT_XOR,
  HEADER_LENGTH,
  LEGACY_TRANSACTION_ID_LENGTH,
  MAGIC_COOKIE,
  TRANSACTION_ID_LENGTH,
  type StunClass,
} from './constants.js';
import { crc32 } from './crc32.js';
import { StunDecodeError, StunEncodeError, StunUnknownAttributesError } from './errors.js';
import {
  FINGERPRINT_LENGTH,
  MESSAGE_INTEGRITY_LENGTH,
  MESSAGE_INTEGRITY_SHA256_LENGTH,
} from './attributes/integrity.js';
import { codecFor } from './registry.js';
import type { AttributeCodec, CodecContext, StunAttribute, StunMessage } from './types.js';

const ATTRIBUTE_HEADER_LENGTH = 4;
/** The 16-bit length field bounds a message to this many bytes after the header. */
const MAX_BODY_LENGTH = 0xfffc;
const MAX_METHOD = 0xfff;

export interface EncodeOptions {
  /** Appends MESSAGE-INTEGRITY (sha1, the default) or MESSAGE-INTEGRITY-SHA256 computed with `key`. */
  integrity?: { key: Buffer; algorithm?: 'sha1' | 'sha256' };
  /** Appends FINGERPRINT. @default false */
  fingerprint?: boolean;
}

export interface DecodeOptions {
  /** Reject RFC 3489 messages (no magic cookie) instead of decoding them as legacy. @default false */
  requireMagicCookie?: boolean;
}

function padded(length: number): number {
  return (length + 3) & ~3;
}

/** RFC 8489 §5: class bits C1 C0 sit at bits 8 and 4 of the type, between the method's bits. */
function messageType(cls: number, method: number): number {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7);
}

function hex16(type: number): string {
  return `0x${type.toString(16).padStart(4, '0')}`;
}

/**
 * Cheap demultiplexing test for a datagram or a framed TCP message (RFC 8489 §6.3 / RFC 7983):
 * top two bits zero, length a multiple of 4 that matches the bytes, magic cookie present
 * (or, with allowLegacy, any cookie: RFC 3489 had none).
 */
export function isStunMessage(bytes: Buffer, options?: { allowLegacy?: boolean }): boolean {
  if (bytes.length < HEADER_LENGTH || (bytes[0]! & 0xc0) !== 0) return false;
  const length = bytes.readUInt16BE(2);
  if ((length & 3) !== 0 || HEADER_LENGTH + length !== bytes.length) return false;
  return options?.allowLegacy === true || bytes.readUInt32BE(4) === MAGIC_COOKIE;
}

/** Total size of the message whose header starts `bytes` (for stream framing); undefined if < 4 bytes. */
export function messageLength(bytes: Buffer, offset = 0): number | undefined {
  if (bytes.length - offset < 4) return undefined;
  return HEADER_LENGTH + bytes.readUInt16BE(offset + 2);
}

const transactionIdPool = Buffer.allocUnsafe(TRANSACTION_ID_LENGTH * 256);
let transactionIdPoolOffset = transactionIdPool.length;

/** 12 cryptographically random bytes (RFC 8489 §6: uniformly and randomly chosen). */
export function newTransactionId(): Buffer {
  if (transactionIdPoolOffset === transactionIdPool.length) {
    randomFillSync(transactionIdPool);
    transactionIdPoolOffset = 0;
  }
  const id = Buffer.allocUnsafe(TRANSACTION_ID_LENGTH);
  transactionIdPool.copy(id, 0, transactionIdPoolOffset, transactionIdPoolOffset + TRANSACTION_ID_LENGTH);
  transactionIdPoolOffset += TRANSACTION_ID_LENGTH;
  return id;
}

// ---------------------------------------------------------------------------------------------
// Encoding

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
 * Value lengths of each attribute, and the Buffers of codecs without size/write. One shared
 * instance is reused across calls (encoding is synchronous); a codec that itself encodes a
 * message while the shared one is in use gets a fresh one.
 */
interface Scratch {
  sizes: number[];
  encoded: (Buffer | undefined)[];
}
const sharedScratch: Scratch = { sizes: [], encoded: [] };
let sharedScratchInUse = false;

function acquireScratch(): Scratch {
  if (sharedScratchInUse) return { sizes: [], encoded: [] };
  sharedScratchInUse = true;
  return sharedScratch;
}

function releaseScratch(scratch: Scratch, count: number): void {
  for (let i = 0; i < count; i++) scratch.encoded[i] = undefined;
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
  else codecFor(entry.type)!.write!(entry.value, target, valueOffset, context);
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

// ---------------------------------------------------------------------------------------------
// Decoding

function decodeValue(codec: AttributeCodec<unknown>, bytes: Buffer, valueOffset: number, length: number, context: CodecContext): unknown {
  try {
    if (codec.read !== undefined) return codec.read(bytes, valueOffset, length, context);
    return codec.decode(bytes.subarray(valueOffset, valueOffset + length), context);
  } catch (error) {
    const relative = error instanceof StunDecodeError ? error.offset : 0;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StunDecodeError(`${codec.name} at offset ${valueOffset - ATTRIBUTE_HEADER_LENGTH}: ${reason}`, valueOffset + relative, { cause: error });
  }
}

function hasNonZero(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return true;
  return false;
}

/**
 * Parses one whole STUN message (a datagram, or one framed message from a stream). Attributes
 * after MESSAGE-INTEGRITY(-SHA256) other than those RFC 8489 §14.5/14.6 allow are ignored
 * (dropped); a FINGERPRINT is verified. Buffer values are views of `bytes`, not copies.
 */
export function decodeMessage(bytes: Buffer, options?: DecodeOptions): StunMessage {
  if (!Buffer.isBuffer(bytes)) throw new StunDecodeError('input is not a Buffer', 0);
  if (bytes.length < HEADER_LENGTH) throw new StunDecodeError(`truncated header: ${bytes.length} of 20 bytes`, bytes.length);
  const type = bytes.readUInt16BE(0);
  if ((type & 0xc000) !== 0) throw new StunDecodeError(`first two bits must be zero (type ${hex16(type)})`, 0);
  const length = bytes.readUInt16BE(2);
  if ((length & 3) !== 0) throw new StunDecodeError(`message length ${length} is not a multiple of 4`, 2);
  if (HEADER_LENGTH + length !== bytes.length) {
    throw new StunDecodeError(`message length field says ${length} bytes after the header, ${bytes.length - HEADER_LENGTH} present`, 2);
  }
  const legacy = bytes.readUInt32BE(4) !== MAGIC_COOKIE;
  if (legacy && options?.requireMagicCookie === true) throw new StunDecodeError(`magic cookie 0x${bytes.readUInt32BE(4).toString(16)} is not 0x2112a442`, 4);
  const cls = (((type >>> 4) & 1) | ((type >>> 7) & 2)) as StunClass;
  const method = (type & 0x000f) | ((type >>> 1) & 0x0070) | ((type >>> 2) & 0x0f80);
  const transactionId = legacy ? bytes.subarray(4, HEADER_LENGTH) : bytes.subarray(8, HEADER_LENGTH);
  const context: CodecContext = { transactionId, legacy };
  const attributes: StunAttribute[] = [];
  let unknown: number[] | undefined;
  let afterIntegrity = false;
  let afterIntegritySha256 = false;
  let offset = HEADER_LENGTH;
  // The length field is a multiple of 4 and so is every padded attribute: a whole attribute
  // header always fits at `offset`.
  while (offset < bytes.length) {
    const attributeType = bytes.readUInt16BE(offset);
    const valueLength = bytes.readUInt16BE(offset + 2);
    const valueOffset = offset + ATTRIBUTE_HEADER_LENGTH;
    const end = valueOffset + padded(valueLength);
    if (end > bytes.length) {
      throw new StunDecodeError(`attribute ${hex16(attributeType)} at offset ${offset} has length ${valueLength}, which overruns the message`, offset + 2);
    }
    if (attributeType === AttributeType.Fingerprint) {
      if (end !== bytes.length) throw new StunDecodeError(`attribute after FINGERPRINT at offset ${end}`, end);
      const received = decodeValue(codecFor(attributeType)!, bytes, valueOffset, valueLength, context) as number;
      const expected = (crc32(bytes, 0, offset) ^ FINGERPRINT_XOR) >>> 0;
      if (received !== expected) {
        throw new StunDecodeError(`FINGERPRINT mismatch: 0x${received.toString(16).padStart(8, '0')}, expected 0x${expected.toString(16).padStart(8, '0')}`, valueOffset);
      }
      attributes.push({ type: attributeType, value: received });
      break;
    }
    const ignored =
      afterIntegritySha256 || (afterIntegrity && attributeType !== AttributeType.MessageIntegritySha256);
    if (!ignored) {
      const codec = codecFor(attributeType);
      let value: unknown;
      if (codec !== undefined) value = decodeValue(codec, bytes, valueOffset, valueLength, context);
      else if (attributeType < COMPREHENSION_OPTIONAL_MIN) (unknown ??= []).push(attributeType);
      else value = bytes.subarray(valueOffset, valueOffset + valueLength);
      const entry: StunAttribute = { type: attributeType, value };
      if (hasNonZero(bytes, valueOffset + valueLength, end)) entry.padding = bytes.subarray(valueOffset + valueLength, end);
      if (codec !== undefined || attributeType >= COMPREHENSION_OPTIONAL_MIN) attributes.push(entry);
      if (attributeType === AttributeType.MessageIntegrity) afterIntegrity = true;
      if (attributeType === AttributeType.MessageIntegritySha256) afterIntegritySha256 = true;
    }
    offset = end;
  }
  if (unknown !== undefined) throw new StunUnknownAttributesError({ cls, method, transactionId, legacy }, unknown);
  const message: StunMessage = { cls, method, transactionId, attributes };
  if (legacy) message.legacy = true;
  return message;
}

// ---------------------------------------------------------------------------------------------
// Integrity check

/**
 * True when the message carries MESSAGE-INTEGRITY-SHA256 or MESSAGE-INTEGRITY and one of them
 * is a valid HMAC under `key` (RFC 8489 §14.5/14.6: computed over the message up to the
 * attribute, with the length field adjusted to end at it). Malformed input yields false.
 */
export function checkMessageIntegrity(bytes: Buffer, key: Buffer): boolean {
  if (!isStunMessage(bytes, { allowLegacy: true })) return false;
  let offset = HEADER_LENGTH;
  let valid = false;
  while (offset + ATTRIBUTE_HEADER_LENGTH <= bytes.length && !valid) {
    const type = bytes.readUInt16BE(offset);
    const length = bytes.readUInt16BE(offset + 2);
    const valueOffset = offset + ATTRIBUTE_HEADER_LENGTH;
    if (valueOffset + padded(length) > bytes.length) return false;
    if (type === AttributeType.MessageIntegrity && length === MESSAGE_INTEGRITY_LENGTH) {
      valid = verifyMac(bytes, offset, length, key, 'sha1');
    } else if (type === AttributeType.MessageIntegritySha256 && length >= 16 && length <= MESSAGE_INTEGRITY_SHA256_LENGTH && length % 4 === 0) {
      valid = verifyMac(bytes, offset, length, key, 'sha256');
    } else if (type === AttributeType.Fingerprint) {
      break;
    }
    offset = valueOffset + padded(length);
  }
  return valid;
}

function verifyMac(bytes: Buffer, offset: number, length: number, key: Buffer, algorithm: 'sha1' | 'sha256'): boolean {
  const header = Buffer.from(bytes.subarray(0, HEADER_LENGTH));
  header.writeUInt16BE(offset + ATTRIBUTE_HEADER_LENGTH + length - HEADER_LENGTH, 2);
  const mac = createHmac(algorithm, key).update(header).update(bytes.subarray(HEADER_LENGTH, offset)).digest();
  return timingSafeEqual(mac.subarray(0, length), bytes.subarray(offset + ATTRIBUTE_HEADER_LENGTH, offset + ATTRIBUTE_HEADER_LENGTH + length));
}
