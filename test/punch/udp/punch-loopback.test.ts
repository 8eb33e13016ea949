import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { StunUdpSocket } from '../../../src/stun/index.js';
import { punchUdp, UdpPunchFailedError, DatagramTooLargeError, type UdpConnection, type PunchUdpOptions, type SignalChannel } from '../../../src/punch/udp/index.js';
import { Verifier } from '../../../src/punch/udp/verify.js';
import type { NtcpError } from '../../../src/errors.js';
import type { Candidate } from '../../../src/punch/candidates.js';

// Loopback has no NAT: these tests pin the engine's protocol (verification, nomination, framing,
// keepalive, close); the lab test proves the strategies against real NATs.

const LOOPBACK = '127.0.0.1';

async function bound(): Promise<StunUdpSocket> {
  const socket = await StunUdpSocket.bind({ address: LOOPBACK });
  openSockets.set(socket.local().port, socket);
  return socket;
}

function srflx(socket: StunUdpSocket): Candidate {
  return { kind: 'srflx', address: LOOPBACK, port: socket.local().port };
}

async function punchPair(overrides: { responderSecret?: Buffer; timeoutMs?: number; connection?: PunchUdpOptions['connection'] } = {}) {
  const secret = randomBytes(32);
  const [a, b] = await Promise.all([bound(), bound()]);
  const startAt = performance.now() + 20;
  const common = { connectionId: 'loopback-1', startAt, timeoutMs: overrides.timeoutMs ?? 3000, connection: overrides.connection };
  return Promise.allSettled([
    punchUdp({ ...common, socket: a, role: 'initiator', secret, remote: { candidates: [srflx(b)] } }),
    punchUdp({ ...common, socket: b, role: 'responder', secret: overrides.responderSecret ?? secret, remote: { candidates: [srflx(a)] } }),
  ]);
}

/** Stops the connection's socket underneath it, as if the host had lost its network. */
function vanish(connection: UdpConnection): void {
  openSockets.get(connection.local.port)?.socket.close();
}
const openSockets = new Map<number, StunUdpSocket>();

function connected(results: PromiseSettledResult<UdpConnection>[]): [UdpConnection, UdpConnection] {
  const [initiator, responder] = results.map((result) => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  });
  return [initiator!, responder!];
}

test('two peers punch, verify each other and exchange datagrams both ways', async () => {
  const [initiator, responder] = connected(await punchPair());
  try {
    assert.equal(initiator.method, 'udp-punch');
    assert.equal(initiator.remote.port, responder.local.port);
    assert.equal(responder.remote.port, initiator.local.port);
    const toResponder = once(responder, 'message');
    initiator.send(Buffer.from('ping'));
    assert.deepEqual((await toResponder)[0], Buffer.from('ping'));
    const toInitiator = once(initiator, 'message');
    responder.send(Buffer.from('pong'));
    assert.deepEqual((await toInitiator)[0], Buffer.from('pong'));
  } finally {
    await Promise.all([initiator.close(), responder.close()]);
  }
});

test('a peer with the wrong secret is never connected to: both sides fail with ERR_PUNCH_FAILED', async () => {
  const results = await punchPair({ responderSecret: randomBytes(32), timeoutMs: 400 });
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    const error = (result as PromiseRejectedResult).reason as UdpPunchFailedError;
    assert.ok(error instanceof UdpPunchFailedError);
    assert.equal(error.code, 'ERR_PUNCH_FAILED');
    assert.equal(error.reason, 'timeout');
    assert.ok(error.attempts.some((attempt) => attempt.strategy === 'udp-punch' && attempt.packetsSent > 0), JSON.stringify(error.attempts));
  }
});

test('stray datagrams and probes of another connection do not win the punch', async () => {
  const secret = randomBytes(32);
  const [a, b, stray] = await Promise.all([bound(), bound(), bound()]);
  const imposter = new Verifier({ secret, connectionId: 'another-connection', role: 'responder' });
  const noise = setInterval(() => {
    stray.send(imposter.probe(), { host: LOOPBACK, port: a.local().port });
    stray.send(imposter.ack(randomBytes(16), true), { host: LOOPBACK, port: a.local().port });
    stray.send(randomBytes(40), { host: LOOPBACK, port: a.local().port });
  }, 2);
  try {
    const startAt = performance.now() + 30;
    const common = { connectionId: 'loopback-2', secret, startAt, timeoutMs: 3000 };
    const [initiator, responder] = await Promise.all([
      punchUdp({ ...common, socket: a, role: 'initiator', remote: { candidates: [srflx(stray), srflx(b)] } }),
      punchUdp({ ...common, socket: b, role: 'responder', remote: { candidates: [srflx(a)] } }),
    ]);
    assert.equal(initiator.remote.port, b.local().port);
    assert.equal(responder.remote.port, a.local().port);
    await Promise.all([initiator.close(), responder.close()]);
  } finally {
    clearInterval(noise);
    await stray.close();
  }
});

test('two random symmetric NATs fail at once with a no-path error, and the socket is released', async () => {
  const socket = await bound();
  const symmetric = { udp: { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', natPresent: true } } as const;
  const error = await punchUdp({
    socket,
    role: 'initiator',
    connectionId: 'no-path',
    secret: randomBytes(32),
    local: { profile: symmetric },
    remote: { candidates: [{ kind: 'srflx', address: '203.0.113.9', port: 40000 }], profile: symmetric },
  }).catch((e: unknown) => e);
  assert.ok(error instanceof UdpPunchFailedError);
  assert.equal(error.reason, 'no-path');
  assert.match(error.message, /no direct UDP path/);
  assert.throws(() => socket.socket.address(), /Not running/);
});

test('a clean close reaches the peer as a close with reason "remote"', async () => {
  const [initiator, responder] = connected(await punchPair());
  const closed = once(responder, 'close');
  await initiator.close();
  assert.deepEqual((await closed)[0], { reason: 'remote' });
  assert.equal(responder.closed, true);
});

test('datagrams larger than the path allows are refused with a typed error', async () => {
  const [initiator, responder] = connected(await punchPair());
  try {
    assert.ok(initiator.maxDatagramSize > 1000 && initiator.maxDatagramSize < 1280);
    initiator.send(Buffer.alloc(initiator.maxDatagramSize));
    assert.throws(() => initiator.send(Buffer.alloc(initiator.maxDatagramSize + 1)), DatagramTooLargeError);
  } finally {
    await Promise.all([initiator.close(), responder.close()]);
  }
});

test('keepalives hold an idle connection open; a vanished peer is detected as idle', async () => {
  const connection = { keepaliveIntervalMs: 40, idleTimeoutMs: 200 };
  const [initiator, responder] = connected(await punchPair({ connection }));
  let closedEarly = false;
  initiator.once('close', () => (closedEarly = true));
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(closedEarly, false, 'keepalives alone kept both sides from going idle');
  assert.equal(responder.closed, false);
  // The responder's host goes away: its socket stops without a CLOSE frame.
  const idle = once(initiator, 'close');
  vanish(responder);
  assert.deepEqual((await idle)[0], { reason: 'idle' });
  await responder.close();
});

/** Two ends of a broker-like message path, delivering asynchronously as a broker would. */
function signalPair(): [SignalChannel, SignalChannel] {
  const handlers: [Set<(payload: object) => void>, Set<(payload: object) => void>] = [new Set(), new Set()];
  const end = (mine: number): SignalChannel => ({
    send: (payload) => setTimeout(() => handlers[1 - mine]!.forEach((handler) => handler(JSON.parse(JSON.stringify(payload)) as object)), 5),
    onMessage: (handler) => {
      handlers[mine]!.add(handler);
      return () => handlers[mine]!.delete(handler);
    },
  });
  return [end(0), end(1)];
}

test('endpoints learnt only through signaling (late candidates) are punched too', async () => {
  const secret = randomBytes(32);
  const [a, b] = await Promise.all([bound(), bound()]);
  const [toB, toA] = signalPair();
  const common = { connectionId: 'late-1', secret, startAt: performance.now(), timeoutMs: 3000 };
  const [initiator, responder] = await Promise.all([
    punchUdp({ ...common, socket: a, role: 'initiator', signaling: toB, local: { candidates: [srflx(a)] }, remote: { candidates: [] } }),
    punchUdp({ ...common, socket: b, role: 'responder', signaling: toA, local: { candidates: [srflx(b)] }, remote: { candidates: [] } }),
  ]);
  assert.equal(initiator.remote.port, b.local().port);
  assert.equal(responder.remote.port, a.local().port);
  await Promise.all([initiator.close(), responder.close()]);
});

test('aborting a punch rejects with ERR_ABORTED and releases the socket', async () => {
  const socket = await bound();
  const controller = new AbortController();
  const punching = punchUdp({
    socket,
    role: 'initiator',
    connectionId: 'abort-1',
    secret: randomBytes(32),
    remote: { candidates: [{ kind: 'srflx', address: LOOPBACK, port: 9 }] },
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(punching, (error: NtcpError) => error.code === 'ERR_ABORTED');
  await new Promise((resolve) => setImmediate(resolve));
  assert.throws(() => socket.socket.address(), /Not running/);
});

test('malformed candidates from the caller are refused up front with ERR_INVALID_ARGUMENT', async () => {
  for (const bad of [{ kind: 'srflx', address: 'peer.example', port: 4000 }, { kind: 'srflx', address: LOOPBACK, port: 0 }]) {
    const socket = await bound();
    const error = await punchUdp({
      socket,
      role: 'initiator',
      connectionId: 'bad-candidate',
      secret: randomBytes(32),
      remote: { candidates: [bad as Candidate] },
    }).catch((e: unknown) => e);
    assert.equal((error as NtcpError).code, 'ERR_INVALID_ARGUMENT', String(error));
  }
});
