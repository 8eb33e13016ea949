import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, StunClass, StunMethod } from '../../src/codec/index.js';
import { sampleIPv4Response, sampleRequest } from './vectors/rfc5769.js';
import { assertDecodeError, assertUnknownAttributes, frame, hex } from './helpers.js';

test('fewer than 20 bytes is a truncated header', () => {
  assertDecodeError(() => decodeMessage(hex('0001 0000 2112a442')), /truncated header: 8 of 20 bytes/, 8);
  assertDecodeError(() => decodeMessage(Buffer.alloc(0)), /truncated header/, 0);
});

test('the first two bits must be zero', () => {
  const bytes = frame('');
  bytes[0] = 0x40;
  assertDecodeError(() => decodeMessage(bytes), /first two bits must be zero/, 0);
});

test('a length field that is not a multiple of 4 is rejected', () => {
  const bytes = frame('00000000');
  bytes.writeUInt16BE(3, 2);
  assertDecodeError(() => decodeMessage(bytes), /message length 3 is not a multiple of 4/, 2);
});

test('a length field that disagrees with the datagram size is rejected', () => {
  const bytes = frame('80220004 61626364');
  bytes.writeUInt16BE(12, 2);
  assertDecodeError(() => decodeMessage(bytes), /says 12 bytes after the header, 8 present/, 2);
});

test('a message truncated inside an attribute is rejected at the attribute length', () => {
  const bytes = frame('80220008 61626364');
  assertDecodeError(() => decodeMessage(bytes), /attribute 0x8022 at offset 20 has length 8, which overruns the message/, 22);
});

test('padding is part of the attribute: a value whose padding is missing overruns', () => {
  assertDecodeError(() => decodeMessage(frame('80220009 61626364 65666768')), /attribute 0x8022 at offset 20 has length 9, which overruns/, 22);
});

test('an address attribute with an unknown family is rejected at the family byte', () => {
  const bytes = frame('00010008 0003 1234 c0000201', '0101');
  assertDecodeError(() => decodeMessage(bytes), /MAPPED-ADDRESS at offset 20: unknown address family 0x03/, 25);
});

test('an IPv4 address attribute must be 8 bytes long', () => {
  const bytes = frame('0001000c 0001 1234 c0000201 00000000', '0101');
  assertDecodeError(() => decodeMessage(bytes), /IPv4 address value must be 8 bytes, got 12/, 24);
});

test('an IPv6 XOR-MAPPED-ADDRESS must be 20 bytes long', () => {
  const bytes = frame('00200008 0002 1234 c0000201', '0101');
  assertDecodeError(() => decodeMessage(bytes), /XOR-MAPPED-ADDRESS at offset 20: IPv6 address value must be 20 bytes, got 8/, 24);
});

test('a bad FINGERPRINT is rejected with both values', () => {
  const bytes = Buffer.from(sampleRequest);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
  assertDecodeError(() => decodeMessage(bytes), /FINGERPRINT mismatch: 0xe57a3b30, expected 0xe57a3bcf/, bytes.length - 4);
});

test('any changed byte before FINGERPRINT makes it fail', () => {
  const bytes = Buffer.from(sampleIPv4Response);
  bytes.writeUInt8(bytes.readUInt8(30) ^ 0x01, 30);
  assertDecodeError(() => decodeMessage(bytes), /FINGERPRINT mismatch/);
});

test('a FINGERPRINT of the wrong size is rejected', () => {
  assertDecodeError(() => decodeMessage(frame('80280002 00000000')), /FINGERPRINT at offset 20: value must be 4 bytes, got 2/, 24);
});

test('an attribute after FINGERPRINT is rejected', () => {
  const fingerprinted = encodeMessage({ cls: StunClass.Request, method: StunMethod.Binding, transactionId: Buffer.alloc(12), attributes: [] }, { fingerprint: true });
  const bytes = Buffer.concat([fingerprinted, hex('80220004 61626364')]);
  bytes.writeUInt16BE(bytes.length - 20, 2);
  assertDecodeError(() => decodeMessage(bytes), /attribute after FINGERPRINT at offset 28/, 28);
});

test('MESSAGE-INTEGRITY must be 20 bytes', () => {
  assertDecodeError(() => decodeMessage(frame('00080010 00000000 00000000 00000000 00000000')), /MESSAGE-INTEGRITY at offset 20: value must be 20 bytes, got 16/, 24);
});

test('MESSAGE-INTEGRITY-SHA256 must be 16..32 bytes in steps of 4', () => {
  assertDecodeError(() => decodeMessage(frame('001c000c 00000000 00000000 00000000')), /16\.\.32 bytes in steps of 4, got 12/);
});

test('unknown comprehension-required attributes are all reported, with the header for a 420', () => {
  const bytes = frame('7f010000 80220004 61626364 7f020004 00000000 c0010000');
  const error = assertUnknownAttributes(() => decodeMessage(bytes), [0x7f01, 0x7f02]);
  assert.equal(error.cls, StunClass.Request);
  assert.equal(error.method, StunMethod.Binding);
  assert.deepEqual(error.transactionId, hex('0102030405060708090a0b0c'));
  assert.equal(error.legacy, false);
});

test('a malformed known attribute wins over unknown ones (it is a 400, not a 420)', () => {
  assertDecodeError(() => decodeMessage(frame('7f010000 00030002 00000000')), /CHANGE-REQUEST/);
});

test('a USERNAME that is not UTF-8 is rejected', () => {
  assertDecodeError(() => decodeMessage(frame('00060002 c328 0000')), /USERNAME at offset 20: value is not valid UTF-8/, 24);
});

test('a USERNAME of 509 bytes or more is rejected', () => {
  const bytes = frame(`000601fd ${'61'.repeat(509)}000000`);
  assertDecodeError(() => decodeMessage(bytes), /509 bytes exceeds the 508-byte limit/);
});

test('a SOFTWARE of 128 characters is rejected', () => {
  assertDecodeError(() => decodeMessage(frame(`80220080 ${'61'.repeat(128)}`)), /more than 127 characters/);
});

test('an ERROR-CODE class outside 3..6 is rejected', () => {
  assertDecodeError(() => decodeMessage(frame('00090004 00000200', '0111')), /error class 2 is not in 3\.\.6/, 26);
});

test('an ERROR-CODE number over 99 is rejected', () => {
  assertDecodeError(() => decodeMessage(frame('00090004 00000464', '0111')), /error number 100/, 27);
});

test('an odd UNKNOWN-ATTRIBUTES length is rejected', () => {
  assertDecodeError(() => decodeMessage(frame('000a0003 00010200', '0111')), /odd/);
});

test('a CHANGE-REQUEST must be 4 bytes', () => {
  assertDecodeError(() => decodeMessage(frame('00030008 00000006 00000000')), /CHANGE-REQUEST at offset 20: value must be 4 bytes, got 8/);
});

test('a PASSWORD-ALGORITHMS entry overrunning the value is rejected', () => {
  assertDecodeError(() => decodeMessage(frame('80020008 00010008 00000000', '0111')), /overrun the value/);
});

test('a USERHASH must be 32 bytes', () => {
  assertDecodeError(() => decodeMessage(frame('001e0004 00000000')), /USERHASH at offset 20: value must be 32 bytes/);
});
