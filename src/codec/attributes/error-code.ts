import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';
import { checkText, readUtf8 } from './strings.js';

export interface ErrorCodeValue {
  code: number;
  reason: string;
}

/** RFC 8489 §14.8: class 3..6 (hundreds digit) and number 0..99. */
const MIN_CODE = 300;
const MAX_CODE = 699;
const FIXED_LENGTH = 4;
const REASON_LIMITS = { maxBytes: 763, maxCharacters: 127 };

export const ErrorCode = defineCodec<ErrorCodeValue>({
  type: AttributeType.ErrorCode,
  name: 'ERROR-CODE',
  size(value) {
    if (value === null || typeof value !== 'object') throw encodeFailure('ERROR-CODE', 'expected { code, reason }');
    if (!Number.isInteger(value.code) || value.code < MIN_CODE || value.code > MAX_CODE) {
      throw encodeFailure('ERROR-CODE', `code ${String(value.code)} is not in 300..699`);
    }
    if (typeof value.reason !== 'string') throw encodeFailure('ERROR-CODE', 'reason must be a string');
    const length = Buffer.byteLength(value.reason, 'utf8');
    const problem = checkText(value.reason, length, REASON_LIMITS);
    if (problem !== undefined) throw encodeFailure('ERROR-CODE', `reason: ${problem}`);
    return FIXED_LENGTH + length;
  },
  write(value, target, offset) {
    target.writeUInt16BE(0, offset);
    target[offset + 2] = Math.floor(value.code / 100);
    target[offset + 3] = value.code % 100;
    target.write(value.reason, offset + FIXED_LENGTH, 'utf8');
  },
  read(bytes, offset, length) {
    if (length < FIXED_LENGTH) throw new StunDecodeError(`value of ${length} bytes is shorter than 4`, 0);
    const errorClass = bytes[offset + 2]! & 0x07;
    const number = bytes[offset + 3]!;
    if (errorClass < 3 || errorClass > 6) throw new StunDecodeError(`error class ${errorClass} is not in 3..6`, 2);
    if (number > 99) throw new StunDecodeError(`error number ${number} is not in 0..99`, 3);
    let reason: string;
    try {
      reason = readUtf8(bytes, offset + FIXED_LENGTH, length - FIXED_LENGTH);
    } catch (error) {
      throw new StunDecodeError('reason is not valid UTF-8', FIXED_LENGTH, { cause: error });
    }
    const problem = checkText(reason, length - FIXED_LENGTH, REASON_LIMITS);
    if (problem !== undefined) throw new StunDecodeError(`reason: ${problem}`, FIXED_LENGTH);
    return { code: errorClass * 100 + number, reason };
  },
});

registerAttribute(ErrorCode);
