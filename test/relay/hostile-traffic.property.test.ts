import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import fc from 'fast-check';
import { expectClosedWithin } from '../support/hostile-stream.js';
import { encodeTcpAttach, encodeUdpAttach, MAX_TOKEN_LENGTH, UdpType } from '../../src/relay/attach-protocol.js';
import { encodeDatagramFrame } from '../../src/relay/datagram-frames.js';
import { attachUdp } from '../../src/relay/index.js';
import { readAll, tcpPair, withRelay } from './support/relay.js';

// The relay under generated hostile traffic on each of its ports: attach frames with made-up
// tokens, raw bytes, truncated frames, datagram frames that lie about their length, stray UDP
// datagrams of every type. Whatever arrives, the relay closes the connection within its
// handshake timeout, creates no session, and the two sessions that were live all along (one TCP
// stream, one UDP session) keep carrying their bytes.

const HANDSHAKE_TIMEOUT_MS = 500;
/** The handshake timeout plus slack for a loaded host. */
const HELD_LIMIT_MS = 5_000;

const token = fc.oneof(
  fc.string({ minLength: 1, maxLength: MAX_TOKEN_LENGTH }),
  fc.constant(randomBytes(24).toString('base64url')),
);
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));

const streamChunk = fc.oneof(
  { weight: 3, arbitrary: token.map((t) => encodeTcpAttach(t)) },
  { weight: 2, arbitrary: token.map((t) => encodeTcpAttach(t).subarray(0, 5 + (t.length % 7))) },
  { weight: 2, arbitrary: bytes(64) },
  { weight: 2, arbitrary: fc.array(bytes(48), { maxLength: 3 }).map((parts) => encodeDatagramFrame([Buffer.of(UdpType.Data), ...parts])) },
  { weight: 1, arbitrary: fc.tuple(fc.nat({ max: 0xffff }), bytes(16)).map(([length, body]) => {
    const header = Buffer.alloc(2);
    header.writeUInt16BE(length);
    return Buffer.concat([header, body]);
  }) },
);

const datagram = fc.oneof(
  { weight: 3, arbitrary: token.map((t) => encodeUdpAttach(t)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...Object.values(UdpType)), bytes(32)).map(([type, rest]) => Buffer.concat([Buffer.of(type), rest])) },
  { weight: 2, arbitrary: bytes(64) },
);

test('the relay survives generated hostile traffic on every port; live sessions keep relaying, no session is made', async () => {
  await withRelay({ handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS }, async (relay) => {
    const [a, b] = await tcpPair(relay);
    const { tokens, endpoints } = await relay.createSession();
    const attach = (t: string) => attachUdp({ host: endpoints.host, port: endpoints.udpPort, token: t, timeoutMs: 5000 });
    const [u, v] = await Promise.all([attach(tokens[0]), attach(tokens[1])]);
    const datagramTcpPort = relay.endpoints.datagramTcpPort;
    assert.ok(datagramTcpPort !== undefined, 'the relay serves datagrams over TCP');
    const sessions = relay.sessionCount;
    const stray = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => stray.bind(0, '127.0.0.1', () => resolve()));
    stray.on('message', () => undefined);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(relay.endpoints.tcpPort, datagramTcpPort), fc.array(streamChunk, { maxLength: 8 }), fc.boolean(),
          (port, chunks, endAfter) => expectClosedWithin(port, chunks, endAfter, HELD_LIMIT_MS, 'relay'),
        ),
        { numRuns: 40 },
      );
      await fc.assert(
        fc.asyncProperty(fc.array(datagram, { minLength: 1, maxLength: 8 }), async (datagrams) => {
          for (const payload of datagrams) stray.send(payload, relay.endpoints.udpPort, '127.0.0.1');
        }),
        { numRuns: 40 },
      );
      assert.equal(relay.sessionCount, sessions, 'hostile traffic made or ended no session');
      const atB = readAll(b);
      a.end('still relayed');
      assert.equal((await atB).toString(), 'still relayed');
      const atV = once(v, 'message');
      u.send(Buffer.from('still relayed over UDP'));
      assert.equal(String((await atV)[0]), 'still relayed over UDP');
    } finally {
      stray.close();
      a.destroy();
      b.destroy();
      await Promise.all([u.close(), v.close()]);
    }
  }, { datagramTcpPort: 0 });
});
