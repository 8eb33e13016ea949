import { randomFillSync } from 'node:crypto';
import { HEADER_LENGTH, MAGIC_COOKIE, TRANSACTION_ID_LENGTH } from './constants.js';

/** Every attribute starts with a 16-bit type and a 16-bit value length. */
export const ATTRIBUTE_HEADER_LENGTH = 4;

/** Attribute values are padded to a multiple of 4 bytes (RFC 8489 §14). */
export function padded(length: number): number {
  return (length + 3) & ~3;
}

/** RFC 8489 §5: class bits C1 C0 sit at bits 8 and 4 of the type, between the method's bits. */
export function messageType(cls: number, method: number): number {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7);
}

export function hex16(type: number): string {
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
