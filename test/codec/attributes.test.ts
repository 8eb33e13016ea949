import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AlternateDomain,
  attribute,
  ChangeRequest,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  getAttribute,
  MappedAddress,
  Nonce,
  Padding,
  PasswordAlgorithm,
  PasswordAlgorithmId,
  PasswordAlgorithms,
  Realm,
  ResponsePort,
  Software,
  StunClass,
  StunEncodeError,
  StunMethod,
  UnknownAttributes,
  Userhash,
  Username,
  XorMappedAddress,
  type AttributeCodec,
  type StunMessage,
  type TransportAddress,
} from '../../src/codec/index.js';
import { ADDRESS_CODECS, TEXT_CODECS, TXID, hex } from './helpers.js';

function roundTrip<T>(codec: AttributeCodec<T>, value: T, legacy = false): { value: T | undefined; bytes: Buffer } {
  const message: StunMessage = {
    cls: StunClass.SuccessResponse,
    method: StunMethod.Binding,
    transactionId: legacy ? Buffer.concat([TXID, hex('0d0e0f10')]) : TXID,
    attributes: [attribute(codec, value)],
  };
  if (legacy) message.legacy = true;
  const bytes = encodeMessage(message);
  return { value: getAttribute(decodeMessage(bytes), codec), bytes };
}

/** The attribute's bytes (header + value + padding) of a one-attribute message. */
function attributeBytes<T>(codec: AttributeCodec<T>, value: T): string {
  return roundTrip(codec, value).bytes.subarray(20).toString('hex');
}

const v4: TransportAddress = { family: 'IPv4', address: '192.0.2.1', port: 32853 };
const v6: TransportAddress = { family: 'IPv6', address: '2001:db8::1', port: 3478 };

test('every address attribute round-trips IPv4 and IPv6', () => {
  for (const codec of ADDRESS_CODECS) {
    assert.deepEqual(roundTrip(codec, v4).value, v4, codec.name);
    assert.deepEqual(roundTrip(codec, v6).value, v6, codec.name);
  }
});

test('address attributes carry RFC 8489 type codes', () => {
  const types = ADDRESS_CODECS.map((codec) => codec.type);
  assert.deepEqual(types, [0x0001, 0x0020, 0x8023, 0x802b, 0x802c, 0x0005, 0x0004, 0x0002, 0x000b]);
});

test('MAPPED-ADDRESS is family, port and address in the clear', () => {
  assert.equal(attributeBytes(MappedAddress, v4), '000100080001805' + '5c0000201');
});

test('XOR-MAPPED-ADDRESS XORs the port with 0x2112 and IPv4 with the magic cookie', () => {
  assert.equal(attributeBytes(XorMappedAddress, v4), '002000080001a147e112a643');
});

test('XOR-MAPPED-ADDRESS XORs IPv6 with magic cookie and transaction id', () => {
  const { bytes } = roundTrip(XorMappedAddress, { family: 'IPv6', address: '::', port: 0 });
  assert.equal(bytes.subarray(24).toString('hex'), `00022112${'2112a442'}${TXID.toString('hex')}`);
});

test('XOR-MAPPED-ADDRESS in a legacy message XORs with the 16-byte transaction id', () => {
  const { bytes, value } = roundTrip(XorMappedAddress, v6, true);
  assert.deepEqual(value, v6);
  assert.equal(bytes.readUInt16BE(26), v6.port ^ 0x0102);
});

test('IPv6 addresses come back in RFC 5952 canonical text', () => {
  const cases: Array<[string, string]> = [
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ];
  for (const [input, canonical] of cases) {
    assert.equal(roundTrip(XorMappedAddress, { family: 'IPv6', address: input, port: 1 }).value?.address, canonical, input);
  }
});

test('encoding an address with a port out of range throws StunEncodeError', () => {
  assert.throws(() => roundTrip(MappedAddress, { ...v4, port: 65536 }), StunEncodeError);
  assert.throws(() => roundTrip(MappedAddress, { ...v4, port: -1 }), /port -1 is not in 0\.\.65535/);
});

test('encoding a bad IP string throws StunEncodeError', () => {
  for (const address of ['256.0.0.1', '1.2.3', '01.2.3.4', 'example.org', '1.2.3.4.5', '']) {
    assert.throws(() => roundTrip(MappedAddress, { family: 'IPv4', address, port: 1 }), StunEncodeError, address);
  }
  for (const address of ['1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4:5:6:7', '192.0.2.1']) {
    assert.throws(() => roundTrip(XorMappedAddress, { family: 'IPv6', address, port: 1 }), StunEncodeError, address);
  }
});

test('encoding an address whose family disagrees with its text throws', () => {
  assert.throws(() => roundTrip(MappedAddress, { family: 'IPv4', address: '::1', port: 1 }), /not an IPv4 address/);
});

test('string attributes round-trip UTF-8 text', () => {
  for (const codec of TEXT_CODECS) {
    assert.equal(roundTrip(codec, 'ntcp \u00e9\u30de').value, 'ntcp \u00e9\u30de', codec.name);
  }
});

test('string attributes are padded to 4 bytes with zeros', () => {
  assert.equal(attributeBytes(Software, 'abcde'), '802200056162636465000000');
});

test('USERNAME of 509 bytes cannot be encoded; 508 can', () => {
  assert.throws(() => roundTrip(Username, 'a'.repeat(509)), /509 bytes exceeds the 508-byte limit/);
  assert.equal(roundTrip(Username, 'a'.repeat(508)).value?.length, 508);
});

test('REALM, NONCE and SOFTWARE allow 127 characters, not 128', () => {
  for (const codec of [Realm, Nonce, Software]) {
    assert.equal(roundTrip(codec, '\u00e9'.repeat(127)).value, '\u00e9'.repeat(127));
    assert.throws(() => roundTrip(codec, 'x'.repeat(128)), /more than 127 characters/, codec.name);
  }
});

test('the 127-character limit counts code points, not UTF-16 units or bytes', () => {
  assert.equal(roundTrip(Realm, '\u{1f600}'.repeat(127)).value, '\u{1f600}'.repeat(127));
  assert.throws(() => roundTrip(Realm, '\u{1f600}'.repeat(128)), /more than 127 characters/);
});

test('ALTERNATE-DOMAIN over 255 bytes is refused', () => {
  assert.throws(() => roundTrip(AlternateDomain, 'a'.repeat(256)), /255-byte limit/);
});

test('ERROR-CODE encodes class and number and round-trips the reason', () => {
  assert.equal(attributeBytes(ErrorCode, { code: 420, reason: 'Unknown' }), '0009000b00000414556e6b6e6f776e00');
  assert.deepEqual(roundTrip(ErrorCode, { code: 699, reason: '' }).value, { code: 699, reason: '' });
});

test('ERROR-CODE outside 300..699 is refused', () => {
  assert.throws(() => roundTrip(ErrorCode, { code: 299, reason: 'x' }), /not in 300\.\.699/);
  assert.throws(() => roundTrip(ErrorCode, { code: 700, reason: 'x' }), StunEncodeError);
});

test('UNKNOWN-ATTRIBUTES is a list of 16-bit types', () => {
  assert.equal(attributeBytes(UnknownAttributes, [0x7f01, 0x0002, 0x0003]), '000a00067f01000200030000');
  assert.deepEqual(roundTrip(UnknownAttributes, [1, 2, 0xffff]).value, [1, 2, 0xffff]);
});

test('CHANGE-REQUEST sets the change-IP (0x4) and change-port (0x2) flags', () => {
  assert.equal(attributeBytes(ChangeRequest, { changeIp: true, changePort: true }), '0003000400000006');
  assert.equal(attributeBytes(ChangeRequest, { changeIp: false, changePort: true }), '0003000400000002');
  assert.deepEqual(roundTrip(ChangeRequest, { changeIp: true, changePort: false }).value, { changeIp: true, changePort: false });
});

test('RESPONSE-PORT is a port followed by two bytes of padding', () => {
  assert.equal(attributeBytes(ResponsePort, 40000), '00270004' + '9c400000');
  assert.equal(roundTrip(ResponsePort, 0).value, 0);
  assert.throws(() => roundTrip(ResponsePort, 70000), StunEncodeError);
});

test('PADDING carries arbitrary bytes', () => {
  assert.deepEqual(roundTrip(Padding, Buffer.alloc(37, 0xab)).value, Buffer.alloc(37, 0xab));
});

test('USERHASH is exactly 32 bytes', () => {
  assert.deepEqual(roundTrip(Userhash, Buffer.alloc(32, 7)).value, Buffer.alloc(32, 7));
  assert.throws(() => roundTrip(Userhash, Buffer.alloc(31)), StunEncodeError);
});

test('PASSWORD-ALGORITHM is the algorithm, parameter length and parameters', () => {
  assert.equal(attributeBytes(PasswordAlgorithm, { algorithm: PasswordAlgorithmId.SHA256, parameters: Buffer.alloc(0) }), '001d000400020000');
  const value = { algorithm: 0x1234, parameters: hex('aabbcc') };
  assert.deepEqual(roundTrip(PasswordAlgorithm, value).value, value);
});

test('PASSWORD-ALGORITHMS pads each entry to 4 bytes', () => {
  const list = [
    { algorithm: PasswordAlgorithmId.MD5, parameters: hex('01') },
    { algorithm: PasswordAlgorithmId.SHA256, parameters: Buffer.alloc(0) },
  ];
  assert.equal(attributeBytes(PasswordAlgorithms, list), '8002000c' + '00010001' + '01000000' + '00020000');
  assert.deepEqual(roundTrip(PasswordAlgorithms, list).value, list);
});

test('a value of the wrong shape throws StunEncodeError, never a TypeError', () => {
  const bad: Array<[AttributeCodec<any>, unknown]> = [
    [MappedAddress, null],
    [MappedAddress, { family: 'IPv5', address: '1.2.3.4', port: 1 }],
    [Software, 42],
    [ErrorCode, { code: 400 }],
    [UnknownAttributes, 'x'],
    [ChangeRequest, undefined],
    [PasswordAlgorithms, [{ algorithm: 1 }]],
    [Padding, 'x'],
  ];
  for (const [codec, value] of bad) assert.throws(() => roundTrip(codec, value), StunEncodeError, codec.name);
});
