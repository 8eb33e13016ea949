import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMessage, newTransactionId, StunClass } from '../../src/codec/index.js';
import { channelDataHeader } from '../../src/relay/index.js';
import { StreamFrames } from '../../src/relay/turn/stream-frames.js';

const stun = encodeMessage({ cls: StunClass.Request, method: 0x001, transactionId: newTransactionId(), attributes: [] });
/** 5 bytes of data: 3 bytes of padding follow on a stream (RFC 8656 §12.5). */
const channelData = Buffer.concat([channelDataHeader(0x4001, 5), Buffer.from('hello'), Buffer.alloc(3)]);

test('whole STUN and padded ChannelData frames come out however the stream splits them', () => {
  const stream = Buffer.concat([channelData, stun, channelData]);
  for (let cut = 1; cut < stream.length; cut++) {
    const frames = new StreamFrames();
    const out = [...frames.push(stream.subarray(0, cut)), ...frames.push(stream.subarray(cut))];
    assert.deepEqual(out, [channelData, stun, channelData], `split at ${cut}`);
  }
});

test('bytes that are neither STUN nor ChannelData are ERR_TURN_PROTOCOL', () => {
  assert.throws(() => new StreamFrames().push(Buffer.from([0x80, 0, 0, 0])), { code: 'ERR_TURN_PROTOCOL' });
});
