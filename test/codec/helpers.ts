import assert from 'node:assert/strict';
import {
  AlternateDomain,
  AlternateServer,
  ChangedAddress,
  MappedAddress,
  Nonce,
  OtherAddress,
  Realm,
  ReflectedFrom,
  ResponseAddress,
  ResponseOrigin,
  Software,
  SourceAddress,
  StunDecodeError,
  StunUnknownAttributesError,
  Username,
  XorMappedAddress,
} from '../../src/codec/index.js';

/** Every attribute whose value is a transport address (RFC 8489, RFC 5780, RFC 3489). */
export const ADDRESS_CODECS = [MappedAddress, XorMappedAddress, AlternateServer, ResponseOrigin, OtherAddress, ChangedAddress, SourceAddress, ResponseAddress, ReflectedFrom];
/** Every attribute whose value is UTF-8 text. */
export const TEXT_CODECS = [Username, Realm, Nonce, Software, AlternateDomain];

export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** What `run` throws, or undefined when it returns. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Asserts `run` throws a StunDecodeError whose message matches and whose offset is `offset`. */
export function assertDecodeError(run: () => unknown, pattern: RegExp, offset?: number): StunDecodeError {
  const caught = thrown(run);
  assert.ok(caught instanceof StunDecodeError, `expected StunDecodeError, got ${String(caught)}`);
  assert.equal(caught.code, 'ERR_STUN_DECODE');
  assert.match(caught.message, pattern);
  if (offset !== undefined) assert.equal(caught.offset, offset, `offset of "${caught.message}"`);
  return caught;
}

export function assertUnknownAttributes(run: () => unknown, types: number[]): StunUnknownAttributesError {
  const caught = thrown(run);
  assert.ok(caught instanceof StunUnknownAttributesError, `expected StunUnknownAttributesError, got ${String(caught)}`);
  assert.equal(caught.code, 'ERR_STUN_UNKNOWN_ATTRIBUTES');
  assert.deepEqual(caught.unknownAttributes, types);
  return caught;
}

export const TXID = hex('0102030405060708090a0b0c');
/** Header of a Binding request with the magic cookie and TXID; length patched by `frame`. */
export function frame(body: string, type = '0001'): Buffer {
  const bytes = hex(`${type} 0000 2112a442 0102030405060708090a0b0c ${body}`);
  bytes.writeUInt16BE(bytes.length - 20, 2);
  return bytes;
}
