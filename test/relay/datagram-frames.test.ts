import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DatagramFrameReader, encodeDatagramFrame, MAX_DATAGRAM_FRAME_BODY } from '../../src/relay/datagram-frames.js';
import { parseRelayEndpoints } from '../../src/relay/index.js';

test('frames split at any byte boundary come out whole and in order', () => {
  fc.assert(fc.property(
    fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
    fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 16 }),
    (bodies, cuts) => {
      const stream = Buffer.concat(bodies.map((body) => encodeDatagramFrame([body])));
      const reader = new DatagramFrameReader();
      const out: Buffer[] = [];
      for (let offset = 0, index = 0; offset < stream.length; index++) {
        const end = Math.min(stream.length, offset + cuts[index % cuts.length]!);
        for (const read of reader.push(stream.subarray(offset, end))) {
          assert.equal(read.kind, 'frame');
          if (read.kind === 'frame') out.push(Buffer.from(read.body));
        }
        offset = end;
      }
      assert.deepEqual(out, bodies.map((body) => Buffer.from(body)));
      assert.equal(reader.buffered, 0);
    },
  ));
});

test('an empty or oversize length is invalid, and the reader reads nothing after it', () => {
  const reader = new DatagramFrameReader();
  const oversize = Buffer.alloc(2);
  oversize.writeUInt16BE(MAX_DATAGRAM_FRAME_BODY + 1);
  const reads = reader.push(Buffer.concat([encodeDatagramFrame([Buffer.from('ok')]), oversize]));
  assert.deepEqual(reads.map((read) => read.kind), ['frame', 'invalid']);
  assert.deepEqual(reader.push(encodeDatagramFrame([Buffer.from('late')])), []);
  assert.equal(new DatagramFrameReader().push(Buffer.from([0, 0]))[0]?.kind, 'invalid');
});

test('encoding refuses an empty or oversize datagram', () => {
  assert.throws(() => encodeDatagramFrame([]), RangeError);
  assert.throws(() => encodeDatagramFrame([Buffer.alloc(MAX_DATAGRAM_FRAME_BODY + 1)]), RangeError);
  assert.equal(encodeDatagramFrame([Buffer.alloc(MAX_DATAGRAM_FRAME_BODY)]).length, MAX_DATAGRAM_FRAME_BODY + 2);
});

test('relay endpoints keep a valid datagramTcpPort and refuse a bad one', () => {
  assert.deepEqual(parseRelayEndpoints({ host: '192.0.2.1', tcpPort: 3480, udpPort: 3480, datagramTcpPort: 3481 }), { host: '192.0.2.1', tcpPort: 3480, udpPort: 3480, datagramTcpPort: 3481 });
  assert.throws(() => parseRelayEndpoints({ host: '192.0.2.1', tcpPort: 3480, udpPort: 3480, datagramTcpPort: 'x' }), { code: 'ERR_INVALID_ARGUMENT' });
});
