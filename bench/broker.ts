// `npm run bench:broker`: how many registered peers one broker process holds, what each costs in
// memory, and how many connects per second it coordinates, next to a bare framed TCP server doing
// the same I/O in the same run. Clients live in forked worker processes, spread over several
// 127.0.1.x source addresses (one address has only ~28k ephemeral ports).
// When the open-file limit is too low for BENCH_PEERS real connections (this container: 20000, and
// no CAP_SYS_RESOURCE to raise it), the socket phase runs with as many as fit, and the broker's
// per-peer state is measured separately for the full count (records as the broker keeps them,
// without sockets); the 100k projection adds the measured cost of a bare connection.
// Environment: BENCH_PEERS (default 100000), BENCH_WORKERS (2), BENCH_SECONDS (5), BENCH_PAIRS (250 per worker).
import net from 'node:net';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startBroker } from '../src/broker/index.js';
import { PeerRecord, Session } from '../src/broker/peer-record.js';
import { reflexiveCandidates } from '../src/broker/candidates.js';
import { encodeFrame, FrameDecoder } from '../src/broker/framing.js';
import type { WorkerCommand } from './broker-worker.js';

const PEERS_WANTED = Number(process.env.BENCH_PEERS ?? 100_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PAIRS_PER_WORKER = Number(process.env.BENCH_PAIRS ?? 250);
const SOURCES_PER_WORKER = 4;
const EPHEMERAL_PORTS_PER_SOURCE = 28_000;
const FD_HEADROOM = 2_000;
const MIB = 1024 * 1024;

/** A compact NatProfile as discovery produces it, evidence left out (what a peer should send). */
const PROFILE = {
  version: 1,
  server: { host: '203.0.113.1', port: 3478 },
  altServer: { family: 'IPv4', address: '203.0.113.2', port: 3479 },
  measuredAt: '2026-11-22T05:00:00.000Z',
  durationMs: 412,
  local: { address: '192.168.1.23', interfaces: ['192.168.1.23', 'fe80::1c2b:3aff:fe4d:5e6f'] },
  udp: {
    local: { family: 'IPv4', address: '192.168.1.23', port: 50123 }, mapped: { family: 'IPv4', address: '198.51.100.77', port: 61234 },
    natPresent: true, mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', hairpinning: 'unsupported',
    portPreserving: false, rfc3489Type: 'port-restricted-cone', mappingLifetime: { aliveMs: 30000, expiredMs: null },
    evidence: { observations: [], notes: ['evidence trimmed before registration'] },
  },
  tcp: {
    reachable: true, local: { family: 'IPv4', address: '192.168.1.23', port: 50124 }, mapped: { family: 'IPv4', address: '198.51.100.77', port: 61240 },
    natPresent: true, mapping: 'address-and-port-dependent', portPreserving: false, kind: 'delta-symmetric', delta: 2,
    evidence: { observations: [], notes: [] },
  },
};

function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((entry) => entry.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

function memory(): { heap: number; rss: number } {
  globalThis.gc?.();
  globalThis.gc?.();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 500));
}

function ask(worker: ChildProcess, command: WorkerCommand): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    worker.once('message', (message: Record<string, any>) => (message.ok ? resolve(message) : reject(new Error(String(message.error)))));
    worker.send(command);
  });
}

/**
 * The broker's own state for `count` peers, built the way it builds it on registration (a Session
 * with decoder and rate bucket, a PeerRecord with its profile text, token, RTT estimator), in a
 * Map by id; only the net.Socket is missing (its cost is the bare reference's).
 */
function measurePeerState(count: number): { heap: number; rss: number; records: Map<string, PeerRecord> } {
  const before = memory();
  const records = new Map<string, PeerRecord>();
  const fakeSocket = {} as net.Socket;
  for (let i = 0; i < count; i++) {
    const profile = { ...PROFILE, udp: { ...PROFILE.udp, mapped: { family: 'IPv4', address: '198.51.100.77', port: 1024 + (i % 60000) } } };
    const observed = { family: 'IPv4' as const, address: `127.0.${1 + (i >> 16)}.${i & 255}`, port: 32768 + (i % 28000) };
    const session = new Session(fakeSocket, observed, { maxFrameBytes: 32768, ratePerSecond: 50, burst: 100 }, Date.now());
    const id = `peer-${String(i).padStart(6, '0')}`;
    const record = new PeerRecord({
      id, session, profileJson: JSON.stringify(profile), reflexive: reflexiveCandidates(profile),
      privateAddresses: [{ address: '192.168.1.23', port: 40000 + (i % 20000) }], transports: ['udp', 'tcp'], reclaimToken: randomBytes(16), now: Date.now(),
    });
    record.rtt.sample(0.2, Date.now());
    session.peer = record;
    records.set(id, record);
  }
  const after = memory();
  return { heap: after.heap - before.heap, rss: after.rss - before.rss, records };
}

function perPeer(bytes: number, count: number): string {
  return `${(bytes / count / 1024).toFixed(2)} KiB`;
}

async function main(): Promise<void> {
  const limit = openFileLimit();
  const peers = Math.min(PEERS_WANTED, limit - FD_HEADROOM, WORKERS * SOURCES_PER_WORKER * EPHEMERAL_PORTS_PER_SOURCE);
  if (!globalThis.gc) console.log('note: run with --expose-gc (npm run bench:broker does) for stable memory figures');
  if (peers < PEERS_WANTED) console.log(`note: open-file limit ${limit} caps the run at ${peers} peers (wanted ${PEERS_WANTED}); raise ulimit -n`);
  const perWorker = Math.ceil(peers / WORKERS);
  const workers = Array.from({ length: WORKERS }, () => fork(new URL('./broker-worker.ts', import.meta.url), { execArgv: ['--import', 'tsx'] }));
  const sourcesOf = (w: number): string[] => Array.from({ length: SOURCES_PER_WORKER }, (_, s) => `127.0.1.${w * SOURCES_PER_WORKER + s + 1}`);
  const share = (w: number): number => Math.max(0, Math.min(perWorker, peers - w * perWorker));
  const sampleCoordinate = encodeFrame({
    type: 'coordinate', connectionId: 'AAAAAAAAAAAAAAAA', role: 'initiator', transport: 'udp',
    peer: { id: 'peer-000000', observed: { family: 'IPv4', address: '127.0.1.1', port: 40000 }, profile: PROFILE, transports: ['udp', 'tcp'] },
    candidates: [{ source: 'profile-udp', address: '198.51.100.77', port: 61234 }], sameNat: false,
    secret: Buffer.alloc(32).toString('base64'), startInMs: 10, rttMs: 0.2, expiresInMs: 30000,
  });

  // Reference: a bare framed TCP server (no protocol, no state) answering each frame with a
  // coordination-sized frame, and holding the same number of idle connections.
  const bareSockets = new Set<net.Socket>();
  const bare = net.createServer({ noDelay: true }, (socket) => {
    bareSockets.add(socket);
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      for (let frames = decoder.push(chunk).length; frames > 0; frames--) socket.write(sampleCoordinate);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => bareSockets.delete(socket));
  });
  bare.listen({ host: '127.0.0.1', port: 0, backlog: 4096 });
  await once(bare, 'listening');
  const barePort = (bare.address() as net.AddressInfo).port;

  console.log(`broker bench: ${peers} peers over ${WORKERS} worker processes, ${WORKERS * SOURCES_PER_WORKER} source addresses; profile ${JSON.stringify(PROFILE).length} bytes of JSON`);
  const bareBefore = memory();
  let started = performance.now();
  await Promise.all(workers.map((worker, w) => ask(worker, { cmd: 'hold-bare', port: barePort, count: share(w), sources: sourcesOf(w) })));
  const bareConnectSeconds = (performance.now() - started) / 1000;
  await settle();
  const bareAfter = memory();
  const bareHeld = bareSockets.size;
  await Promise.all(workers.map((worker) => ask(worker, { cmd: 'release-bare' })));
  while (bareSockets.size > 0) await settle();

  const broker = await startBroker({ host: '127.0.0.1', port: 0, maxConnections: peers + FD_HEADROOM / 2, maxPendingCoordinations: 100_000 });
  await settle();
  const brokerBefore = memory();
  started = performance.now();
  const ids = (w: number): string[] => Array.from({ length: share(w) }, (_, i) => `peer-${String(w * perWorker + i).padStart(6, '0')}`);
  await Promise.all(workers.map((worker, w) => ask(worker, { cmd: 'register', port: broker.port, ids: ids(w), sources: sourcesOf(w), profile: PROFILE })));
  const registerSeconds = (performance.now() - started) / 1000;
  await settle();
  const brokerAfter = memory();
  const counts = broker.query({ limit: 1 }).counts;
  const held = counts.idle + counts.busy;

  // The broker is the only busy thing in this process now: its CPU time per coordination gives
  // the capacity of one core, independent of how much CPU the load generators took.
  const cpuBefore = process.cpuUsage();
  const coordination = await Promise.all(workers.map((worker) => ask(worker, { cmd: 'coordinate', seconds: SECONDS, pairs: PAIRS_PER_WORKER })));
  const cpu = process.cpuUsage(cpuBefore);
  const coordinated = coordination.reduce((sum, r) => sum + r.completed, 0);
  const incoming = coordination.reduce((sum, r) => sum + r.incoming, 0);
  const connectErrors = coordination.reduce((sum, r) => sum + r.errors, 0);
  const coordinationSeconds = Math.max(...coordination.map((r) => r.seconds));
  const request = { type: 'connect', requestId: '123', peerId: 'peer-000001', transport: 'udp' };
  const echoed = await Promise.all(workers.map((worker) => ask(worker, { cmd: 'echo', port: barePort, seconds: SECONDS, pairs: PAIRS_PER_WORKER, request })));
  const echoRate = echoed.reduce((sum, r) => sum + r.completed, 0) / Math.max(...echoed.map((r) => r.seconds));
  const coordinationRate = coordinated / coordinationSeconds;

  const brokerHeap = brokerAfter.heap - brokerBefore.heap;
  const brokerRss = brokerAfter.rss - brokerBefore.rss;
  const bareHeap = bareAfter.heap - bareBefore.heap;
  const bareRss = bareAfter.rss - bareBefore.rss;
  console.log('');
  console.log(`registered peers held          ${held} (of ${peers}; registered in ${registerSeconds.toFixed(1)} s = ${(held / registerSeconds).toFixed(0)}/s)`);
  console.log(`broker memory for them         heap +${(brokerHeap / MIB).toFixed(1)} MiB, RSS +${(brokerRss / MIB).toFixed(1)} MiB  (${perPeer(brokerHeap, held)} heap, ${perPeer(brokerRss, held)} RSS per peer)`);
  console.log(`  reference: bare TCP server   heap +${(bareHeap / MIB).toFixed(1)} MiB, RSS +${(bareRss / MIB).toFixed(1)} MiB for ${bareHeld} idle connections (${perPeer(bareHeap, bareHeld)} heap, ${perPeer(bareRss, bareHeld)} RSS each; connected in ${bareConnectSeconds.toFixed(1)} s)`);
  console.log(`  ratio broker / bare          ${(brokerRss / bareRss).toFixed(2)}x RSS per connection; 100k peers would take ~${((brokerRss / held) * 100_000 / MIB).toFixed(0)} MiB RSS (target < 1024)`);
  console.log(`coordinated connects           ${coordinationRate.toFixed(0)}/s (${coordinated} in ${coordinationSeconds.toFixed(1)} s, ${WORKERS * PAIRS_PER_WORKER} pairs in closed loop, ${incoming} responder events, ${connectErrors} errors; target 2000/s)`);
  const cpuPerCoordinationUs = (cpu.user + cpu.system) / coordinated;
  const clientCpuPerCoordinationUs = coordination.reduce((sum, r) => sum + r.cpuUs, 0) / coordinated;
  console.log(`  broker CPU per coordination  ${cpuPerCoordinationUs.toFixed(0)} us (user+system, heartbeats included) = ${(1e6 / cpuPerCoordinationUs).toFixed(0)}/s per fully used core`);
  console.log(`  client CPU per coordination  ${clientCpuPerCoordinationUs.toFixed(0)} us (both BrokerClients, in the load generators: they share this machine's cores with the broker)`);
  console.log(`  reference: bare frame echo   ${echoRate.toFixed(0)} round trips/s with the same concurrency and frame sizes`);
  console.log(`  ratio broker / echo          ${(coordinationRate / echoRate).toFixed(2)} (a coordination is 1 request + 2 coordination frames + 1 done, plus validation and scheduling)`);
  console.log(JSON.stringify({
    bench: 'broker', peers: held, heapBytesPerPeer: Math.round(brokerHeap / held), rssBytesPerPeer: Math.round(brokerRss / held),
    bareRssBytesPerConnection: Math.round(bareRss / bareHeld), coordinationsPerSecond: Math.round(coordinationRate), brokerCpuUsPerCoordination: Math.round(cpuPerCoordinationUs), clientCpuUsPerCoordination: Math.round(clientCpuPerCoordinationUs), echoRoundTripsPerSecond: Math.round(echoRate),
  }));

  await Promise.all(workers.map((worker) => { worker.send({ cmd: 'exit' }); return once(worker, 'exit'); }));
  await broker.close();
  bare.close();

  await settle();
  const state = measurePeerState(PEERS_WANTED);
  const projected = state.rss + PEERS_WANTED * (bareRss / bareHeld);
  console.log('');
  console.log(`broker state for ${state.records.size} peers   heap +${(state.heap / MIB).toFixed(1)} MiB, RSS +${(state.rss / MIB).toFixed(1)} MiB (${perPeer(state.heap, state.records.size)} heap per peer, measured without sockets)`);
  console.log(`  projected with sockets       ${(projected / MIB).toFixed(0)} MiB RSS for ${PEERS_WANTED} peers = state + ${PEERS_WANTED} x ${perPeer(bareRss, bareHeld)} bare-connection RSS (target < 1024 MiB for 100k)`);
  console.log(JSON.stringify({ bench: 'broker-state', peers: state.records.size, heapBytesPerPeer: Math.round(state.heap / state.records.size), projectedRssMiB: Math.round(projected / MIB) }));
}

await main();
