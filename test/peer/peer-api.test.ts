import assert from 'node:assert/strict';
import { once } from 'node:events';
import type net from 'node:net';
import { after, before, test } from 'node:test';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { discoverNat, type NatProfile } from '../../src/discovery/index.js';
import { NtcpError } from '../../src/errors.js';
import { Peer, pathOf, type DatagramConnection, type PeerRegisterOptions } from '../../src/peer/index.js';
import { startStunServer, type StunServer } from '../../src/stun/index.js';
import { startRelay } from '../../src/relay/index.js';
import { nextIncoming } from '../support/peer-streams.js';

// The peer API end to end on loopback: our STUN server on 127.0.0.1/127.0.0.2, the broker on
// 127.0.0.1, peers that offer only 127.0.0.1 as their host address. The NAT profile is probed
// once and handed to the other peers (what a profile cache does), so the tests stay fast.

let stun: StunServer;
let broker: Broker;
let profile: NatProfile;
const peers: Peer[] = [];

function options(id: string, extra: Partial<PeerRegisterOptions> = {}): PeerRegisterOptions {
  return {
    server: { host: '127.0.0.1', brokerPort: broker.port, stunPort: stun.endpoints.port },
    id,
    profile,
    hostAddresses: ['127.0.0.1'],
    connectTimeoutMs: 5000,
    incomingTimeoutMs: 5000,
    relay: 'never',
    broker: { reconnectInitialDelayMs: 50, reconnectMaxDelayMs: 200 },
    ...extra,
  };
}

async function register(id: string, extra: Partial<PeerRegisterOptions> = {}): Promise<Peer> {
  const peer = await Peer.register(options(id, extra));
  peers.push(peer);
  return peer;
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<NtcpError> {
  const error = await promise.then(() => undefined, (failure: unknown) => failure);
  assert.ok(error instanceof NtcpError, `expected an NtcpError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return error;
}

before(async () => {
  stun = await startStunServer({ host: '127.0.0.1', altHost: '127.0.0.2', port: 0, altPort: 0 });
  broker = await startBroker({ host: '127.0.0.1', port: 0 });
  profile = await discoverNat({ server: { host: '127.0.0.1', port: stun.endpoints.port }, timeoutMs: 300 });
});

after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await broker.close();
  await stun.close();
});

test('register probes the NAT when no profile is given and the broker lists the peer with it', async () => {
  const peer = await register('probed', { profile: undefined, probeTimeoutMs: 300 });
  assert.equal(peer.profile.udp?.natPresent, false);
  assert.equal(peer.registered, true);
  const reply = await peer.query({ id: 'probed' });
  assert.equal(reply.peers[0]?.id, 'probed');
  assert.equal((reply.peers[0]?.profile as { udp?: { natPresent?: unknown } } | null)?.udp?.natPresent, false);
});

test('connect over UDP hands both sides a verified connection that carries datagrams both ways', async () => {
  const listener = await register('udp-listener');
  const dialler = await register('udp-dialler');
  const incoming = nextIncoming(listener);
  const connection: DatagramConnection = await dialler.connect('udp-listener', { transport: 'udp' });
  const accepted = await incoming;
  assert.equal(accepted.transport, 'udp');
  if (accepted.transport !== 'udp') return;
  const path = pathOf(connection)!;
  assert.equal(path.transport, 'udp');
  assert.equal(path.role, 'initiator');
  assert.equal(path.peerId, 'udp-listener');
  assert.equal(path.remote.port, accepted.connection.local.port);
  assert.equal(accepted.path.peerId, 'udp-dialler');
  assert.equal(accepted.path.role, 'responder');
  assert.equal(pathOf(accepted.connection), accepted.path);
  const toListener = once(accepted.connection, 'message');
  connection.send(Buffer.from('ping'));
  assert.equal(String((await toListener)[0]), 'ping');
  const toDialler = once(connection, 'message');
  accepted.connection.send(Buffer.from('pong'));
  assert.equal(String((await toDialler)[0]), 'pong');
  const closed = once(accepted.connection, 'close');
  await connection.close();
  assert.deepEqual((await closed)[0], { reason: 'remote' });
});

test('connect over TCP resolves with a connected net.Socket; the listener gets its socket', async () => {
  const listener = await register('tcp-listener');
  const dialler = await register('tcp-dialler');
  const incoming = nextIncoming(listener);
  const socket: net.Socket = await dialler.connect('tcp-listener', { transport: 'tcp' });
  const accepted = await incoming;
  assert.equal(accepted.transport, 'tcp');
  if (accepted.transport !== 'tcp') return;
  assert.equal(pathOf(socket)?.transport, 'tcp');
  assert.equal(socket.remotePort, accepted.socket.localPort);
  socket.end('hello over tcp');
  const chunks: Buffer[] = [];
  for await (const chunk of accepted.socket) chunks.push(chunk as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'hello over tcp');
  accepted.socket.end();
  await once(socket, 'close');
});

async function until(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > 5000) assert.fail(`not within 5 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function tcpRoundTrip(dialler: Peer, listener: Peer, listenerId: string): Promise<{ socket: net.Socket; accepted: net.Socket }> {
  const incoming = nextIncoming(listener);
  const socket = await dialler.connect(listenerId, { transport: 'tcp' });
  const accepted = await incoming;
  if (accepted.transport !== 'tcp') throw new Error('expected tcp');
  return { socket, accepted: accepted.socket };
}

test('TCP connects between peers with ready punching ports start at once: no mapping exchange, a new port per connect, attempts counted', async () => {
  const listener = await register('ready-listener');
  const dialler = await register('ready-dialler');
  const pairs: Array<{ socket: net.Socket; accepted: net.Socket }> = [];
  try {
    const first = await tcpRoundTrip(dialler, listener, 'ready-listener');
    pairs.push(first);
    // Each side arms a new port in the background once the first connect used its own.
    await until(() => [dialler.tcpPunchPort?.port, listener.tcpPunchPort?.port].every((port) => port !== undefined && port !== first.socket.localPort && port !== first.accepted.localPort), 'both peers armed a new punching port');
    // A query behind each advertisement on the same broker connection: the broker holds both new ports.
    await Promise.all([dialler.query({ id: 'ready-listener' }), listener.query({ id: 'ready-dialler' })]);
    const second = await tcpRoundTrip(dialler, listener, 'ready-listener');
    pairs.push(second);
    for (const { socket } of pairs) {
      const path = pathOf(socket)!;
      assert.equal(path.timeline?.['mapping-received'], undefined, 'the ports came with the coordination');
      assert.ok(path.timeline?.['verified'] !== undefined && path.timeline['coordination'] !== undefined);
      assert.ok((path.attempts ?? 0) >= 1);
    }
    assert.notEqual(first.socket.localPort, second.socket.localPort, 'a used port is replaced by a newly armed one');
  } finally {
    // Open sockets would keep the test process alive past a failure.
    for (const { socket, accepted } of pairs) {
      socket.destroy();
      accepted.destroy();
    }
  }
});

test('a peer without a ready port (tcpPunchPort: false) still connects with one that has it: it announces its fresh port', async () => {
  const listener = await register('fresh-listener', { tcpPunchPort: false });
  const dialler = await register('ready-dialler-2');
  const { socket, accepted } = await tcpRoundTrip(dialler, listener, 'fresh-listener');
  assert.notEqual(pathOf(socket)?.timeline?.['mapping-received'], undefined, 'the dialler waited for the announcement');
  socket.destroy();
  accepted.destroy();
});

test('the async iterator yields incoming connections in order', async () => {
  const listener = await register('iterating');
  const dialler = await register('iterator-dialler');
  const iterator = listener.incoming();
  const first = iterator.next();
  const connection = await dialler.connect('iterating', { transport: 'udp' });
  const { value } = await first;
  assert.equal(value?.path.peerId, 'iterator-dialler');
  await iterator.return!();
  await connection.close();
  if (value?.transport === 'udp') await value.connection.close();
});

test('a second peer with a registered id is refused with ERR_DUPLICATE_ID', async () => {
  await register('taken');
  await rejectsWith(Peer.register(options('taken')), 'ERR_DUPLICATE_ID');
});

test('an invalid id is refused before anything is sent', async () => {
  await rejectsWith(Peer.register(options('')), 'ERR_INVALID_ID');
  await rejectsWith(Peer.register(options('x'.repeat(65))), 'ERR_INVALID_ID');
});

test('connecting to an unknown peer or to itself fails with ERR_MATCH and its reason', async () => {
  const peer = await register('lonely');
  const unknown = await rejectsWith(peer.connect('nobody-here', { transport: 'udp' }), 'ERR_MATCH');
  assert.equal((unknown as NtcpError & { reason: string }).reason, 'unknown');
  const self = await rejectsWith(peer.connect('lonely'), 'ERR_MATCH');
  assert.equal((self as NtcpError & { reason: string }).reason, 'self');
});

test('a peer registered for UDP only refuses TCP connects (ERR_MATCH, transport)', async () => {
  await register('udp-only', { transports: ['udp'] });
  const dialler = await register('tcp-wanting');
  const error = await rejectsWith(dialler.connect('udp-only', { transport: 'tcp' }), 'ERR_MATCH');
  assert.equal((error as NtcpError & { reason: string }).reason, 'transport');
});

test('bad connect options are refused with ERR_INVALID_ARGUMENT', async () => {
  const peer = await register('picky');
  await rejectsWith(peer.connect('x', { transport: 'sctp' as 'udp' }), 'ERR_INVALID_ARGUMENT');
  await rejectsWith(peer.connect('x', { timeoutMs: -1 }), 'ERR_INVALID_ARGUMENT');
  await rejectsWith(peer.connect('x', { relay: 'sometimes' as 'auto' }), 'ERR_INVALID_ARGUMENT');
});

test('relay force without a relay on the broker fails with ERR_RELAY_UNAVAILABLE', async () => {
  await register('relay-target');
  const dialler = await register('relay-dialler');
  await rejectsWith(dialler.connect('relay-target', { transport: 'udp', relay: 'force' }), 'ERR_RELAY_UNAVAILABLE');
});

test('relay force through the built-in relay: verified end to end, TCP and UDP, method relay', async () => {
  const relay = await startRelay({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  const relayedBroker = await startBroker({ host: '127.0.0.1', port: 0, relayRegistry: relay });
  const viaRelay = (id: string) => Peer.register({ ...options(id), server: { host: '127.0.0.1', brokerPort: relayedBroker.port, stunPort: stun.endpoints.port } });
  const [listener, dialler] = await Promise.all([viaRelay('relayed-listener'), viaRelay('relayed-dialler')]);
  try {
    const tcpIncoming = nextIncoming(listener);
    const socket = await dialler.connect('relayed-listener', { transport: 'tcp', relay: 'force' });
    const tcpAccepted = await tcpIncoming;
    assert.equal(pathOf(socket)?.method, 'relay');
    assert.equal(tcpAccepted.path.method, 'relay');
    if (tcpAccepted.transport !== 'tcp') throw new Error('expected tcp');
    socket.end('through the relay');
    const chunks: Buffer[] = [];
    for await (const chunk of tcpAccepted.socket) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'through the relay');
    tcpAccepted.socket.end();

    const udpIncoming = nextIncoming(listener);
    const connection = await dialler.connect('relayed-listener', { transport: 'udp', relay: 'force' });
    const udpAccepted = await udpIncoming;
    if (udpAccepted.transport !== 'udp') throw new Error('expected udp');
    assert.equal(pathOf(connection)?.method, 'relay');
    const toListener = once(udpAccepted.connection, 'message');
    connection.send(Buffer.from('datagram via relay'));
    assert.equal(String((await toListener)[0]), 'datagram via relay');
    const toDialler = once(connection, 'message');
    udpAccepted.connection.send(Buffer.from('and back'));
    assert.equal(String((await toDialler)[0]), 'and back');
    await connection.close();

    // auto: a direct path exists on loopback and wins; the relay prepared meanwhile is released.
    const autoIncoming = nextIncoming(listener);
    const direct = await dialler.connect('relayed-listener', { transport: 'udp', relay: 'auto' });
    assert.notEqual(pathOf(direct)?.method, 'relay');
    assert.notEqual((await autoIncoming).path.method, 'relay');
    await direct.close();
  } finally {
    await Promise.all([listener.close(), dialler.close()]);
    await relayedBroker.close();
    await relay.close();
  }
});

test('without UDP to the STUN server a peer still registers (UDP-only too: its UDP connections take the relay), its profile saying udp-blocked', async () => {
  const tcpOnly = await startStunServer({ host: '127.0.0.1', port: 0, altPort: 0, udp: false });
  try {
    const server = { host: '127.0.0.1', brokerPort: broker.port, stunPort: tcpOnly.endpoints.port };
    const registered = await Promise.all([
      Peer.register({ ...options('udp-blocked'), profile: undefined, probeTimeoutMs: 300, server, transports: ['udp'] }),
      Peer.register({ ...options('tcp-still-works'), profile: undefined, probeTimeoutMs: 300, server }),
    ]);
    peers.push(...registered);
    assert.deepEqual(registered.map((peer) => peer.profile.udp?.rfc3489Type), ['udp-blocked', 'udp-blocked']);
    assert.ok(registered.every((peer) => peer.registered));
  } finally {
    await tcpOnly.close();
  }
});

test('an aborted connect rejects with ERR_ABORTED', async () => {
  const peer = await register('impatient');
  await rejectsWith(peer.connect('x', { signal: AbortSignal.abort() }), 'ERR_ABORTED');
});

test('close deregisters: the id disappears from the broker, is free again, and connect fails with ERR_CLOSED', async () => {
  const peer = await Peer.register(options('leaving'));
  const closed = once(peer, 'close');
  await peer.close();
  assert.deepEqual((await closed)[0], { error: undefined });
  await rejectsWith(peer.connect('anyone'), 'ERR_CLOSED');
  const observer = await register('observer');
  const reply = await observer.query({ id: 'leaving' });
  assert.equal(reply.peers.length, 0);
  const again = await register('leaving');
  assert.equal(again.registered, true);
});

test('after a broker restart the peer registers again with its profile and still accepts connections', async () => {
  const listener = await register('survivor');
  const port = broker.port;
  await broker.close();
  await once(listener, 'disconnected');
  const reregistered = once(listener, 'registered');
  broker = await startBroker({ host: '127.0.0.1', port });
  await reregistered;
  const dialler = await register('after-restart');
  const reply = await dialler.query({ id: 'survivor' });
  assert.equal((reply.peers[0]?.profile as { udp?: { natPresent?: unknown } } | null)?.udp?.natPresent, false, 'profile re-sent');
  const incoming = nextIncoming(listener);
  const connection = await dialler.connect('survivor', { transport: 'udp' });
  const accepted = await incoming;
  assert.equal(accepted.path.peerId, 'after-restart');
  await connection.close();
});
