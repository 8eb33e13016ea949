import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';

export interface ChangeRequestValue {
  changeIp: boolean;
  changePort: boolean;
}

/** RFC 5780 §7.2 (and RFC 3489 §11.2.4): flag bits of the 32-bit value. */
const CHANGE_IP = 0x04;
const CHANGE_PORT = 0x02;

export const ChangeRequest = defineCodec<ChangeRequestValue>({
  type: AttributeType.ChangeRequest,
  name: 'CHANGE-REQUEST',
  size(value) {
    if (value === null || typeof value !== 'object') throw encodeFailure('CHANGE-REQUEST', 'expected { changeIp, changePort }');
    return 4;
  },
  write: (value, target, offset) =>
    void target.writeUInt32BE((value.changeIp ? CHANGE_IP : 0) | (value.changePort ? CHANGE_PORT : 0), offset),
  read(bytes, offset, length) {
    if (length !== 4) throw new StunDecodeError(`value must be 4 bytes, got ${length}`, 0);
    const flags = bytes.readUInt32BE(offset);
    return { changeIp: (flags & CHANGE_IP) !== 0, changePort: (flags & CHANGE_PORT) !== 0 };
  },
});

/**
 * RFC 5780 §7.5: the port the response should be sent to, followed by two bytes of padding
 * inside the value (length 4). A bare 2-byte value is accepted on input.
 */
export const ResponsePort = defineCodec<number>({
  type: AttributeType.ResponsePort,
  name: 'RESPONSE-PORT',
  size(value) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw encodeFailure('RESPONSE-PORT', `port ${String(value)} is not in 0..65535`);
    return 4;
  },
  write: (value, target, offset) => void target.writeUInt32BE((value << 16) >>> 0, offset),
  read(bytes, offset, length) {
    if (length !== 4 && length !== 2) throw new StunDecodeError(`value must be 4 bytes, got ${length}`, 0);
    return bytes.readUInt16BE(offset);
  },
});

for (const codec of [ChangeRequest, ResponsePort]) registerAttribute(codec);
