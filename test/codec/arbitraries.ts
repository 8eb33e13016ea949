import fc from 'fast-check';
import {
  attribute,
  ChangeRequest,
  ErrorCode,
  IceControlled,
  Padding,
  PasswordAlgorithm,
  PasswordAlgorithms,
  Priority,
  ResponsePort,
  UnknownAttributes,
  Userhash,
  type EncodeOptions,
  type StunAttribute,
  type StunMessage,
  type TransportAddress,
} from '../../src/codec/index.js';
import { ADDRESS_CODECS, TEXT_CODECS } from './helpers.js';

const buffer = (maxLength: number) => fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes));

const transportAddress: fc.Arbitrary<TransportAddress> = fc.oneof(
  fc.record({ family: fc.constant('IPv4' as const), address: fc.ipV4(), port: fc.nat(0xffff) }),
  fc.record({ family: fc.constant('IPv6' as const), address: fc.ipV6(), port: fc.nat(0xffff) }),
);

const shortText = fc.string({ unit: 'grapheme', maxLength: 40 });

/** One attribute with a valid value of a known type, or an unknown comprehension-optional one. */
export const validAttribute: fc.Arbitrary<StunAttribute> = fc.oneof(
  fc.tuple(fc.constantFrom(...ADDRESS_CODECS), transportAddress).map(([codec, value]) => attribute(codec, value)),
  fc.tuple(fc.constantFrom(...TEXT_CODECS), shortText).map(([codec, value]) => attribute(codec, value)),
  fc.record({ code: fc.integer({ min: 300, max: 699 }), reason: shortText }).map((value) => attribute(ErrorCode, value)),
  fc.record({ changeIp: fc.boolean(), changePort: fc.boolean() }).map((value) => attribute(ChangeRequest, value)),
  fc.nat(0xffff).map((value) => attribute(ResponsePort, value)),
  fc.array(fc.nat(0xffff), { maxLength: 6 }).map((value) => attribute(UnknownAttributes, value)),
  buffer(64).map((value) => attribute(Padding, value)),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((value) => attribute(Userhash, Buffer.from(value))),
  fc.record({ algorithm: fc.nat(0xffff), parameters: buffer(8) }).map((value) => attribute(PasswordAlgorithm, value)),
  fc.array(fc.record({ algorithm: fc.nat(0xffff), parameters: buffer(8) }), { maxLength: 3 }).map((value) => attribute(PasswordAlgorithms, value)),
  fc.integer({ min: 1, max: 0xffffffff }).map((value) => attribute(Priority, value)),
  fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }).map((value) => attribute(IceControlled, value)),
  fc.record({ type: fc.integer({ min: 0xc000, max: 0xffff }), value: buffer(24) }),
);

export const validMessage: fc.Arbitrary<StunMessage> = fc
  .record({
    cls: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<StunMessage['cls']>,
    method: fc.nat(0xfff),
    legacy: fc.boolean(),
    id: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    attributes: fc.array(validAttribute, { maxLength: 6 }),
  })
  .map(({ cls, method, legacy, id, attributes }) => {
    const message: StunMessage = { cls, method, transactionId: Buffer.from(legacy ? id : id.subarray(0, 12)), attributes };
    if (legacy) message.legacy = true;
    return message;
  });

export const encodeOptions: fc.Arbitrary<EncodeOptions> = fc.record({
  integrity: fc.option(fc.record({ key: buffer(20), algorithm: fc.constantFrom('sha1' as const, 'sha256' as const) }), { nil: undefined }),
  fingerprint: fc.boolean(),
});

/** How to damage an encoded message; positions are taken modulo its length. */
export const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('length' as const), value: fc.nat(0xffff) }),
  fc.record({ kind: fc.constant('attributeLength' as const), at: fc.nat(), value: fc.nat(0xffff) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), type: fc.nat(0xffff), value: buffer(12), fixLength: fc.boolean() }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: buffer(8) }),
  fc.record({ kind: fc.constant('append' as const), bytes: buffer(12), fixLength: fc.boolean() }),
);
export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** Offsets where an attribute starts (walking the TLVs as far as they are well formed). */
function attributeStarts(bytes: Buffer): number[] {
  const starts: number[] = [];
  let offset = 20;
  while (offset + 4 <= bytes.length) {
    starts.push(offset);
    offset += 4 + ((bytes.readUInt16BE(offset + 2) + 3) & ~3);
  }
  starts.push(Math.min(offset, bytes.length));
  return starts;
}

function fixLength(bytes: Buffer): Buffer {
  if (bytes.length >= 4) bytes.writeUInt16BE((bytes.length - 20) & 0xffff, 2);
  return bytes;
}

export function mutate(original: Buffer, change: Mutation): Buffer {
  const bytes = Buffer.from(original);
  switch (change.kind) {
    case 'flip':
      for (let i = 0; i < change.count; i++) {
        const at = (change.at + i * 7) % bytes.length;
        bytes.writeUInt8(bytes.readUInt8(at) ^ (1 << ((change.bit + i) % 8)), at);
      }
      return bytes;
    case 'truncate':
      return bytes.subarray(0, change.at % bytes.length);
    case 'length':
      bytes.writeUInt16BE(change.value, 2);
      return bytes;
    case 'attributeLength': {
      const starts = attributeStarts(bytes).filter((start) => start + 4 <= bytes.length);
      if (starts.length === 0) return bytes;
      bytes.writeUInt16BE(change.value, starts[change.at % starts.length]! + 2);
      return bytes;
    }
    case 'insert': {
      const starts = attributeStarts(bytes);
      const at = starts[change.at % starts.length]!;
      const header = Buffer.alloc(4);
      header.writeUInt16BE(change.type, 0);
      header.writeUInt16BE(change.value.length, 2);
      const padding = Buffer.alloc((4 - (change.value.length % 4)) % 4);
      const inserted = Buffer.concat([bytes.subarray(0, at), header, change.value, padding, bytes.subarray(at)]);
      return change.fixLength ? fixLength(inserted) : inserted;
    }
    case 'overwrite': {
      const at = change.at % bytes.length;
      Buffer.from(change.bytes).copy(bytes, at);
      return bytes;
    }
    case 'append': {
      const appended = Buffer.concat([bytes, change.bytes]);
      return change.fixLength ? fixLength(appended) : appended;
    }
  }
}

/** Random bytes, often behind a plausible header so decoding gets past the first checks. */
export const randomInput = fc
  .record({ body: fc.uint8Array({ maxLength: 120 }), plausible: fc.boolean(), cookie: fc.boolean() })
  .map(({ body, plausible, cookie }) => {
    const bytes = Buffer.from(body);
    if (!plausible || bytes.length < 20) return bytes;
    bytes.writeUInt8(bytes.readUInt8(0) & 0x3f, 0);
    const trimmed = bytes.subarray(0, bytes.length - (bytes.length % 4));
    trimmed.writeUInt16BE(trimmed.length - 20, 2);
    if (cookie) trimmed.writeUInt32BE(0x2112a442, 4);
    return trimmed;
  });
