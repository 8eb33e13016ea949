import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../../src/codec/crc32.js';

test('CRC-32 of "123456789" is the standard check value 0xCBF43926', () => {
  assert.equal(crc32(Buffer.from('123456789'), 0, 9), 0xcbf43926);
});

test('CRC-32 of a range equals the CRC-32 of that range copied out, whatever its alignment', () => {
  const bytes = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff));
  const bytewise = (data: Buffer): number => {
    let crc = 0xffffffff;
    for (const byte of data) {
      crc ^= byte;
      for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    }
    return (crc ^ 0xffffffff) >>> 0;
  };
  for (let start = 0; start < 5; start++) {
    for (let end = start; end <= 64; end += 3) assert.equal(crc32(bytes, start, end), bytewise(bytes.subarray(start, end)), `${start}..${end}`);
  }
});
