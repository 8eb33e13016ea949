import assert from 'node:assert/strict';
import { StunDecodeError, StunUnknownAttributesError } from '../../src/codec/index.js';

export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** Asserts `run` throws a StunDecodeError whose message matches and whose offset is `offset`. */
export function assertDecodeError(run: () => unknown, pattern: RegExp, offset?: number): StunDecodeError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof StunDecodeError, `expected StunDecodeError, got ${String(caught)}`);
  assert.equal(caught.code, 'ERR_STUN_DECODE');
  assert.match(caught.message, pattern);
  if (offset !== undefined) assert.equal(caught.offset, offset, `offset of "${caught.message}"`);
  return caught;
}

export function assertUnknownAttributes(run: () => unknown, types: number[]): StunUnknownAttributesError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
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
