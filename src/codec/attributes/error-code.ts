import { isUtf8 } from 'node:buffer';
import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';
import { checkText } from './strings.js';

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
  decode(data) {
    if (data.length < FIXED_LENGTH) throw new StunDecodeError(`value of ${data.length} bytes is shorter than 4`, 0);
    const errorClass = data[2]! & 0x07;
    const number = data[3]!;
    if (errorClass < 3 || errorClass > 6) throw new StunDecodeError(`error class ${errorClass} is not in 3..6`, 2);
    if (number > 99) throw new StunDecodeError(`error number ${number} is not in 0..99`, 3);
    const reasonBytes = data.subarray(FIXED_LENGTH);
    if (!isUtf8(reasonBytes)) {
      throw new StunDecodeError('reason is not valid UTF-8', FIXED_LENGTH);
    }
    const reason = reasonBytes.toString('utf8');
    const problem = checkText(reason, reasonBytes.length, REASON_LIMITS);
    if (problem !== undefined) throw new StunDecodeError(`reason: ${problem}`, FIXED_LENGTH);
    return { code: errorClass * 100 + number, reason };
  },
});

registerAttribute(ErrorCode);
