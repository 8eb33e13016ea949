import { isUtf8 } from 'node:buffer';
import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';
import type { AttributeCodec } from '../types.js';

/** RFC 8489 limits: a byte bound and, for text meant for humans, fewer than 128 characters. */
interface TextLimits {
  maxBytes: number;
  maxCharacters?: number;
}

/** RFC 8489 §14.3: USERNAME is fewer than 509 bytes. */
const USERNAME_LIMITS: TextLimits = { maxBytes: 508 };
/** RFC 8489 §14.9, 14.10, 14.14, 14.8: fewer than 128 characters, at most 763 bytes. */
const TEXT_LIMITS: TextLimits = { maxBytes: 763, maxCharacters: 127 };
/** RFC 8489 §14.16: ALTERNATE-DOMAIN holds a DNS name (at most 255 octets, RFC 1035). */
const DOMAIN_LIMITS: TextLimits = { maxBytes: 255 };

function characterCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) i++;
    count++;
  }
  return count;
}

/** Characters count only matters past 127 bytes: below that, bytes >= characters. */
export function checkText(text: string, byteLength: number, limits: TextLimits): string | undefined {
  if (byteLength > limits.maxBytes) return `${byteLength} bytes exceeds the ${limits.maxBytes}-byte limit`;
  if (limits.maxCharacters !== undefined && byteLength > limits.maxCharacters && characterCount(text) > limits.maxCharacters) {
    return `more than ${limits.maxCharacters} characters`;
  }
  return undefined;
}

/** Strict UTF-8 (RFC 8489 text is UTF-8); ASCII, the common case, skips the validation view. */
export function readUtf8(bytes: Buffer, offset: number, length: number): string {
  const end = offset + length;
  let ascii = true;
  for (let i = offset; i < end && ascii; i++) ascii = bytes[i]! < 0x80;
  if (ascii) return bytes.toString('latin1', offset, end);
  if (!isUtf8(bytes.subarray(offset, end))) throw new StunDecodeError('value is not valid UTF-8', 0);
  return bytes.toString('utf8', offset, end);
}

export function textCodec(type: number, name: string, limits: TextLimits): AttributeCodec<string> {
  return defineCodec<string>({
    type,
    name,
    size(value) {
      if (typeof value !== 'string') throw encodeFailure(name, 'expected a string');
      const length = Buffer.byteLength(value, 'utf8');
      const problem = checkText(value, length, limits);
      if (problem !== undefined) throw encodeFailure(name, problem);
      return length;
    },
    write: (value, target, offset) => void target.write(value, offset, 'utf8'),
    read(bytes, offset, length) {
      const text = readUtf8(bytes, offset, length);
      const problem = checkText(text, length, limits);
      if (problem !== undefined) throw new StunDecodeError(problem, 0);
      return text;
    },
  });
}

export const Username = textCodec(AttributeType.Username, 'USERNAME', USERNAME_LIMITS);
export const Realm = textCodec(AttributeType.Realm, 'REALM', TEXT_LIMITS);
export const Nonce = textCodec(AttributeType.Nonce, 'NONCE', TEXT_LIMITS);
export const Software = textCodec(AttributeType.Software, 'SOFTWARE', TEXT_LIMITS);
export const AlternateDomain = textCodec(AttributeType.AlternateDomain, 'ALTERNATE-DOMAIN', DOMAIN_LIMITS);

for (const codec of [Username, Realm, Nonce, Software, AlternateDomain]) registerAttribute(codec);
