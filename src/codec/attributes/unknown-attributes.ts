import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';

/** RFC 8489 §14.13: the attribute types a 420 response says were not understood. */
export const UnknownAttributes = defineCodec<number[]>({
  type: AttributeType.UnknownAttributes,
  name: 'UNKNOWN-ATTRIBUTES',
  size(value) {
    if (!Array.isArray(value)) throw encodeFailure('UNKNOWN-ATTRIBUTES', 'expected an array of attribute types');
    for (const type of value) {
      if (!Number.isInteger(type) || type < 0 || type > 0xffff) throw encodeFailure('UNKNOWN-ATTRIBUTES', `${String(type)} is not a 16-bit type`);
    }
    return value.length * 2;
  },
  write(value, target, offset) {
    for (let i = 0; i < value.length; i++) target.writeUInt16BE(value[i]!, offset + i * 2);
  },
  decode(data) {
    if (data.length % 2 !== 0) throw new StunDecodeError(`value length ${data.length} is odd`, 0);
    const types: number[] = [];
    for (let i = 0; i < data.length; i += 2) types.push(data.readUInt16BE(i));
    return types;
  },
});

registerAttribute(UnknownAttributes);
