import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { attribute, ChangeRequest, encodeMessage, newTransactionId, Padding, ResponsePort, StunClass, StunMethod, Username } from '../../src/codec/index.js';
import { BindingHandler } from '../../src/stun/binding-handler.js';

const handlers = [
  new BindingHandler({ addresses: ['127.0.0.1', '127.0.0.2'], ports: [3478, 3479], maxPaddingBytes: 64 }),
  new BindingHandler({ addresses: ['127.0.0.1'], ports: [3478, 3479], maxPaddingBytes: 64, credentials: { username: 'u', password: 'p' } }),
];
/** Header, four address attributes, capped PADDING (64), MESSAGE-INTEGRITY, FINGERPRINT, slack for ERROR-CODE text. */
const MAX_RESPONSE_BYTES = 256;
const source = { family: 'IPv4' as const, address: '198.51.100.1', port: 40000 };
const valid = encodeMessage({
  cls: StunClass.Request,
  method: StunMethod.Binding,
  transactionId: newTransactionId(),
  attributes: [
    attribute(ChangeRequest, { changeIp: true, changePort: false }),
    attribute(ResponsePort, 5000),
    attribute(Username, 'u'),
    attribute(Padding, Buffer.alloc(8)),
  ],
}, { fingerprint: true });

function handleAll(bytes: Buffer): void {
  for (const handler of handlers) {
    for (const transport of ['udp', 'tcp'] as const) {
      const decision = handler.handle(bytes, source, { ip: 0, port: 0 }, transport);
      if (decision.action === 'respond') assert.ok(decision.bytes.length <= MAX_RESPONSE_BYTES, `response of ${decision.bytes.length} bytes`);
    }
  }
}

test('random bytes never make the request handler throw', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => handleAll(Buffer.from(bytes))), { numRuns: 5000 });
});

test('mutated valid requests (STUN-shaped headers) never make the request handler throw', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (mutations) => {
      const bytes = Buffer.from(valid);
      for (const [offset, value] of mutations) if (offset >= 4) bytes[offset] = value; // keep type and length valid
      handleAll(bytes);
    }),
    { numRuns: 5000 },
  );
});
