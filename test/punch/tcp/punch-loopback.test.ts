import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import type { NatProfile } from '../../../src/discovery/profile.js';
import type { Candidate } from '../../../src/punch/candidates.js';
import { punchTcp, type PunchTcpOptions, type SignalChannel } from '../../../src/punch/tcp/index.js';
import { OPENER_SETTLE_DEFAULT_MS } from '../../../src/punch/tcp/punch-tcp.js';
import { ASYMMETRIC_STAGE_MS, SIMULTANEOUS_OPEN_STAGE_MS } from '../../../src/punch/tcp/planner.js';
import { startStunServer } from '../../../src/stun/index.js';

/** Two ends of an in-memory signaling channel, delivering asynchronously like a broker would. */
function channelPair(): [SignalChannel, SignalChannel] {
  const handlers: [Set<(p: object) => void>, Set<(p: object) => void>] = [new Set(), new Set()];
  const end = (mine: number): SignalChannel => ({
    send: (payload) => setImmediate(() => handlers[1 - mine]!.forEach((handler) => handler(JSON.parse(JSON.stringify(payload))))),
    onMessage: (handler) => {
      handlers[mine]!.add(handler);
      return () => handlers[mine]!.delete(handler);
    },
  });
  return [end(0), end(1)];
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function tcpProfile(port: number, natPresent: boolean, kind: 'cone' | 'random-symmetric' | 'unknown' = 'cone', publicAddress = '127.0.0.1'): NatProfile {
  const address = { family: 'IPv4' as const, address: publicAddress, port };
  return {
    version: 1, server: { host: '127.0.0.1', port: 3478 }, altServer: null, measuredAt: '', durationMs: 0,
    local: { address: '127.0.0.1', interfaces: natPresent ? [] : ['127.0.0.1'] },
    tcp: { reachable: true, local: address, mapped: address, natPresent, mapping: 'endpoint-independent', portPreserving: true, kind, evidence: { observations: [], notes: [] } },
  };
}

const srflx = (port: number): Candidate[] => [{ kind: 'srflx', address: '127.0.0.1', port }];

async function pair(overrides: { initiator?: Partial<PunchTcpOptions>; responder?: Partial<PunchTcpOptions> } = {}) {
  const [portA, portB] = [await freePort(), await freePort()];
  const [channelA, channelB] = channelPair();
  const secret = createHash('sha256').update('loopback').digest();
  const startAt = performance.now() + 20;
  const base = { connectionId: 'c1', secret, startAt, timeoutMs: 4000 };
  return Promise.allSettled([
    punchTcp({ ...base, role: 'initiator', local: { port: portA, address: '127.0.0.1' }, remote: { candidates: srflx(portB) }, signaling: channelA, ...overrides.initiator }),
    punchTcp({ ...base, role: 'responder', local: { port: portB, address: '127.0.0.1' }, remote: { candidates: srflx(portA) }, signaling: channelB, ...overrides.responder }),
  ]);
}

/**
 * A random NAT (initiator, port A) against an address-filtering cone (responder, port B): the
 * plan is STUNT #2 alone, led by the cone side. Loopback refuses every SYN that finds no socket,
 * like two RST-answering NATs.
 */
function randomAgainstCone(portA: number, portB: number) {
  const random = tcpProfile(portA, true, 'random-symmetric', '198.51.100.1');
  const cone = { ...tcpProfile(portB, true, 'cone', '198.51.100.2'), udp: { filtering: 'address-dependent' } as NatProfile['udp'] };
  return pair({
    initiator: { local: { port: portA, address: '127.0.0.1', profile: random }, remote: { candidates: srflx(portB), profile: cone } },
    responder: { local: { port: portB, address: '127.0.0.1', profile: cone }, remote: { candidates: srflx(portA), profile: random } },
  });
}

async function exchange(a: net.Socket, b: net.Socket): Promise<void> {
  const received = new Promise<string>((resolve) => b.once('data', (data) => resolve(String(data))));
  a.write('ping');
  assert.equal(await received, 'ping');
  a.destroy();
  b.destroy();
}

test('two unknown NATs on loopback connect by simultaneous open from their advertised ports', async () => {
  const [a, b] = await pair();
  assert.equal(a.status, 'fulfilled', String((a as PromiseRejectedResult).reason));
  assert.equal(b.status, 'fulfilled', String((b as PromiseRejectedResult).reason));
  const [ra, rb] = [(a as PromiseFulfilledResult<any>).value, (b as PromiseFulfilledResult<any>).value];
  assert.equal(ra.method, 'tcp-simultaneous-open');
  assert.equal(rb.method, 'tcp-simultaneous-open');
  assert.equal(ra.socket.remotePort, rb.socket.localPort);
  await exchange(ra.socket, rb.socket);
});

test('advertised ports and a synchronised start far off: a volley leaves at once; refused (hosts answer RST), it waits for the grid', async () => {
  const startAt = performance.now() + 1_000;
  // The start is 1 s off: give the grid the same slot as the other pairs after it (the vernier
  // sweeps the SYNs' relative phase once per 1.25 s; a loaded CI host needs more than one sweep).
  const timeoutMs = 8_000;
  const [a, b] = await pair({ initiator: { startAt, timeoutMs }, responder: { startAt, timeoutMs } });
  assert.equal(a.status, 'fulfilled', String((a as PromiseRejectedResult).reason));
  assert.equal(b.status, 'fulfilled', String((b as PromiseRejectedResult).reason));
  const [ra, rb] = [(a as PromiseFulfilledResult<any>).value, (b as PromiseFulfilledResult<any>).value];
  assert.equal(ra.method, 'tcp-simultaneous-open');
  assert.ok(ra.timeline['first-syn'] < 500, `first SYN ${ra.timeline['first-syn']} ms after the call, the start 1 s away`);
  // Loopback answers a SYN nobody waits for with RST, like an RST-answering NAT: the early dial is
  // refused and redialled on the synchronised grid, not in a storm before the start.
  assert.ok(ra.attempts >= 2, `${ra.attempts} connects`);
  assert.ok(ra.timeline.verified >= 900, `verified at ${ra.timeline.verified} ms, on the grid from the start`);
  await exchange(ra.socket, rb.socket);
});

test('without advertised ports both engines take fresh ports, probe and announce them, and connect', async () => {
  const stun = await startStunServer({ host: '127.0.0.1', port: 0, altPort: 0, udp: false });
  try {
    const stunServer = { host: '127.0.0.1', port: stun.endpoints.port };
    const [a, b] = await pair({
      initiator: { local: { address: '127.0.0.1' }, remote: { candidates: [] }, stunServer },
      responder: { local: { address: '127.0.0.1' }, remote: { candidates: [] }, stunServer },
    });
    assert.equal(a.status, 'fulfilled', String((a as PromiseRejectedResult).reason));
    assert.equal(b.status, 'fulfilled', String((b as PromiseRejectedResult).reason));
    const [ra, rb] = [(a as PromiseFulfilledResult<any>).value, (b as PromiseFulfilledResult<any>).value];
    assert.equal(ra.socket.remotePort, rb.socket.localPort);
    await exchange(ra.socket, rb.socket);
  } finally {
    await stun.close();
  }
});

test('a public responder is dialled directly', async () => {
  const portB = await freePort();
  const [a, b] = await pair({
    initiator: { remote: { candidates: srflx(portB), profile: tcpProfile(portB, false) } },
    responder: { local: { port: portB, address: '127.0.0.1', profile: tcpProfile(portB, false) } },
  });
  assert.equal(a.status, 'fulfilled', String((a as PromiseRejectedResult).reason));
  assert.equal(b.status, 'fulfilled');
  const [ra, rb] = [(a as PromiseFulfilledResult<any>).value, (b as PromiseFulfilledResult<any>).value];
  assert.equal(ra.method, 'tcp-direct');
  await exchange(rb.socket, ra.socket);
});

test('STUNT #2 swaps roles when the opening SYN is refused, and falls back to the grid when both are', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  const [a, b] = await randomAgainstCone(portA, portB);
  assert.equal(a.status, 'fulfilled', String((a as PromiseRejectedResult).reason));
  assert.equal(b.status, 'fulfilled', String((b as PromiseRejectedResult).reason));
  const [ra, rb] = [(a as PromiseFulfilledResult<any>).value, (b as PromiseFulfilledResult<any>).value];
  assert.equal(rb.stages[0].reason.includes('own opening SYNs were refused'), true, rb.stages[0].reason);
  assert.match(ra.stages[0].reason, /peer's opening SYN was refused: swapped roles/);
  assert.match(ra.stages[0].reason, /simultaneous-open grid/);
  assert.equal(ra.method, 'tcp-simultaneous-open');
  await exchange(ra.socket, rb.socket);
});

test('a STUNT #2 opener whose loop stood still past its settle time still sees its refusal', async () => {
  // A loaded host: the opener (here the side that took the role over after a swap signal) stands
  // still from just after its SYN until past its settle time, so the refusal and the settle timer
  // are due together, and the loop's timers phase comes before the poll phase that reads the RST.
  const [portA, portB] = [await freePort(), await freePort()];
  const connect = net.connect;
  let stalled = false;
  net.connect = ((...args: Parameters<typeof net.connect>) => {
    const socket = connect(...args);
    const options = args[0] as unknown as net.TcpNetConnectOpts;
    if (!stalled && typeof options === 'object' && options.localPort === portA) {
      stalled = true;
      // Queued behind the connect's own tick, so the SYN has left (and been refused) by then.
      process.nextTick(() => {
        const until = performance.now() + OPENER_SETTLE_DEFAULT_MS * 2;
        while (performance.now() < until) {
          // The busy host.
        }
      });
    }
    return socket;
  }) as typeof net.connect;
  try {
    const [a, b] = await randomAgainstCone(portA, portB);
    assert.ok(stalled, 'the second opener dialled from its port');
    assert.equal(a.status, 'fulfilled', String((a as PromiseRejectedResult).reason));
    const ra = (a as PromiseFulfilledResult<any>).value;
    assert.match(ra.stages[0].reason, /own opening SYNs were refused/);
    assert.doesNotMatch(ra.stages[0].reason, /opened \d+ hole/);
    assert.equal(b.status, 'fulfilled', String((b as PromiseRejectedResult).reason));
    await exchange(ra.socket, (b as PromiseFulfilledResult<any>).value.socket);
  } finally {
    net.connect = connect;
  }
});

test('a STUNT #2 opener whose port is still held sends no SYN: it claims no hole and the peer opens instead', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  // Something else holds the cone side's port when it opens (EADDRINUSE), and lets go right after.
  const holder = net.createServer().listen(portB, '127.0.0.1');
  await new Promise((resolve) => holder.once('listening', resolve));
  const connect = net.connect;
  net.connect = ((...args: Parameters<typeof net.connect>) => {
    const socket = connect(...args);
    const options = args[0] as unknown as net.TcpNetConnectOpts;
    if (holder.listening && typeof options === 'object' && options.localPort === portB) setImmediate(() => holder.close());
    return socket;
  }) as typeof net.connect;
  try {
    const [a, b] = await randomAgainstCone(portA, portB);
    assert.equal(holder.listening, false, 'the opener dialled while the port was held');
    assert.equal(b.status, 'fulfilled', String((b as PromiseRejectedResult).reason));
    const rb = (b as PromiseFulfilledResult<any>).value;
    assert.match(rb.stages[0].reason, /no opening SYN left \(local port busy, EADDRINUSE\): swapped roles/);
    assert.doesNotMatch(rb.stages[0].reason, /opened \d+ hole/);
    assert.equal(a.status, 'fulfilled', String((a as PromiseRejectedResult).reason));
    await exchange((a as PromiseFulfilledResult<any>).value.socket, rb.socket);
  } finally {
    net.connect = connect;
    if (holder.listening) holder.close();
  }
});

test('when both NATs answer RST, the last stage\'s grid goes on past its slot until the punch deadline', async () => {
  // Two NATs of unknown mapping (plan: simultaneous open, then STUNT #2; the grid keeps its
  // listener between rounds, which on loopback accepts the peer's SYN). Every SYN is refused
  // until both slots are over, as between RST-answering NATs whose SYNs never cross; only a grid
  // that goes on past the last slot can still connect.
  const [portA, portB, dead] = [await freePort(), await freePort(), await freePort()];
  const slotsEndAt = performance.now() + SIMULTANEOUS_OPEN_STAGE_MS + ASYMMETRIC_STAGE_MS + 300;
  const connect = net.connect;
  net.connect = ((...args: Parameters<typeof net.connect>) => {
    const options = args[0] as unknown as net.TcpNetConnectOpts;
    const refused = typeof options === 'object' && (options.port === portA || options.port === portB) && performance.now() < slotsEndAt;
    return connect(...((refused ? [{ ...options, port: dead }, ...args.slice(1)] : args) as Parameters<typeof net.connect>));
  }) as typeof net.connect;
  try {
    const profiles = { a: tcpProfile(portA, true, 'unknown', '198.51.100.1'), b: tcpProfile(portB, true, 'unknown', '198.51.100.2') };
    const [a, b] = await pair({
      initiator: { timeoutMs: 12_000, local: { port: portA, address: '127.0.0.1', profile: profiles.a }, remote: { candidates: srflx(portB), profile: profiles.b } },
      responder: { timeoutMs: 12_000, local: { port: portB, address: '127.0.0.1', profile: profiles.b }, remote: { candidates: srflx(portA), profile: profiles.a } },
    });
    assert.equal(a.status, 'fulfilled', String((a as PromiseRejectedResult).reason));
    assert.equal(b.status, 'fulfilled', String((b as PromiseRejectedResult).reason));
    const [ra, rb] = [(a as PromiseFulfilledResult<any>).value, (b as PromiseFulfilledResult<any>).value];
    assert.equal(ra.method, 'tcp-simultaneous-open');
    assert.equal(ra.stages.length, 2, 'won in the last stage');
    assert.match(ra.stages[1].reason, /simultaneous-open grid for the rest of the punch/);
    assert.ok(performance.now() >= slotsEndAt, 'connected only after both slots were over');
    await exchange(ra.socket, rb.socket);
  } finally {
    net.connect = connect;
  }
});

test('a peer with another secret never gets a socket: both sides fail with ERR_PUNCH_FAILED', async () => {
  const [a, b] = await pair({ responder: { secret: Buffer.alloc(32, 1), timeoutMs: 2500 }, initiator: { timeoutMs: 2500 } });
  for (const result of [a, b]) {
    assert.equal(result.status, 'rejected');
    assert.equal((result as PromiseRejectedResult).reason.code, 'ERR_PUNCH_FAILED');
  }
});

test('two random symmetric NATs behind different public addresses fail at once with reason no-path', async () => {
  const started = Date.now();
  const error = await punchTcp({
    role: 'initiator', connectionId: 'c1', secret: Buffer.alloc(32, 3), startAt: performance.now(), timeoutMs: 4000,
    local: { port: 1, profile: tcpProfile(1, true, 'random-symmetric', '198.51.100.1') },
    remote: { candidates: srflx(2), profile: tcpProfile(2, true, 'random-symmetric', '198.51.100.2') },
  }).then(() => assert.fail('a path was found'), (reason: any) => reason);
  assert.equal(error.code, 'ERR_PUNCH_FAILED');
  assert.equal(error.reason, 'no-path');
  assert.match(error.message, /randomly/);
  assert.ok(Date.now() - started < 1000, 'decided from the profiles, before any SYN');
});

test('bad arguments are typed errors', async () => {
  const base = { role: 'initiator' as const, connectionId: 'x', secret: Buffer.alloc(32), local: {}, remote: { candidates: [] }, startAt: performance.now() };
  await assert.rejects(punchTcp({ ...base, secret: Buffer.alloc(4) }), { code: 'ERR_INVALID_ARGUMENT' });
  await assert.rejects(punchTcp({ ...base, connectionId: '' }), { code: 'ERR_INVALID_ARGUMENT' });
  await assert.rejects(punchTcp({ ...base, signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });
});
