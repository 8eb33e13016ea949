import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attribute,
  checkMessageIntegrity,
  decodeMessage,
  encodedLength,
  encodeMessage,
  encodeMessageInto,
  Fingerprint,
  getAttribute,
  getAttributes,
  isStunMessage,
  MAGIC_COOKIE,
  MappedAddress,
  MessageIntegrity,
  MessageIntegritySha256,
  messageLength,
  newTransactionId,
  registerAttribute,
  Software,
  SourceAddress,
  StunClass,
  StunEncodeError,
  StunMethod,
  XorMappedAddress,
  type AttributeCodec,
  type StunMessage,
} from '../../src/codec/index.js';
import { StunDecodeError } from '../../src/codec/errors.js';
import { TXID, assertDecodeError, hex } from './helpers.js';

function binding(cls: StunMessage['cls'], attributes: StunMessage['attributes'] = []): StunMessage {
  return { cls, method: StunMethod.Binding, transactionId: TXID, attributes };
}

test('a bare Binding request is the 20-byte header with the magic cookie', () => {
  assert.deepEqual(encodeMessage(binding(StunClass.Request)), hex('0001 0000 2112a442 0102030405060708090a0b0c'));
});

test('class bits land at type bits 4 and 8, around the method bits', () => {
  const types = [StunClass.Request, StunClass.Indication, StunClass.SuccessResponse, StunClass.ErrorResponse].map((cls) =>
    encodeMessage({ cls, method: 0xfff, transactionId: TXID, attributes: [] }).readUInt16BE(0),
  );
  assert.deepEqual(types, [0x3eef, 0x3eff, 0x3fef, 0x3fff]);
});

test('every class and 12-bit method survives a round trip', () => {
  for (const cls of [0, 1, 2, 3] as const) {
    for (const method of [0x000, 0x001, 0x003, 0x00a, 0x0f0, 0xabc, 0xfff]) {
      const decoded = decodeMessage(encodeMessage({ cls, method, transactionId: TXID, attributes: [] }));
      assert.equal(decoded.cls, cls);
      assert.equal(decoded.method, method);
    }
  }
});

test('attributes keep their wire order and repeated types', () => {
  const message = binding(StunClass.SuccessResponse, [
    attribute(Software, 'a'),
    attribute(MappedAddress, { family: 'IPv4', address: '10.0.0.1', port: 1 }),
    attribute(Software, 'b'),
  ]);
  const decoded = decodeMessage(encodeMessage(message));
  assert.deepEqual(decoded.attributes.map((entry) => entry.value), ['a', { family: 'IPv4', address: '10.0.0.1', port: 1 }, 'b']);
  assert.equal(getAttribute(decoded, Software), 'a');
  assert.deepEqual(getAttributes(decoded, Software), ['a', 'b']);
  assert.equal(getAttribute(decoded, XorMappedAddress), undefined);
});

test('RFC 3489 legacy message: no magic cookie, 16-byte transaction id, decoded with legacy: true', () => {
  const transactionId = hex('00112233445566778899aabbccddeeff');
  const bytes = encodeMessage({
    cls: StunClass.SuccessResponse,
    method: StunMethod.Binding,
    transactionId,
    legacy: true,
    attributes: [attribute(MappedAddress, { family: 'IPv4', address: '192.0.2.7', port: 4000 }), attribute(SourceAddress, { family: 'IPv4', address: '198.51.100.1', port: 3478 })],
  });
  assert.deepEqual(bytes.subarray(4, 20), transactionId);
  const decoded = decodeMessage(bytes);
  assert.equal(decoded.legacy, true);
  assert.deepEqual(decoded.transactionId, transactionId);
  assert.deepEqual(getAttribute(decoded, SourceAddress), { family: 'IPv4', address: '198.51.100.1', port: 3478 });
  assert.deepEqual(encodeMessage(decoded), bytes);
});

test('a message with the magic cookie is not marked legacy', () => {
  assert.equal(decodeMessage(encodeMessage(binding(StunClass.Request))).legacy, undefined);
});

test('requireMagicCookie rejects a legacy message at offset 4', () => {
  const legacy = hex('0001 0000 00112233445566778899aabbccddeeff');
  assertDecodeError(() => decodeMessage(legacy, { requireMagicCookie: true }), /magic cookie/, 4);
});

test('a legacy message needs a 16-byte transaction id to encode', () => {
  assert.throws(() => encodeMessage({ ...binding(StunClass.Request), legacy: true }), StunEncodeError);
});

test('options.integrity appends MESSAGE-INTEGRITY that checkMessageIntegrity accepts', () => {
  const key = Buffer.from('secret');
  const bytes = encodeMessage(binding(StunClass.Request, [attribute(Software, 'x')]), { integrity: { key } });
  assert.equal(decodeMessage(bytes).attributes.at(-1)?.type, MessageIntegrity.type);
  assert.equal(checkMessageIntegrity(bytes, key), true);
  assert.equal(checkMessageIntegrity(bytes, Buffer.from('other')), false);
});

test('options.integrity with sha256 appends a 32-byte MESSAGE-INTEGRITY-SHA256', () => {
  const key = Buffer.from('secret');
  const bytes = encodeMessage(binding(StunClass.Request), { integrity: { key, algorithm: 'sha256' } });
  const last = decodeMessage(bytes).attributes.at(-1)!;
  assert.equal(last.type, MessageIntegritySha256.type);
  assert.equal((last.value as Buffer).length, 32);
  assert.equal(checkMessageIntegrity(bytes, key), true);
});

test('integrity stays valid when FINGERPRINT follows it (length adjusted as RFC 8489 §14.5 says)', () => {
  const key = Buffer.from('secret');
  const bytes = encodeMessage(binding(StunClass.Request), { integrity: { key }, fingerprint: true });
  assert.equal(checkMessageIntegrity(bytes, key), true);
  assert.equal(decodeMessage(bytes).attributes.at(-1)?.type, Fingerprint.type);
});

test('checkMessageIntegrity is false when the message has no integrity attribute', () => {
  assert.equal(checkMessageIntegrity(encodeMessage(binding(StunClass.Request)), Buffer.from('k')), false);
});

test('checkMessageIntegrity is false after any covered byte changes', () => {
  const key = Buffer.from('secret');
  const bytes = encodeMessage(binding(StunClass.Request, [attribute(Software, 'abcd')]), { integrity: { key } });
  bytes.writeUInt8(bytes.readUInt8(24) ^ 1, 24);
  assert.equal(checkMessageIntegrity(bytes, key), false);
});

test('a FINGERPRINT attribute in the list is recomputed, so decoded messages re-encode validly', () => {
  const message = binding(StunClass.Request, [attribute(Software, 'x'), attribute(Fingerprint, 0)]);
  const bytes = encodeMessage(message);
  assert.deepEqual(bytes, encodeMessage(binding(StunClass.Request, [attribute(Software, 'x')]), { fingerprint: true }));
  assert.doesNotThrow(() => decodeMessage(bytes));
});

test('FINGERPRINT anywhere but last cannot be encoded', () => {
  assert.throws(() => encodeMessage(binding(StunClass.Request, [attribute(Fingerprint, 0), attribute(Software, 'x')])), /FINGERPRINT must be the last/);
});

test('options.integrity on a message that already has MESSAGE-INTEGRITY is refused', () => {
  const message = binding(StunClass.Request, [attribute(MessageIntegrity, Buffer.alloc(20))]);
  assert.throws(() => encodeMessage(message, { integrity: { key: Buffer.from('k') } }), StunEncodeError);
});

test('attributes after MESSAGE-INTEGRITY other than MI-SHA256 and FINGERPRINT are ignored', () => {
  const signed = encodeMessage(binding(StunClass.Request, [attribute(Software, 'signed')]), { integrity: { key: Buffer.from('k') } });
  const extra = hex('80220004 65766c6c');
  const tampered = Buffer.concat([signed, extra]);
  tampered.writeUInt16BE(tampered.length - 20, 2);
  const decoded = decodeMessage(tampered);
  assert.deepEqual(getAttributes(decoded, Software), ['signed']);
});

test('encodeMessageInto writes at an offset of a preallocated buffer and returns the length', () => {
  const target = Buffer.alloc(100, 0xee);
  const message = binding(StunClass.SuccessResponse, [attribute(XorMappedAddress, { family: 'IPv4', address: '192.0.2.1', port: 32853 })]);
  const written = encodeMessageInto(message, target, 10);
  assert.equal(written, 32);
  assert.deepEqual(target.subarray(10, 10 + written), encodeMessage(message));
  assert.equal(target[9], 0xee);
  assert.equal(target[10 + written], 0xee);
});

test('encodeMessageInto refuses a target that is too small', () => {
  assert.throws(() => encodeMessageInto(binding(StunClass.Request), Buffer.alloc(19)), /needs 20/);
});

test('encodedLength predicts the encoded size', () => {
  const message = binding(StunClass.Request, [attribute(Software, 'abcde')]);
  assert.equal(encodedLength(message, { fingerprint: true }), encodeMessage(message, { fingerprint: true }).length);
});

test('unknown comprehension-optional attributes are kept as raw Buffers and re-encoded', () => {
  const bytes = encodeMessage(binding(StunClass.Request, [{ type: 0xc001, value: hex('deadbe') }]));
  const decoded = decodeMessage(bytes);
  assert.deepEqual(decoded.attributes, [{ type: 0xc001, value: hex('deadbe') }]);
  assert.deepEqual(encodeMessage(decoded), bytes);
});

test('non-zero padding is kept and reproduced; zero padding is not reported', () => {
  const bytes = encodeMessage(binding(StunClass.Request, [{ type: Software.type, value: 'abc', padding: hex('20') }, attribute(Software, 'def')]));
  const decoded = decodeMessage(bytes);
  assert.deepEqual(decoded.attributes[0]?.padding, hex('20'));
  assert.equal(decoded.attributes[1]?.padding, undefined);
  assert.deepEqual(encodeMessage(decoded), bytes);
});

test('an attribute without a codec must carry a Buffer', () => {
  assert.throws(() => encodeMessage(binding(StunClass.Request, [{ type: 0xc002, value: 'text' }])), StunEncodeError);
});

test('an extension registers its own codec and the table uses it both ways', () => {
  const Lifetime: AttributeCodec<number> = {
    type: 0x7f0d,
    name: 'EXAMPLE-LIFETIME',
    encode: (value) => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(value);
      return bytes;
    },
    decode: (data) => {
      if (data.length !== 4) throw new StunDecodeError('must be 4 bytes', 0);
      return data.readUInt32BE(0);
    },
  };
  registerAttribute(Lifetime);
  registerAttribute(Lifetime);
  const bytes = encodeMessage({ cls: StunClass.Request, method: 0x003, transactionId: TXID, attributes: [attribute(Lifetime, 600)] });
  assert.equal(getAttribute(decodeMessage(bytes), Lifetime), 600);
});

test('registering a second codec for a taken type is refused', () => {
  assert.throws(() => registerAttribute({ ...Software, name: 'OTHER' }), /already registered as SOFTWARE/);
});

test('an extension codec that throws a plain Error still yields a StunDecodeError with the offset', () => {
  registerAttribute({ type: 0x7ff0, name: 'BROKEN', encode: () => Buffer.alloc(4), decode: () => { throw new Error('boom'); } });
  const bytes = encodeMessage(binding(StunClass.Request, [{ type: 0x7ff0, value: 0 }]));
  const error = assertDecodeError(() => decodeMessage(bytes), /BROKEN at offset 20: boom/, 24);
  assert.ok(error.cause instanceof Error);
});

test('isStunMessage accepts a STUN message and rejects other traffic cheaply', () => {
  const bytes = encodeMessage(binding(StunClass.Request));
  assert.equal(isStunMessage(bytes), true);
  assert.equal(isStunMessage(bytes.subarray(0, 19)), false);
  assert.equal(isStunMessage(Buffer.concat([bytes, Buffer.alloc(4)])), false);
  const rtp = Buffer.from(bytes);
  rtp[0] = 0x80;
  assert.equal(isStunMessage(rtp), false);
  const noCookie = Buffer.from(bytes);
  noCookie.writeUInt32BE(0, 4);
  assert.equal(isStunMessage(noCookie), false);
  assert.equal(isStunMessage(noCookie, { allowLegacy: true }), true);
});

test('messageLength reads the total size from a stream prefix', () => {
  assert.equal(messageLength(hex('0001 0008')), 28);
  assert.equal(messageLength(hex('0001 00')), undefined);
  assert.equal(messageLength(hex('ff ff 0001 000c'), 2), 32);
});

test('newTransactionId returns 12 fresh random bytes', () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newTransactionId().toString('hex')));
  assert.equal(ids.size, 1000);
  assert.equal(newTransactionId().length, 12);
});

test('MAGIC_COOKIE is RFC 8489\'s 0x2112A442', () => {
  assert.equal(MAGIC_COOKIE, 0x2112a442);
});

test('invalid headers are refused at encode time', () => {
  assert.throws(() => encodeMessage({ ...binding(StunClass.Request), method: 0x1000 }), /12-bit/);
  assert.throws(() => encodeMessage({ ...binding(StunClass.Request), cls: 4 as never }), /class/);
  assert.throws(() => encodeMessage({ ...binding(StunClass.Request), transactionId: Buffer.alloc(11) }), /12-byte/);
});

test('a message body over 65532 bytes is refused at encode time', () => {
  const big = Array.from({ length: 70 }, () => ({ type: 0xc003, value: Buffer.alloc(1000) }));
  assert.throws(() => encodeMessage(binding(StunClass.Request, big)), /exceeds/);
});

test('a codec that encodes a whole message inside its own value does not disturb the outer encoding', () => {
  const Encapsulated: AttributeCodec<StunMessage> = {
    type: 0x7f0e,
    name: 'EXAMPLE-ENCAPSULATED',
    encode: (inner) => encodeMessage(inner),
    decode: (data) => decodeMessage(Buffer.from(data)),
  };
  registerAttribute(Encapsulated);
  const inner = binding(StunClass.Request, [attribute(Software, 'inner')]);
  const outer = binding(StunClass.Indication, [attribute(Software, 'before'), attribute(Encapsulated, inner), attribute(Software, 'after')]);
  const decoded = decodeMessage(encodeMessage(outer));
  assert.deepEqual(getAttributes(decoded, Software), ['before', 'after']);
  assert.equal(getAttribute(getAttribute(decoded, Encapsulated)!, Software), 'inner');
});

test('MESSAGE-INTEGRITY-SHA256 after MESSAGE-INTEGRITY is kept; other attributes after it are ignored', () => {
  const signed = encodeMessage(binding(StunClass.Request), { integrity: { key: Buffer.from('k') } });
  const tail = hex(`001c0020 ${'11'.repeat(32)} 80220004 65766c6c`);
  const bytes = Buffer.concat([signed, tail]);
  bytes.writeUInt16BE(bytes.length - 20, 2);
  const types = decodeMessage(bytes).attributes.map((entry) => entry.type);
  assert.deepEqual(types, [MessageIntegrity.type, MessageIntegritySha256.type]);
});

test('only FINGERPRINT may follow MESSAGE-INTEGRITY-SHA256', () => {
  const signed = encodeMessage(binding(StunClass.Request), { integrity: { key: Buffer.from('k'), algorithm: 'sha256' } });
  const tail = hex(`00080014 ${'11'.repeat(20)}`);
  const bytes = Buffer.concat([signed, tail]);
  bytes.writeUInt16BE(bytes.length - 20, 2);
  const withFingerprint = encodeMessage(decodeMessage(bytes), { fingerprint: true });
  assert.deepEqual(decodeMessage(withFingerprint).attributes.map((entry) => entry.type), [MessageIntegritySha256.type, Fingerprint.type]);
});

test('an input larger than any STUN message is a decode error, not an exception of another kind', () => {
  const oversize = Buffer.alloc(70_000);
  assertDecodeError(() => decodeMessage(oversize), /message length field says 0 bytes after the header, 69980 present/, 2);
});
