import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type net from 'node:net';
import { after, before, test } from 'node:test';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { discoverNat, type NatProfile } from '../../src/discovery/index.js';
import { NtcpError } from '../../src/errors.js';
import { Peer, pathOf, type DatagramConnection, type PeerRegisterOptions } from '../../src/peer/index.js';
import { startStunServer, type StunServer } from '../../src/stun/index.js';
import { coturnInstalled, startCoturn, type Coturn } from '../relay/support/coturn.js';
import { nextIncoming, readExactly } from '../support/peer-streams.js';

// Two peers on loopback relay through a real coturn (explicit flags, free ports, killed in
// `after`). The broker has no relay of its own: the TURN strategies need no relay session.

const installed = coturnInstalled();
if (!installed) console.error('turn-coturn.test (peer): SKIPPING: `turnserver` is not installed (apt-get install coturn)');
const skip = !installed && 'turnserver not installed';

const USER = { user: 'u', password: 'p', realm: 'r' };
const SECRET = 'ntcp-peer-turn-secret';
let coturn: Coturn | undefined;
let restCoturn: Coturn | undefined;
let stun: StunServer;
let broker: Broker;
let profile: NatProfile;
const peers: Peer[] = [];

before(async () => {
  if (!installed) return;
  [coturn, restCoturn, stun, broker] = await Promise.all([
    startCoturn(USER, ['--verbose']), startCoturn({ secret: SECRET, realm: 'r' }),
    startStunServer({ host: '127.0.0.1', altHost: '127.0.0.2', port: 0, altPort: 0 }), startBroker({ host: '127.0.0.1', port: 0 }),
  ]);
  profile = await discoverNat({ server: { host: '127.0.0.1', port: stun.endpoints.port }, timeoutMs: 300 });
});

after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await Promise.all([broker?.close(), stun?.close(), coturn?.stop(), restCoturn?.stop()]);
});

function turnUrl(server: Coturn, query = ''): string {
  return `turn:${server.host}:${server.port}${query}`;
}

async function register(id: string, turn: PeerRegisterOptions['turn'], incomingTimeoutMs = 8000): Promise<Peer> {
  const peer = await Peer.register({
    server: { host: '127.0.0.1', brokerPort: broker.port, stunPort: stun.endpoints.port },
    id, profile, hostAddresses: ['127.0.0.1'], connectTimeoutMs: 8000, incomingTimeoutMs, relay: 'force', turn,
  });
  peers.push(peer);
  return peer;
}

async function pair(name: string, turn: PeerRegisterOptions['turn'], incomingTimeoutMs?: number): Promise<[Peer, Peer]> {
  return Promise.all([register(`${name}-listener`, turn, incomingTimeoutMs), register(`${name}-dialler`, turn)]);
}

async function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function tcpBothWays(listener: Peer, dialler: Peer): Promise<void> {
  const incoming = nextIncoming(listener);
  const socket = await dialler.connect(listener.id, { transport: 'tcp' });
  const accepted = await incoming;
  assert.equal(accepted.transport, 'tcp');
  if (accepted.transport !== 'tcp') return;
  assert.equal(pathOf(socket)?.method, 'turn');
  assert.equal(accepted.path.method, 'turn');
  // TURN servers do not relay a half-close (coturn closes both legs on the first FIN), so each
  // side answers before it ends, as request/response protocols do.
  const payload = randomBytes(200_000);
  const atListener = readExactly(accepted.socket, payload.length);
  socket.write(payload);
  assert.ok((await atListener).equals(payload), 'every byte arrives unchanged');
  // coturn resets both legs on the first FIN; ntcp reports that as the end of the stream, not an error.
  const listenerErrors: Error[] = [];
  accepted.socket.on('error', (error) => listenerErrors.push(error));
  const atDialler = readAll(socket);
  const listenerClosed = once(accepted.socket, 'close');
  accepted.socket.end('listener says hi');
  assert.equal((await atDialler).toString(), 'listener says hi');
  assert.deepEqual(await listenerClosed, [false], 'the listener\'s stream closes without error');
  assert.deepEqual(listenerErrors, []);
}

/** An allocation coturn deleted on request (Refresh with lifetime 0), in its verbose log. */
const DELETION = /^(?=.*refreshed)(?=.*lifetime=0)/;

async function udpBothWays(listener: Peer, dialler: Peer): Promise<void> {
  const incoming = nextIncoming(listener);
  const connection: DatagramConnection = await dialler.connect(listener.id, { transport: 'udp' });
  const accepted = await incoming;
  assert.equal(accepted.transport, 'udp');
  if (accepted.transport !== 'udp') return;
  assert.equal(pathOf(connection)?.method, 'turn');
  assert.equal(accepted.path.method, 'turn');
  const toListener = once(accepted.connection, 'message');
  connection.send(Buffer.from('ping through coturn'));
  assert.equal(String((await toListener)[0]), 'ping through coturn');
  const toDialler = once(connection, 'message');
  accepted.connection.send(Buffer.from('pong through coturn'));
  assert.equal(String((await toDialler)[0]), 'pong through coturn');
  const before = await coturn!.logLines(DELETION, 0);
  const closed = once(accepted.connection, 'close');
  await connection.close();
  assert.deepEqual((await closed)[0], { reason: 'remote' });
  assert.ok((await coturn!.logLines(DELETION, before + 1)) > before, 'the dialler deleted its allocation on close');
}

test('relay force with turn: a TCP stream through coturn (RFC 6062) carries data both ways, method turn', { skip }, async () => {
  const [listener, dialler] = await pair('tcp', { url: turnUrl(coturn!), username: USER.user, password: USER.password });
  await tcpBothWays(listener, dialler);
});

test('a TURN stream ended right after a large write still delivers every byte (the FIN trails the data)', { skip }, async () => {
  const [listener, dialler] = await pair('tcp-fin', { url: turnUrl(coturn!), username: USER.user, password: USER.password });
  const incoming = nextIncoming(listener);
  const socket = await dialler.connect(listener.id, { transport: 'tcp' });
  const accepted = await incoming;
  assert.equal(accepted.transport, 'tcp');
  if (accepted.transport !== 'tcp') return;
  const payload = randomBytes(2_000_000);
  const received = readAll(accepted.socket);
  const before = await coturn!.logLines(DELETION, 0);
  socket.end(payload);
  assert.ok((await received).equals(payload), 'every byte before the FIN arrives');
  assert.ok((await coturn!.logLines(DELETION, before + 1)) > before, 'the dialler deleted its TCP allocation once the stream closed');
});

test('relay force with turn: UDP through coturn carries datagrams both ways and a close reaches the peer', { skip }, async () => {
  const [listener, dialler] = await pair('udp', { url: turnUrl(coturn!), username: USER.user, password: USER.password });
  await udpBothWays(listener, dialler);
});

test('UDP relaying also works with a TCP connection to the TURN server (?transport=tcp)', { skip }, async () => {
  const [listener, dialler] = await pair('udp-over-tcp', { url: turnUrl(coturn!, '?transport=tcp'), username: USER.user, password: USER.password });
  await udpBothWays(listener, dialler);
});

test('TURN REST credentials from a shared secret (coturn --use-auth-secret)', { skip }, async () => {
  const [listener, dialler] = await pair('rest', { url: turnUrl(restCoturn!), secret: SECRET, user: 'ntcp-test' });
  await tcpBothWays(listener, dialler);
});

test('a per-connect turn option relays through the dialler\'s server, which the listener reaches whatever its own', { skip }, async () => {
  const listener = await register('per-connect-listener', { url: turnUrl(restCoturn!), secret: SECRET });
  const dialler = await register('per-connect-dialler', undefined);
  const incoming = nextIncoming(listener);
  const before = await coturn!.logLines(DELETION, 0);
  const connection = await dialler.connect(listener.id, { transport: 'udp', turn: { url: turnUrl(coturn!), username: USER.user, password: USER.password } });
  assert.equal(pathOf(connection)?.method, 'turn');
  assert.equal((await incoming).path.method, 'turn');
  await connection.close();
  assert.ok((await coturn!.logLines(DELETION, before + 1)) > before, 'the allocation was made on the dialler\'s server');
});

test('wrong TURN credentials: connect fails with ERR_TURN_AUTH and the listener hears ERR_TURN_PEER_FAILED', { skip }, async () => {
  // The listener keeps punching directly until its own deadline before it reports the relay's failure.
  const [listener, dialler] = await pair('badauth', { url: turnUrl(coturn!), username: USER.user, password: 'wrong' }, 2000);
  const incomingError = once(listener, 'incoming-error');
  const error = await dialler.connect(listener.id, { transport: 'udp' }).then(() => undefined, (failure: unknown) => failure);
  assert.ok(error instanceof NtcpError, String(error));
  assert.equal(error.code, 'ERR_TURN_AUTH', error.message);
  const [{ error: listenerError }] = (await incomingError) as [{ error: NtcpError }];
  assert.equal(listenerError.code, 'ERR_TURN_PEER_FAILED', listenerError.message);
});

test('a malformed turn URL fails Peer.register with ERR_TURN_URL', { skip }, async () => {
  const error = await register('badurl', { url: 'turn:127.0.0.1:99999', username: 'u', password: 'p' }).then(() => undefined, (failure: unknown) => failure);
  assert.equal((error as NtcpError | undefined)?.code, 'ERR_TURN_URL');
});
