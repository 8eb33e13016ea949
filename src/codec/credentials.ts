import { createHash } from 'node:crypto';
import { StunEncodeError } from './errors.js';

/**
 * "SASLprep-lite", the string preparation RFC 8489 §9 asks for (OpaqueString, RFC 8265) as far
 * as RFC 5769's vectors need, done the RFC 4013 way they were computed with:
 *  1. characters "commonly mapped to nothing" (RFC 3454 B.1: soft hyphen, joiners, variation
 *     selectors...) are removed; non-ASCII spaces (C.1.2) become U+0020;
 *  2. NFKC normalisation (so U+00AA -> "a", U+2168 -> "IX");
 *  3. control characters (C.2.1, C.2.2), private use, surrogates and non-characters are refused.
 * Not done: the bidirectional rule and the "unassigned code point" check of Unicode 3.2.
 */
export function saslPrep(text: string): string {
  const mapped = text
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff]/g, '')
    .replace(/[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g, ' ')
    .normalize('NFKC');
  if (/[\u0000-\u001f\u007f-\u009f\u06dd\u070f\u180e\u200e\u200f\u2028-\u202e\u2061-\u2063\u206a-\u206f\ue000-\uf8ff\ufdd0-\ufdef\ufff9-\ufffd]/u.test(mapped)) {
    throw new StunEncodeError('credential contains a prohibited character (control, private use or non-character)');
  }
  if (/[\ud800-\udfff]/.test(mapped.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) {
    throw new StunEncodeError('credential contains an unpaired surrogate');
  }
  return mapped;
}

/** RFC 8489 §9.1.1: the short-term key is the prepared password itself. */
export function shortTermKey(password: string): Buffer {
  return Buffer.from(saslPrep(password), 'utf8');
}

/**
 * RFC 8489 §9.2.2: key = H(username ":" prep(realm) ":" prep(password)), H = MD5 (16 bytes)
 * or SHA-256 (32 bytes). The username is used as given (the client prepared it already).
 */
export function longTermKey(username: string, realm: string, password: string, algorithm: 'md5' | 'sha256' = 'md5'): Buffer {
  if (algorithm !== 'md5' && algorithm !== 'sha256') throw new StunEncodeError(`unknown password algorithm ${String(algorithm)}`);
  return createHash(algorithm).update(`${username}:${saslPrep(realm)}:${saslPrep(password)}`, 'utf8').digest();
}

/** RFC 8489 §14.4: USERHASH = SHA-256(username ":" realm) with realm prepared. */
export function userhash(username: string, realm: string): Buffer {
  return createHash('sha256').update(`${username}:${saslPrep(realm)}`, 'utf8').digest();
}
