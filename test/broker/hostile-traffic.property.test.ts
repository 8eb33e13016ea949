import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { expectClosedWithin } from '../support/hostile-stream.js';
import { BrokerClient } from '../../src/broker/client.js';
import { encodeFrame } from '../../src/broker/framing.js';
import { startBroker } from '../../src/broker/server.js';

// The broker under generated hostile traffic: each run opens a connection and sends a generated
// mix of protocol-shaped messages with wrong or missing fields, raw bytes, and frames that lie
// about their length, then goes away (or stays silent). Whatever it sent, the broker answers
// with error frames or closes, and two registered peers go on being served.

const MESSAGE_TYPES = ['hello', 'register', 'ping', 'pong', 'connect', 'signal', 'done', 'deregister', 'punch-port', 'query', 'welcome', 'coordinate'];

const jsonValue = fc.jsonValue({ maxDepth: 3 });
const message = fc.record(
  {
    type: fc.oneof(fc.constantFrom(...MESSAGE_TYPES), fc.string({ maxLength: 12 }), jsonValue),
    version: fc.oneof(fc.constant(1), jsonValue),
    id: fc.oneof(fc.string({ maxLength: 80 }), jsonValue),
    seq: fc.oneof(fc.nat(), jsonValue),
    connectionId: fc.oneof(fc.string({ maxLength: 40 }), jsonValue),
    transport: fc.oneof(fc.constantFrom('udp', 'tcp'), jsonValue),
    payload: jsonValue,
    profile: jsonValue,
    token: fc.oneof(fc.string({ maxLength: 40 }), jsonValue),
  },
  { requiredKeys: ['type'] },
);

/** One chunk on the wire: a frame, raw bytes, or a frame header promising more than follows. */
const chunk = fc.oneof(
  { weight: 5, arbitrary: message.map((m) => encodeFrame(m)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.tuple(fc.nat({ max: 0xffffffff }), fc.uint8Array({ maxLength: 16 })).map(([length, body]) => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(length);
    return Buffer.concat([header, body]);
  }) },
);

const REGISTRATION_TIMEOUT_MS = 500;
/** The registration timeout, checked on the broker's sweep, plus slack for a loaded host. */
const HELD_LIMIT_MS = 5_000;

const broker = await startBroker({ host: '127.0.0.1', port: 0, maxFrameBytes: 16 * 1024, registrationTimeoutMs: REGISTRATION_TIMEOUT_MS, maxConnections: 64 });
const peers = await Promise.all(['steady-a', 'steady-b'].map((id) => BrokerClient.connect({ host: '127.0.0.1', port: broker.port, id, reconnect: false })));

after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await broker.close();
});

test('the broker survives generated hostile connections and keeps serving registered peers', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(chunk, { maxLength: 12 }), fc.boolean(), async (chunks, endAfter) => {
      // A connection that never registers is cut by the registration timeout at the latest.
      await expectClosedWithin(broker.port, chunks, endAfter, HELD_LIMIT_MS, 'broker');
    }),
    { numRuns: 60 },
  );
  // Both steady peers are still registered and answered, and a new peer registers.
  for (const peer of peers) assert.ok((await peer.ping()) >= 0);
  const result = await peers[0]!.query({ id: 'steady-b' });
  assert.equal(result.peers[0]?.state, 'idle');
  const late = await BrokerClient.connect({ host: '127.0.0.1', port: broker.port, id: 'late', reconnect: false });
  assert.ok((await late.ping()) >= 0);
  await late.close();
});
