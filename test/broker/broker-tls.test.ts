import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { BrokerClient, startBroker, type Broker, type BrokerOptions } from '../../src/broker/index.js';
import { discoverNat, type NatProfile } from '../../src/discovery/index.js';
import { NtcpError } from '../../src/errors.js';
import { Peer, pathOf, type IncomingConnection } from '../../src/peer/index.js';
import { startStunServer, type StunServer } from '../../src/stun/index.js';
import { makeTestCertificates, opensslSkipReason, type TestCertificates } from '../support/tls-certs.js';

// The broker over TLS on loopback, with a throwaway CA whose server certificate names 127.0.0.1.

const skip = opensslSkipReason('broker TLS tests');
let certs: TestCertificates;
let tlsServer: BrokerOptions['tls'];
let broker: Broker;
let stun: StunServer;
let profile: NatProfile;
const closers: Array<() => Promise<unknown> | void> = [];

before(async () => {
  if (skip) return;
  certs = makeTestCertificates();
  tlsServer = { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) };
  broker = await startBroker({ host: '127.0.0.1', port: 0, tls: tlsServer });
  stun = await startStunServer({ host: '127.0.0.1', altHost: '127.0.0.2', port: 0, altPort: 0 });
  profile = await discoverNat({ server: { host: '127.0.0.1', port: stun.endpoints.port }, timeoutMs: 300 });
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await broker?.close();
  await stun?.close();
  certs?.remove();
});

function client(id: string, port: number, extra: Partial<Parameters<typeof BrokerClient.connect>[0]> = {}): Promise<BrokerClient> {
  return BrokerClient.connect({ host: '127.0.0.1', port, id, tls: { ca: certs.ca }, reconnect: false, ...extra }).then((connected) => {
    closers.push(() => connected.close());
    return connected;
  });
}

async function failure(promise: Promise<unknown>): Promise<NtcpError> {
  const error = await promise.then(() => undefined, (thrown: unknown) => thrown);
  assert.ok(error instanceof NtcpError, `expected an NtcpError, got ${String(error)}`);
  return error;
}

/** A loopback TCP proxy that keeps every byte both ways: what someone on the path would see. */
async function recordingProxy(targetPort: number): Promise<{ port: number; seen: () => Buffer }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      sockets.add(from);
      from.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        to.write(chunk);
      });
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as net.AddressInfo).port, seen: () => Buffer.concat(chunks) };
}

test('two peers register over TLS and connect to each other; the path sees no broker JSON', { skip }, async () => {
  const proxy = await recordingProxy(broker.port);
  const register = async (id: string): Promise<Peer> => {
    const peer = await Peer.register({
      server: { host: '127.0.0.1', brokerPort: proxy.port, stunPort: stun.endpoints.port, tls: { ca: certs.ca } },
      id, profile, hostAddresses: ['127.0.0.1'], relay: 'never', connectTimeoutMs: 5000, incomingTimeoutMs: 5000,
    });
    closers.push(() => peer.close());
    return peer;
  };
  const listener = await register('tls-listener');
  const dialler = await register('tls-dialler');
  const incoming = once(listener, 'connection').then(([accepted]) => accepted as IncomingConnection);
  const connection = await dialler.connect('tls-listener', { transport: 'udp' });
  const accepted = await incoming;
  assert.equal(accepted.path.peerId, 'tls-dialler');
  assert.equal(pathOf(connection)?.peerId, 'tls-listener');
  await connection.close();
  const wire = proxy.seen();
  assert.ok(wire.length > 0, 'the proxy carried the broker traffic');
  assert.equal(wire.indexOf('"type"'), -1, 'a broker message in plaintext');
  assert.equal(wire.indexOf('tls-listener'), -1, 'a peer id in plaintext');
});

test('the per-connection secret both peers receive never crosses the path in the clear', { skip }, async () => {
  const proxy = await recordingProxy(broker.port);
  const responder = await client('secret-responder', proxy.port);
  const initiator = await client('secret-initiator', proxy.port);
  const [coordination, [mirrored]] = await Promise.all([
    initiator.requestConnect('secret-responder'),
    once(responder, 'coordination'),
  ]);
  assert.deepEqual(mirrored.secret, coordination.secret);
  const wire = proxy.seen();
  for (const encoding of ['base64', 'hex'] as const) assert.equal(wire.indexOf(coordination.secret.toString(encoding)), -1, encoding);
  assert.equal(wire.indexOf(coordination.secret), -1, 'raw bytes');
});

test('a client that trusts another CA fails with ERR_BROKER_TLS; the broker serves the next client', { skip }, async () => {
  const error = await failure(client('wrong-ca', broker.port, { tls: { ca: certs.otherCa } }));
  assert.equal(error.code, 'ERR_BROKER_TLS', error.message);
  const next = await client('after-wrong-ca', broker.port);
  assert.equal(next.connected, true);
  assert.ok(broker.counters.get('tls-handshake-failures') >= 1);
});

test('a certificate that does not name the host (servername) fails with ERR_BROKER_TLS', { skip }, async () => {
  const error = await failure(client('wrong-name', broker.port, { tls: { ca: certs.ca, servername: 'broker.example' } }));
  assert.equal(error.code, 'ERR_BROKER_TLS', error.message);
  assert.match(error.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('a plaintext client on the TLS port gets a clean ERR_CONNECT and a TLS client stays registered', { skip }, async () => {
  const registered = await client('tls-bystander', broker.port);
  const error = await failure(client('plaintext', broker.port, { tls: false }));
  assert.equal(error.code, 'ERR_CONNECT', error.message);
  assert.equal(registered.connected, true);
  assert.equal((await registered.query({ id: 'tls-bystander' })).peers[0]?.id, 'tls-bystander');
});

test('a TLS client against a plain broker fails with ERR_BROKER_TLS', { skip }, async () => {
  const plain = await startBroker({ host: '127.0.0.1', port: 0 });
  closers.push(() => plain.close());
  const error = await failure(client('tls-to-plain', plain.port));
  assert.equal(error.code, 'ERR_BROKER_TLS', error.message);
});

test('a handshaking connection holds a slot; one that never sends a ClientHello is cut at the deadline and frees it', { skip }, async () => {
  const small = await startBroker({ host: '127.0.0.1', port: 0, tls: tlsServer, maxConnections: 1, tlsHandshakeTimeoutMs: 1500 });
  closers.push(() => small.close());
  const silent = net.connect({ host: '127.0.0.1', port: small.port });
  silent.on('error', () => undefined);
  const cut = once(silent, 'close');
  await once(silent, 'connect');
  const refused = await failure(client('while-silent', small.port));
  assert.equal(refused.code, 'ERR_LIMIT', refused.message);
  await cut;
  assert.equal(small.counters.get('tls-handshake-timeouts'), 1);
  const admitted = await client('after-silent', small.port);
  assert.equal(admitted.connected, true);
});

test('after a broker restart the client registers again over TLS by itself', { skip }, async () => {
  const first = await startBroker({ host: '127.0.0.1', port: 0, tls: tlsServer });
  const port = first.port;
  const survivor = await client('tls-survivor', port, { reconnect: true, reconnectInitialDelayMs: 50, reconnectMaxDelayMs: 200 });
  await first.close();
  await once(survivor, 'disconnected');
  const reregistered = once(survivor, 'registered');
  const second = await startBroker({ host: '127.0.0.1', port, tls: tlsServer });
  closers.push(() => second.close());
  await reregistered;
  assert.equal(second.counters.get('registrations'), 1);
  assert.equal(second.counters.get('tls-handshake-failures'), 0);
  assert.equal(survivor.connected, true);
});

test('an unusable certificate or key is refused at start with ERR_INVALID_ARGUMENT', { skip }, async () => {
  const error = await failure(startBroker({ host: '127.0.0.1', port: 0, tls: { cert: 'not a certificate', key: tlsServer!.key } }));
  assert.equal(error.code, 'ERR_INVALID_ARGUMENT', error.message);
});
