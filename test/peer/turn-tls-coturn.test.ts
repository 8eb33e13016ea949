import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type net from 'node:net';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { discoverNat, type NatProfile } from '../../src/discovery/index.js';
import { NtcpError } from '../../src/errors.js';
import { Peer, pathOf, type PeerRegisterOptions } from '../../src/peer/index.js';
import { startStunServer, type StunServer } from '../../src/stun/index.js';
import { coturnSkipReason, startCoturn, type Coturn } from '../support/coturn.js';
import { makeTestCertificates, opensslSkipReason, type TestCertificates } from '../support/tls-certs.js';
import { nextIncoming, readExactly } from '../support/peer-streams.js';

// Two peers on loopback relay through one real coturn over TLS (a turns: URL), its certificate
// for IP:127.0.0.1 from a throwaway openssl CA that the peers are given as `ca`.

const skip = coturnSkipReason('turn-tls-coturn.test (peer)') || opensslSkipReason('turn-tls-coturn.test (peer)');
const USER = { user: 'u', password: 'p', realm: 'r' };
let certs: TestCertificates | undefined;
let coturn: Coturn | undefined;
let stun: StunServer | undefined;
let broker: Broker | undefined;
let profile: NatProfile;
const peers: Peer[] = [];

before(async () => {
  if (skip) return;
  certs = makeTestCertificates();
  [coturn, stun, broker] = await Promise.all([
    startCoturn(USER, ['--verbose'], undefined, { cert: certs.certFile, key: certs.keyFile }),
    startStunServer({ host: '127.0.0.1', altHost: '127.0.0.2', port: 0, altPort: 0 }), startBroker({ host: '127.0.0.1', port: 0 }),
  ]);
  profile = await discoverNat({ server: { host: '127.0.0.1', port: stun.endpoints.port }, timeoutMs: 300 });
});

after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await Promise.all([broker?.close(), stun?.close(), coturn?.stop()]);
  certs?.remove();
});

function turnOption(ca: string): PeerRegisterOptions['turn'] {
  return { url: `turns:${coturn!.host}:${coturn!.tlsPort}`, username: USER.user, password: USER.password, ca };
}

async function register(id: string, turn: PeerRegisterOptions['turn']): Promise<Peer> {
  const peer = await Peer.register({
    server: { host: '127.0.0.1', brokerPort: broker!.port, stunPort: stun!.endpoints.port },
    id, profile, hostAddresses: ['127.0.0.1'], connectTimeoutMs: 8000, incomingTimeoutMs: 2000, relay: 'force', turn,
  });
  peers.push(peer);
  return peer;
}

/** A session coturn ran over TLS, in its verbose log ("cipher=..., method=TLSv1.x"). */
const TLS_SESSION = / new, .*method=TLS/;

/** Everything until the socket closes (not for-await: its end would destroy our open write side with an AbortError). */
function readToClose(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return once(socket, 'close').then(() => Buffer.concat(chunks));
}

test('relay force with a turns: URL: a TCP stream through coturn over TLS (RFC 6062) carries data both ways', { skip }, async () => {
  const [listener, dialler] = await Promise.all([register('tcp-listener', turnOption(certs!.ca)), register('tcp-dialler', turnOption(certs!.ca))]);
  const sessionsBefore = await coturn!.logLines(TLS_SESSION, 0);
  const incoming = nextIncoming(listener);
  const socket = await dialler.connect(listener.id, { transport: 'tcp' });
  const accepted = await incoming;
  assert.equal(accepted.transport, 'tcp');
  if (accepted.transport !== 'tcp') return;
  assert.equal(pathOf(socket)?.method, 'turn');
  assert.equal(accepted.path.method, 'turn');
  assert.ok((await coturn!.logLines(TLS_SESSION, sessionsBefore + 1)) > sessionsBefore, 'the dialler allocated over TLS');
  assert.ok(socket instanceof tls.TLSSocket && socket.authorized, 'the dialler\'s data connection (ConnectionBind) is verified TLS');
  const payload = randomBytes(100_000);
  const atListener = readExactly(accepted.socket, payload.length);
  socket.write(payload);
  assert.ok((await atListener).equals(payload), 'every byte arrives unchanged');
  // coturn resets both legs on the first FIN; over TLS too ntcp reports that as the end of the stream.
  const diallerErrors: Error[] = [];
  socket.on('error', (error) => diallerErrors.push(error));
  const atDialler = readToClose(socket);
  const listenerClosed = once(accepted.socket, 'close');
  accepted.socket.end('listener says bye');
  assert.equal((await atDialler).toString(), 'listener says bye');
  assert.deepEqual(await listenerClosed, [false], 'the listener\'s stream closes without error');
  assert.deepEqual(diallerErrors, []);
});

test('relay force with a turns: URL: UDP through coturn over TLS carries datagrams both ways', { skip }, async () => {
  const [listener, dialler] = await Promise.all([register('udp-listener', turnOption(certs!.ca)), register('udp-dialler', turnOption(certs!.ca))]);
  const sessionsBefore = await coturn!.logLines(TLS_SESSION, 0);
  const incoming = nextIncoming(listener);
  const connection = await dialler.connect(listener.id, { transport: 'udp' });
  const accepted = await incoming;
  assert.equal(accepted.transport, 'udp');
  if (accepted.transport !== 'udp') return;
  assert.equal(pathOf(connection)?.method, 'turn');
  assert.ok((await coturn!.logLines(TLS_SESSION, sessionsBefore + 1)) > sessionsBefore, 'the dialler allocated over TLS');
  const toListener = once(accepted.connection, 'message');
  connection.send(Buffer.from('ping over turns'));
  assert.equal(String((await toListener)[0]), 'ping over turns');
  const toDialler = once(connection, 'message');
  accepted.connection.send(Buffer.from('pong over turns'));
  assert.equal(String((await toDialler)[0]), 'pong over turns');
  await connection.close();
});

test('a turns: server whose certificate the given CA did not sign: connect fails with ERR_TURN_TLS', { skip }, async () => {
  const [listener, dialler] = await Promise.all([register('badca-listener', turnOption(certs!.otherCa)), register('badca-dialler', turnOption(certs!.otherCa))]);
  const error = await dialler.connect(listener.id, { transport: 'udp' }).then(() => undefined, (failure: unknown) => failure);
  assert.ok(error instanceof NtcpError, String(error));
  assert.equal(error.code, 'ERR_TURN_TLS', error.message);
});
