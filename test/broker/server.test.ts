import net from 'node:net';
import { once } from 'node:events';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type Broker, type BrokerOptions } from '../../src/broker/server.js';
import { BrokerClient } from '../../src/broker/client.js';
import { encodeFrame } from '../../src/broker/framing.js';
import { CuttableProxy, RawConnection, until } from './helpers.js';

const brokers: Broker[] = [];
const clients: BrokerClient[] = [];
after(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await Promise.all(brokers.map((broker) => broker.close()));
});

async function broker(options: BrokerOptions = {}): Promise<Broker> {
  const started = await startBroker({ host: '127.0.0.1', port: 0, ...options });
  brokers.push(started);
  return started;
}

async function client(port: number, id: string, extra: Partial<Parameters<typeof BrokerClient.connect>[0]> = {}): Promise<BrokerClient> {
  const connected = await BrokerClient.connect({ host: '127.0.0.1', port, id, reconnect: false, ...extra });
  clients.push(connected);
  return connected;
}

const PROFILE = { udp: { mapped: { family: 'IPv4', address: '198.51.100.9', port: 40000 }, rfc3489Type: 'port-restricted-cone' }, tcp: { kind: 'cone' } };

test('registration: welcome reports the observed address, registered carries a reclaim token, query shows the peer idle', async () => {
  const server = await broker();
  const { connection, welcome, registered } = await RawConnection.registered(server.port, 'alice', { profile: PROFILE, privateAddresses: [{ address: '10.0.0.5' }] }, '127.0.0.2');
  assert.equal(welcome.type, 'welcome');
  assert.equal(welcome.observed.address, '127.0.0.2');
  assert.equal(registered.type, 'registered');
  assert.equal(registered.reclaimed, false);
  assert.equal(Buffer.from(registered.reclaimToken, 'base64url').length, 16);
  await until(() => server.query({ id: 'alice' }).peers[0]?.rttMs !== null);
  const [peer] = server.query({ id: 'alice' }).peers;
  assert.equal(peer!.state, 'idle');
  assert.deepEqual(peer!.profile, PROFILE);
  assert.equal(server.counters.get('registrations'), 1);
  connection.close();
});

test('ids are validated by the broker too (ERR_INVALID_ID), and the client refuses them before sending', async () => {
  const server = await broker();
  const { registered } = await RawConnection.registered(server.port, 'x'.repeat(65));
  assert.equal(registered.code, 'ERR_INVALID_ID');
  await assert.rejects(BrokerClient.connect({ host: '127.0.0.1', port: server.port, id: '' }), { code: 'ERR_INVALID_ID' });
  await assert.rejects(BrokerClient.connect({ host: '127.0.0.1', port: server.port, id: 'tab\there' }), { code: 'ERR_INVALID_ID' });
});

test('a duplicate id is refused; the owner reclaims it with its token, replacing the old connection', async () => {
  const server = await broker();
  const first = await RawConnection.registered(server.port, 'bob');
  const thief = await RawConnection.registered(server.port, 'bob');
  assert.equal(thief.registered.code, 'ERR_DUPLICATE_ID');
  const wrongToken = await RawConnection.registered(server.port, 'bob', { reclaimToken: Buffer.alloc(16).toString('base64url') });
  assert.equal(wrongToken.registered.code, 'ERR_DUPLICATE_ID');
  const owner = await RawConnection.registered(server.port, 'bob', { reclaimToken: first.registered.reclaimToken });
  assert.equal(owner.registered.type, 'registered');
  assert.equal(owner.registered.reclaimed, true);
  await first.connection.closed;
  assert.equal(server.query({ id: 'bob' }).peers[0]!.state, 'idle');
  await assert.rejects(client(server.port, 'bob'), { code: 'ERR_DUPLICATE_ID' });
  for (const c of [thief, wrongToken, owner]) c.connection.close();
});

test('a version mismatch gets ERR_VERSION and a close; a missing hello gets ERR_BAD_MESSAGE', async () => {
  const server = await broker();
  const old = await RawConnection.open(server.port);
  old.send({ type: 'hello', version: 99, futureField: true });
  const reply = await old.next();
  assert.equal(reply.code, 'ERR_VERSION');
  assert.equal(reply.fatal, true);
  assert.deepEqual(reply.details.supported, [1]);
  await old.closed;
  const rude = await RawConnection.open(server.port);
  rude.send({ type: 'register', id: 'x' });
  assert.equal((await rude.next()).code, 'ERR_BAD_MESSAGE');
  await rude.closed;
});

test('states: busy during a coordination, idle after done, dead after missed heartbeats, purged later', async () => {
  const server = await broker({ heartbeatIntervalMs: 150, missedHeartbeats: 3, purgeAfterMs: 300, sweepIntervalMs: 25 });
  const a = await client(server.port, 'a');
  const b = await client(server.port, 'b');
  const coordination = await a.requestConnect('b');
  assert.equal(server.query({ id: 'a' }).peers[0]!.state, 'busy');
  assert.equal(server.query({ id: 'b' }).peers[0]!.state, 'busy');
  a.done(coordination.connectionId, 'connected', 'udp-punch');
  await until(() => server.query({ id: 'b' }).peers[0]!.state === 'idle');
  assert.equal(server.counters.get('outcomes-connected'), 1);

  const mute = await RawConnection.registered(server.port, 'mute');
  mute.connection.answerPings = false;
  await until(() => server.query({ id: 'mute' }).peers[0]?.state === 'dead');
  assert.equal(server.query().counts.dead, 1);
  await assert.rejects(a.requestConnect('mute'), { code: 'ERR_MATCH', reason: 'dead' });
  await until(() => server.query({ id: 'mute' }).peers.length === 0);
  assert.equal(server.counters.get('purged'), 1);
  assert.ok(b.connected, 'live clients answer heartbeats and stay registered');
});

test('connect validation: unknown id, self, dead peer, missing transport, not registered', async () => {
  const server = await broker();
  const a = await client(server.port, 'va');
  await client(server.port, 'udp-only', { transports: ['udp'] });
  await assert.rejects(a.requestConnect('nobody'), { code: 'ERR_MATCH', reason: 'unknown' });
  await assert.rejects(a.requestConnect('va'), { code: 'ERR_MATCH', reason: 'self' });
  await assert.rejects(a.requestConnect('udp-only', { transport: 'tcp' }), { code: 'ERR_MATCH', reason: 'transport' });
  const gone = await RawConnection.registered(server.port, 'gone');
  gone.connection.close();
  await until(() => server.query({ id: 'gone' }).peers[0]?.state === 'dead');
  await assert.rejects(a.requestConnect('gone'), { code: 'ERR_MATCH', reason: 'dead' });
  const anonymous = await RawConnection.open(server.port);
  anonymous.send({ type: 'hello', version: 1 });
  await anonymous.next();
  anonymous.send({ type: 'connect', requestId: 'r1', peerId: 'va', transport: 'udp' });
  const reply = await anonymous.next();
  assert.equal(reply.code, 'ERR_NOT_REGISTERED');
  assert.equal(reply.requestId, 'r1');
  anonymous.close();
});

test('coordination: both peers get roles, one secret, candidates and a start time; same NAT adds private addresses', async () => {
  const server = await broker();
  const near = { privateAddresses: [{ address: '192.168.1.10', port: 5000 }] };
  const a = await client(server.port, 'ca', { localAddress: '127.0.0.2', profile: PROFILE, ...near });
  const b = await client(server.port, 'cb', { localAddress: '127.0.0.3', privateAddresses: [{ address: '192.168.7.7' }] });
  const c = await client(server.port, 'cc', { localAddress: '127.0.0.2', privateAddresses: [{ address: '192.168.1.11' }] });

  const incoming = new Promise<any>((resolve) => b.once('coordination', resolve));
  const mine = await a.requestConnect('cb', { transport: 'tcp' });
  const theirs = await incoming;
  assert.equal(mine.connectionId, theirs.connectionId);
  assert.equal(mine.role, 'initiator');
  assert.equal(theirs.role, 'responder');
  assert.equal(mine.transport, 'tcp');
  assert.equal(mine.secret.length, 32);
  assert.ok(mine.secret.equals(theirs.secret));
  assert.equal(mine.sameNat, false);
  assert.ok(!mine.candidates.some((candidate) => candidate.source === 'private'), 'no private addresses across NATs');
  assert.deepEqual(mine.candidates.at(-1), { source: 'broker-observed', address: '127.0.0.3', port: b.observed!.port });
  assert.deepEqual(theirs.candidates[0], { source: 'profile-udp', address: '198.51.100.9', port: 40000 });
  assert.deepEqual(theirs.peer.profile, PROFILE);
  assert.equal(theirs.peer.id, 'ca');
  assert.ok(mine.startInMs >= 0 && theirs.startInMs >= 0);
  assert.ok(mine.startAt >= performance.now() - 1000 && mine.startAt <= performance.now() + 1000);

  const toC = new Promise<any>((resolve) => c.once('coordination', resolve));
  const same = await a.requestConnect('cc');
  assert.equal(same.sameNat, true);
  assert.deepEqual(same.candidates[0], { source: 'private', address: '192.168.1.11' });
  assert.deepEqual((await toC).candidates[0], { source: 'private', address: '192.168.1.10', port: 5000 });
  assert.notEqual(same.secret.toString('hex'), mine.secret.toString('hex'));
});

test('synchronised start: the broker measures each RTT and both peers start at the same broker-relative moment', async () => {
  const server = await broker();
  const far = await CuttableProxy.start(server.port, 40);
  try {
    const a = await client(far.port, 'far');
    const b = await client(server.port, 'near');
    const atB = new Promise<any>((resolve) => b.once('coordination', resolve));
    const mine = await a.requestConnect('near');
    const theirs = await atB;
    assert.ok(mine.rttMs >= 80, `the far peer's RTT includes 2 x 40 ms (${mine.rttMs})`);
    assert.ok(theirs.rttMs < mine.rttMs);
    // D = startIn + RTT/2 is the same for both sides (the broker rounds to 0.1 ms).
    assert.ok(Math.abs((mine.startInMs + mine.rttMs / 2) - (theirs.startInMs + theirs.rttMs / 2)) <= 0.2);
    assert.ok(theirs.startInMs > mine.startInMs, 'the near peer waits for the far one');
  } finally {
    await far.close();
  }
});

test('signals are relayed between the two peers of one connection only, and bounded', async () => {
  const server = await broker({ maxSignalsPerCoordination: 4 });
  const a = await client(server.port, 'sa');
  const b = await client(server.port, 'sb');
  const outsider = await client(server.port, 'so');
  const brokerErrors: any[] = [];
  outsider.on('broker-error', (error) => brokerErrors.push(error));
  a.on('broker-error', (error) => brokerErrors.push(error));
  const coordination = await a.requestConnect('sb');
  const atB = new Promise<any>((resolve) => b.once('signal', resolve));
  a.signal(coordination.connectionId, { predicted: { address: '198.51.100.1', port: 4242 } });
  assert.deepEqual(await atB, { connectionId: coordination.connectionId, from: 'sa', payload: { predicted: { address: '198.51.100.1', port: 4242 } } });
  const atA = new Promise<any>((resolve) => a.once('signal', resolve));
  b.signal(coordination.connectionId, 'ack');
  assert.equal((await atA).payload, 'ack');
  const channel = b.channel(coordination.connectionId);
  const viaChannel = new Promise<object>((resolve) => { const stop = channel.onMessage((payload) => { stop(); resolve(payload); }); });
  a.channel(coordination.connectionId).send({ round: 1 });
  assert.deepEqual(await viaChannel, { round: 1 });
  outsider.signal(coordination.connectionId, 'intrude');
  a.signal(coordination.connectionId, 3);
  a.signal(coordination.connectionId, 4);
  await until(() => brokerErrors.length === 2);
  assert.deepEqual(brokerErrors.map((error) => error.code).sort(), ['ERR_RATE_LIMIT', 'ERR_UNKNOWN_CONNECTION']);
  assert.throws(() => a.signal(coordination.connectionId, 'x'.repeat(3000)), { code: 'ERR_INVALID_ARGUMENT' });
  assert.equal(server.counters.get('signals-relayed'), 4);
});

test('bounds: oversize frames, garbage, floods and excess connections are refused cleanly; the broker keeps serving', async () => {
  const server = await broker({ maxFrameBytes: 1024, messagesPerSecond: 5, messageBurst: 10, maxConnections: 6 });
  const healthy = await client(server.port, 'healthy');

  const big = await RawConnection.open(server.port);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1_000_000);
  big.socket.write(header);
  assert.equal((await big.next()).code, 'ERR_FRAME_TOO_LARGE');
  await big.closed;

  const garbage = await RawConnection.open(server.port);
  const junk = Buffer.from('{not json');
  const frame = Buffer.alloc(4);
  frame.writeUInt32BE(junk.length);
  garbage.socket.write(Buffer.concat([frame, junk]));
  assert.equal((await garbage.next()).code, 'ERR_BAD_MESSAGE');
  await garbage.closed;

  const flooder = await RawConnection.registered(server.port, 'flooder');
  for (let i = 0; i < 100; i++) flooder.connection.send({ type: 'ping', seq: i });
  const codes: string[] = [];
  for (;;) {
    const message = await flooder.connection.next();
    if (message.type === 'error') codes.push(message.code);
    if (message.fatal) break;
  }
  assert.deepEqual(codes, ['ERR_RATE_LIMIT', 'ERR_RATE_LIMIT']);
  await flooder.connection.closed;
  assert.equal(server.counters.get('floods-closed'), 1);

  const held = await Promise.all(Array.from({ length: 5 }, () => RawConnection.open(server.port)));
  const extra = await RawConnection.open(server.port);
  assert.equal((await extra.next()).code, 'ERR_LIMIT');
  await extra.closed;
  for (const connection of held) connection.close();

  assert.ok(healthy.connected);
  assert.ok((await healthy.ping()) >= 0);
});

test('a closing connection cannot hold its slot: a client that never closes its side, or keeps sending, is cut', async () => {
  const server = await broker();
  // allowHalfOpen: these clients ignore the broker's FIN, as a hostile one would.
  const halfOpen = async (): Promise<{ socket: net.Socket; frames: Buffer[] }> => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port, allowHalfOpen: true });
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    const frames: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => frames.push(chunk));
    return { socket, frames };
  };
  const quiet = await halfOpen();
  quiet.socket.write(encodeFrame({ type: 'hello', version: 1 }));
  quiet.socket.write(encodeFrame({ type: 'deregister' }));
  const chatty = await halfOpen();
  chatty.socket.write(Buffer.from([0, 0, 0, 2, 0x7b, 0x7b]));
  // Bytes after the fatal error would keep resetting an idle timeout.
  const trickle = setInterval(() => chatty.socket.write(Buffer.from([0x20])), 100);
  try {
    await until(() => Buffer.concat(chatty.frames).includes('ERR_BAD_MESSAGE') && Buffer.concat(quiet.frames).includes('"deregistered"'));
    assert.equal(server.query().counts.connections, 2, 'both still open while the broker says goodbye');
    await until(() => server.query().counts.connections === 0);
  } finally {
    clearInterval(trickle);
    quiet.socket.destroy();
    chatty.socket.destroy();
  }
});

test('the id table is bounded: past maxPeers (live and dead ids) a new id is refused with ERR_LIMIT, a reclaim is not', async () => {
  const server = await broker({ maxPeers: 2 });
  const first = await RawConnection.registered(server.port, 'one');
  await RawConnection.registered(server.port, 'two');
  first.connection.close();
  await until(() => server.query({ id: 'one' }).peers[0]?.state === 'dead');
  const third = await RawConnection.registered(server.port, 'three');
  assert.equal(third.registered.code, 'ERR_LIMIT');
  assert.equal(server.counters.get('registrations-refused'), 1);
  const back = await RawConnection.registered(server.port, 'one', { reclaimToken: first.registered.reclaimToken });
  assert.equal(back.registered.type, 'registered');
  assert.equal(back.registered.reclaimed, true);
});

test('connections that never register are closed after the registration timeout', async () => {
  const server = await broker({ registrationTimeoutMs: 100, sweepIntervalMs: 20 });
  const idle = await RawConnection.open(server.port);
  const reply = await idle.next();
  assert.equal(reply.code, 'ERR_TIMEOUT');
  await idle.closed;
  assert.equal(server.counters.get('registration-timeouts'), 1);
});

test('management query: token check, counts, profiles and paging', async () => {
  const server = await broker({ queryToken: 'sesame' });
  const a = await client(server.port, 'q1', { profile: PROFILE });
  await client(server.port, 'q2');
  await client(server.port, 'q3');
  await assert.rejects(a.query(), { code: 'ERR_UNAUTHORIZED' });
  await assert.rejects(a.query({ token: 'wrong' }), { code: 'ERR_UNAUTHORIZED' });
  const page = await a.query({ token: 'sesame', limit: 2 });
  assert.deepEqual(page.peers.map((peer) => peer.id), ['q1', 'q2']);
  assert.equal(page.next, 'q2');
  assert.deepEqual(page.peers[0]!.profile, PROFILE);
  assert.equal(page.counts.idle, 3);
  const rest = await a.query({ token: 'sesame', after: page.next! });
  assert.deepEqual(rest.peers.map((peer) => peer.id), ['q3']);
  assert.equal(rest.next, undefined);
});

test('management queries are rate limited across connections (each walks every peer); local queries are not', async () => {
  const server = await broker({ queriesPerSecond: 1 });
  const a = await client(server.port, 'qa');
  const b = await client(server.port, 'qb');
  assert.deepEqual((await a.query()).peers.map((peer) => peer.id), ['qa', 'qb']);
  await assert.rejects(b.query(), { code: 'ERR_RATE_LIMIT' });
  assert.equal(server.query().counts.idle, 2);
  assert.equal(server.counters.get('queries'), 1);
});

test('a relay registry, when attached, gives each peer its own token for one session', async () => {
  let sessions = 0;
  const server = await broker({
    relayRegistry: {
      async createSession() {
        sessions += 1;
        return { id: `relay-${sessions}`, tokens: ['token-a', 'token-b'], endpoints: { tcp: { host: '127.0.0.1', port: 9999 } } };
      },
      cancelSession(id) {
        assert.fail(`a handed-out session was cancelled: ${id}`);
      },
    },
  });
  const a = await client(server.port, 'ra');
  const b = await client(server.port, 'rb');
  const atB = new Promise<any>((resolve) => b.once('coordination', resolve));
  const mine = await a.requestConnect('rb', { relay: true });
  assert.deepEqual(mine.relay, { id: 'relay-1', token: 'token-a', endpoints: { tcp: { host: '127.0.0.1', port: 9999 } } });
  assert.equal((await atB).relay.token, 'token-b');
  const without = await a.requestConnect('rb');
  assert.equal(without.relay, undefined);
  assert.equal(sessions, 1);
});

/** A relay registry whose createSession waits for `release()`; it records the ids cancelled. */
function heldRelayRegistry(id: string) {
  const held = { cancelled: [] as string[], release: undefined as (() => void) | undefined };
  const registry = {
    async createSession() {
      await new Promise<void>((resolve) => (held.release = resolve));
      return { id, tokens: ['token-a', 'token-b'] as [string, string], endpoints: {} };
    },
    cancelSession: (cancelled: string) => void held.cancelled.push(cancelled),
  };
  return { registry, held };
}

test('a relay session created for a coordination that ended meanwhile is cancelled, not left to expire', async () => {
  const { registry, held } = heldRelayRegistry('orphan');
  const server = await broker({ relayRegistry: registry });
  const a = await client(server.port, 'oa');
  const b = await client(server.port, 'ob');
  const request = a.requestConnect('ob', { relay: true });
  await until(() => held.release !== undefined);
  await b.close();
  held.release!();
  await assert.rejects(request, { code: 'ERR_MATCH' });
  assert.deepEqual(held.cancelled, ['orphan']);
});

test('a relay session that arrives after the registry timed out is cancelled', async () => {
  const { registry, held } = heldRelayRegistry('late');
  const server = await broker({ relayTimeoutMs: 50, relayRegistry: registry });
  const a = await client(server.port, 'la');
  await client(server.port, 'lb');
  const coordination = await a.requestConnect('lb', { relay: true });
  assert.equal(coordination.relay, undefined, 'coordinated without the relay');
  held.release!();
  await until(() => held.cancelled.length > 0);
  assert.deepEqual(held.cancelled, ['late']);
});
