import { test } from 'node:test';
import net from 'node:net';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { BrokerLink, DEFAULT_CLIENT_MAX_FRAME_BYTES } from '../../src/broker/link.js';
import { BrokerClient } from '../../src/broker/client.js';
import { encodeFrame, FrameDecoder, parseFrameBody } from '../../src/broker/framing.js';
import type { BrokerMessage } from '../../src/broker/protocol.js';
import { until } from './helpers.js';

const WELCOME = {
  type: 'welcome', version: 1, heartbeatIntervalMs: 10_000, observed: { family: 'IPv4', address: '127.0.0.1', port: 1 },
  limits: { maxFrameBytes: 32768, maxIdBytes: 64, maxProfileBytes: 16384, maxSignalBytes: 2048 },
};

/** A scripted broker: `answer` maps each client frame to the frames written back in one chunk. */
async function scriptedBroker(answer: (frame: { type: string }) => object[]): Promise<{ port: number; received: Array<{ type: string }>; close(): void }> {
  const received: Array<{ type: string }> = [];
  const server = net.createServer((socket) => {
    const decoder = new FrameDecoder(DEFAULT_CLIENT_MAX_FRAME_BYTES);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const body of decoder.push(chunk)) {
        const frame = parseFrameBody(body) as { type: string };
        received.push(frame);
        const replies = answer(frame);
        if (replies.length > 0) socket.write(Buffer.concat(replies.map((reply) => encodeFrame(reply))));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, received, close: () => server.close() };
}

test('a frame in the same chunk right behind the welcome reaches the handler set after open', { timeout: 5000 }, async () => {
  const broker = await scriptedBroker((frame) => (frame.type === 'hello' ? [WELCOME, { type: 'ping', seq: 7 }] : []));
  const link = await BrokerLink.open({ host: '127.0.0.1', port: broker.port, maxFrameBytes: DEFAULT_CLIENT_MAX_FRAME_BYTES, connectTimeoutMs: 5000 });
  try {
    const message = await new Promise<BrokerMessage>((resolve) => (link.onMessage = resolve));
    assert.deepEqual(message, { type: 'ping', seq: 7 });
  } finally {
    link.destroy();
    broker.close();
  }
});

test('a fatal error in the same chunk right behind registered reaches the registered client', { timeout: 5000 }, async () => {
  const broker = await scriptedBroker((frame) => {
    if (frame.type === 'hello') return [WELCOME];
    if (frame.type === 'register') {
      return [
        { type: 'registered', id: 'eager', reclaimToken: 'token', reclaimed: false, observed: WELCOME.observed },
        { type: 'error', code: 'ERR_BAD_MESSAGE', message: 'unreadable frame', fatal: true },
      ];
    }
    return [];
  });
  const client = await BrokerClient.connect({ host: '127.0.0.1', port: broker.port, id: 'eager', reconnect: false });
  try {
    await until(() => !client.connected);
  } finally {
    await client.close();
    broker.close();
  }
});
