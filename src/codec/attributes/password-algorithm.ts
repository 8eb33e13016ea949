import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { padded } from '../header.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';

export interface PasswordAlgorithmValue {
  algorithm: number;
  parameters: Buffer;
}

/** RFC 8489 §18.5 "STUN Password Algorithms" registry. */
export const PasswordAlgorithmId = { MD5: 0x0001, SHA256: 0x0002 } as const;

const ENTRY_HEADER_LENGTH = 4;

function entrySize(name: string, value: PasswordAlgorithmValue, withPadding: boolean): number {
  if (value === null || typeof value !== 'object') throw encodeFailure(name, 'expected { algorithm, parameters }');
  if (!Number.isInteger(value.algorithm) || value.algorithm < 0 || value.algorithm > 0xffff) {
    throw encodeFailure(name, `algorithm ${String(value.algorithm)} is not a 16-bit number`);
  }
  if (!Buffer.isBuffer(value.parameters) || value.parameters.length > 0xffff) throw encodeFailure(name, 'parameters must be a Buffer');
  return ENTRY_HEADER_LENGTH + (withPadding ? padded(value.parameters.length) : value.parameters.length);
}

function writeEntry(value: PasswordAlgorithmValue, target: Buffer, offset: number, withPadding: boolean): number {
  target.writeUInt16BE(value.algorithm, offset);
  target.writeUInt16BE(value.parameters.length, offset + 2);
  const end = offset + ENTRY_HEADER_LENGTH + value.parameters.copy(target, offset + ENTRY_HEADER_LENGTH);
  if (!withPadding) return end;
  const paddedEnd = offset + ENTRY_HEADER_LENGTH + padded(value.parameters.length);
  target.fill(0, end, paddedEnd);
  return paddedEnd;
}

/** Reads one entry at `offset`; entries inside PASSWORD-ALGORITHMS are padded to 4 bytes. */
function readEntry(data: Buffer, offset: number, withPadding: boolean): { value: PasswordAlgorithmValue; end: number } {
  if (data.length - offset < ENTRY_HEADER_LENGTH) throw new StunDecodeError('truncated algorithm header', offset);
  const algorithm = data.readUInt16BE(offset);
  const length = data.readUInt16BE(offset + 2);
  const start = offset + ENTRY_HEADER_LENGTH;
  const end = start + (withPadding ? padded(length) : length);
  if (end > data.length) throw new StunDecodeError(`algorithm parameters of ${length} bytes overrun the value`, offset + 2);
  return { value: { algorithm, parameters: data.subarray(start, start + length) }, end };
}

/** RFC 8489 §14.12: the algorithm the client chose. */
export const PasswordAlgorithm = defineCodec<PasswordAlgorithmValue>({
  type: AttributeType.PasswordAlgorithm,
  name: 'PASSWORD-ALGORITHM',
  size: (value) => entrySize('PASSWORD-ALGORITHM', value, false),
  write: (value, target, offset) => void writeEntry(value, target, offset, false),
  decode(data) {
    const { value, end } = readEntry(data, 0, false);
    if (end !== data.length) throw new StunDecodeError(`${data.length - end} bytes after the parameters`, end);
    return value;
  },
});

/** RFC 8489 §14.11: the algorithms the server supports, in order of preference. */
export const PasswordAlgorithms = defineCodec<PasswordAlgorithmValue[]>({
  type: AttributeType.PasswordAlgorithms,
  name: 'PASSWORD-ALGORITHMS',
  size(value) {
    if (!Array.isArray(value)) throw encodeFailure('PASSWORD-ALGORITHMS', 'expected an array');
    let size = 0;
    for (const entry of value) size += entrySize('PASSWORD-ALGORITHMS', entry, true);
    return size;
  },
  write(value, target, offset) {
    let position = offset;
    for (const entry of value) position = writeEntry(entry, target, position, true);
  },
  decode(data) {
    const values: PasswordAlgorithmValue[] = [];
    let offset = 0;
    while (offset < data.length) {
      const { value, end } = readEntry(data, offset, true);
      values.push(value);
      offset = end;
    }
    return values;
  },
});

for (const codec of [PasswordAlgorithm, PasswordAlgorithms]) registerAttribute(codec);
