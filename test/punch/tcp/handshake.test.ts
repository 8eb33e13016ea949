import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { selectStream, verifyStream, type HandshakeOptions } from '../../../src/punch/tcp/handshake.js';

const SECRET = Buffer.alloc(32, 7);

/** A connected loopback pair: [client end, server end]. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  await once(client, 'connect');
  server.close();
  return [client, accepted];
}

function options(role: HandshakeOptions['role'], overrides: Partial<HandshakeOptions> = {}): HandshakeOptions {
  return { role, connectionId: 'conn-1', secret: SECRET, timeoutMs: 1000, ...overrides };
}

test('both sides with the same secret and id verify, and application bytes after the handshake survive', async () => {
  const [a, b] = await socketPair();
  const initiator = verifyStream(a, options('initiator'));
  const responder = verifyStream(b, options('responder'));
  await initiator;
  selectStream(a);
  a.write('hello after');
  await responder;
  const [data] = (await once(b, 'data')) as [Buffer];
  assert.equal(data.toString(), 'hello after');
  a.destroy();
  b.destroy();
});

test('a peer with the wrong secret is rejected on both sides', async () => {
  const [a, b] = await socketPair();
  const results = await Promise.allSettled([
    verifyStream(a, options('initiator')),
    verifyStream(b, options('responder', { secret: Buffer.alloc(32, 8) })),
  ]);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.equal((result as PromiseRejectedResult).reason.code, 'ERR_TCP_VERIFICATION');
  }
  a.destroy();
  b.destroy();
});

test('a peer proving a different connection id is rejected', async () => {
  const [a, b] = await socketPair();
  const [initiator] = await Promise.allSettled([
    verifyStream(a, options('initiator')),
    verifyStream(b, options('responder', { connectionId: 'conn-2' })),
  ]);
  assert.equal(initiator.status, 'rejected');
  assert.match(String((initiator as PromiseRejectedResult).reason.message), /wrong secret or connection id/);
  a.destroy();
  b.destroy();
});

test('two initiators (a self-connect or reflection) are rejected', async () => {
  const [a, b] = await socketPair();
  const results = await Promise.allSettled([verifyStream(a, options('initiator')), verifyStream(b, options('initiator'))]);
  assert.ok(results.every((r) => r.status === 'rejected'));
  a.destroy();
  b.destroy();
});

test('garbage from a stray connection is rejected without waiting for the timeout', async () => {
  const [a, b] = await socketPair();
  const verifying = verifyStream(b, options('responder', { timeoutMs: 60_000 }));
  a.write(Buffer.alloc(4096, 0x47));
  await assert.rejects(verifying, { code: 'ERR_TCP_VERIFICATION', message: /did not speak/ });
  a.destroy();
  b.destroy();
});

test('a silent peer times out with a typed error', async () => {
  const [a, b] = await socketPair();
  await assert.rejects(verifyStream(b, options('responder', { timeoutMs: 50 })), { code: 'ERR_TCP_VERIFICATION', message: /within 50 ms/ });
  a.destroy();
  b.destroy();
});

test('a responder that is never selected does not hand out the stream', async () => {
  const [a, b] = await socketPair();
  const responder = verifyStream(b, options('responder', { timeoutMs: 200 }));
  await verifyStream(a, options('initiator'));
  a.destroy();
  await assert.rejects(responder, { code: 'ERR_TCP_VERIFICATION', message: /closed during verification/ });
  b.destroy();
});

test('an aborted verification rejects with ERR_ABORTED', async () => {
  const [a, b] = await socketPair();
  const controller = new AbortController();
  const verifying = verifyStream(b, options('responder', { signal: controller.signal }));
  controller.abort();
  await assert.rejects(verifying, { code: 'ERR_ABORTED' });
  a.destroy();
  b.destroy();
});

test('a half-open stream (no HELLO from the far end) is given up after helloTimeoutMs, not the full timeout', async () => {
  const [a, b] = await socketPair();
  a.pause();
  await assert.rejects(verifyStream(b, options('responder', { timeoutMs: 60_000, helloTimeoutMs: 50 })), {
    code: 'ERR_TCP_VERIFICATION',
    message: /no HELLO from the peer within 50 ms/,
  });
  a.destroy();
  b.destroy();
});

test('a HELLO that arrived while the loop stood still past helloTimeoutMs is read before the timer judges it', async () => {
  // A loaded host: both HELLOs are in the kernel within a millisecond, but the loop is busy past
  // the hello timeout; when it comes back, its timers phase runs before the poll phase reads them.
  const [a, b] = await socketPair();
  try {
    const initiator = verifyStream(a, options('initiator', { helloTimeoutMs: 50 }));
    const responder = verifyStream(b, options('responder', { helloTimeoutMs: 50 }));
    const until = performance.now() + 200;
    while (performance.now() < until) {
      // The busy host.
    }
    await initiator;
    selectStream(a);
    await responder;
  } finally {
    a.destroy();
    b.destroy();
  }
});
