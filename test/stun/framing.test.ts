import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StunFrameDecoder } from '../../src/stun/framing.js';
import { StunFramingError } from '../../src/stun/errors.js';

/** A syntactically framed STUN message: 20-byte header + body of `bodyLength` bytes. */
function frame(bodyLength: number, fill: number): Buffer {
  const bytes = Buffer.alloc(20 + bodyLength, fill);
  bytes.writeUInt16BE(0x0001, 0);
  bytes.writeUInt16BE(bodyLength, 2);
  bytes.writeUInt32BE(0x2112a442, 4);
  return bytes;
}

test('a frame split across many chunks comes out once, whole', () => {
  const decoder = new StunFrameDecoder();
  const message = frame(12, 7);
  const out: Buffer[] = [];
  for (let i = 0; i < message.length; i += 3) out.push(...decoder.push(message.subarray(i, i + 3)));
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], message);
  assert.equal(decoder.buffered, 0);
});

test('coalesced frames in one chunk come out separately, in order, keeping the tail', () => {
  const decoder = new StunFrameDecoder();
  const a = frame(0, 1);
  const b = frame(8, 2);
  const c = frame(4, 3);
  const out = decoder.push(Buffer.concat([a, b, c.subarray(0, 10)]));
  assert.deepEqual(out, [a, b]);
  assert.equal(decoder.buffered, 10);
  assert.deepEqual(decoder.push(c.subarray(10)), [c]);
});

test('a frame larger than the maximum is refused before it is buffered', () => {
  const decoder = new StunFrameDecoder(100);
  const header = frame(200, 0).subarray(0, 20);
  assert.throws(() => decoder.push(header), (error) => error instanceof StunFramingError && error.code === 'ERR_STUN_FRAMING');
});

test('a length that is not a multiple of 4 is refused', () => {
  const decoder = new StunFrameDecoder();
  const bad = frame(8, 0);
  bad.writeUInt16BE(6, 2);
  assert.throws(() => decoder.push(bad), StunFramingError);
});

test('bytes that are not STUN (e.g. an HTTP request) are refused with the offset', () => {
  const decoder = new StunFrameDecoder();
  decoder.push(frame(0, 0));
  assert.throws(
    () => decoder.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')),
    (error) => error instanceof StunFramingError && error.offset === 20,
  );
});

test('a caller reusing its chunk buffer does not corrupt a pending partial frame', () => {
  const decoder = new StunFrameDecoder();
  const message = frame(4, 9);
  const chunk = Buffer.from(message.subarray(0, 10));
  decoder.push(chunk);
  chunk.fill(0xff);
  assert.deepEqual(decoder.push(message.subarray(10)), [message]);
});
