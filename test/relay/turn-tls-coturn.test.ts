import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import tls from 'node:tls';
import { once } from 'node:events';
import { TurnClient, type TurnClientOptions } from '../../src/relay/index.js';
import { coturnSkipReason, startCoturn, type Coturn } from '../support/coturn.js';
import { makeTestCertificates, opensslSkipReason, type TestCertificates } from '../support/tls-certs.js';
import { assertEchoes, withEchoServer } from './support/echo.js';

// TURN over TLS (turns:, RFC 8656 §3.1) against one real coturn with a TLS listener; its
// certificate for IP:127.0.0.1 comes from a throwaway CA made with openssl for this run.

const skip = coturnSkipReason('turn-tls-coturn.test') || opensslSkipReason('turn-tls-coturn.test');
const USER = { user: 'u', password: 'p', realm: 'r' };
let certs: TestCertificates | undefined;
let coturn: Coturn | undefined;

before(async () => {
  if (skip) return;
  certs = makeTestCertificates();
  coturn = await startCoturn(USER, ['--verbose'], undefined, { cert: certs.certFile, key: certs.keyFile });
});

after(async () => {
  await coturn?.stop();
  certs?.remove();
});

function tlsClient(overrides: Partial<TurnClientOptions> = {}): Promise<TurnClient> {
  return TurnClient.connect({
    server: { host: coturn!.host, port: coturn!.tlsPort! }, transport: 'tls', tls: { ca: certs!.ca },
    credentials: { username: USER.user, password: USER.password }, timeoutMs: 3000, ...overrides,
  });
}

/** A session coturn ran over TLS, in its verbose log ("cipher=..., method=TLSv1.x"). */
const TLS_SESSION = / new, .*method=TLS/;

test('UDP relaying through a TLS control connection: ChannelData both ways in padded frames', { skip }, async () => {
  const sessionsBefore = await coturn!.logLines(TLS_SESSION, 0);
  const client = await tlsClient();
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', () => resolve()));
  try {
    const allocation = await client.allocate();
    assert.ok((await coturn!.logLines(TLS_SESSION, sessionsBefore + 1)) > sessionsBefore, 'coturn ran the allocation over TLS');
    const peerAddress = { address: '127.0.0.1', port: peer.address().port };
    await client.channelBind(peerAddress);
    const atPeer = once(peer, 'message');
    client.send(peerAddress, Buffer.from('odd length!'));
    assert.equal(((await atPeer) as [Buffer])[0].toString(), 'odd length!');
    const received: string[] = [];
    client.on('data', (data: Buffer) => received.push(data.toString()));
    // 1 and 5 bytes: each ChannelData frame carries padding the parser must step over.
    for (const text of ['x', 'fives', 'third frame']) peer.send(Buffer.from(text), allocation.relayed.port, '127.0.0.1');
    while (received.length < 3) await once(client, 'data');
    assert.deepEqual(received, ['x', 'fives', 'third frame']);
  } finally {
    peer.close();
    await client.close();
  }
});

test('a TCP allocation (RFC 6062) through turns: carries a stream on a TLS data connection', { skip }, async () => {
  await withEchoServer(async (echoPort) => {
    const client = await tlsClient();
    try {
      await client.allocate({ relayTransport: 'tcp' });
      const socket = await client.connect({ address: '127.0.0.1', port: echoPort });
      assert.ok(socket instanceof tls.TLSSocket && socket.encrypted, 'the ConnectionBind connection is TLS');
      // A completed, verified handshake: coturn itself spoke TLS on the data connection.
      assert.equal(socket.authorized, true, 'its certificate was verified against the test CA');
      await assertEchoes(socket, 128 * 1024);
      socket.destroy();
    } finally {
      await client.close();
    }
  });
});

test('a server certificate from a CA the client was not given fails with ERR_TURN_TLS', { skip }, async () => {
  await assert.rejects(tlsClient({ tls: { ca: certs!.otherCa } }), (error: { code?: string; reason?: string }) => {
    assert.equal(error.code, 'ERR_TURN_TLS');
    assert.equal(error.reason, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    return true;
  });
});

test('a certificate that does not name the host fails with ERR_TURN_TLS; rejectUnauthorized: false accepts it', { skip }, async () => {
  const byName = { host: 'localhost', port: coturn!.tlsPort! };
  await assert.rejects(tlsClient({ server: byName }), { code: 'ERR_TURN_TLS', reason: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  const unverified = await tlsClient({ server: byName, tls: { rejectUnauthorized: false } });
  try {
    assert.ok((await unverified.allocate()).relayed.port > 0);
  } finally {
    await unverified.close();
  }
});
