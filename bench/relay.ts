// `npm run bench:relay`: throughput of one relayed TCP stream and of 100 concurrent ones through
// the built-in relay (its own process) with each splice engine (kernel splice(2) addon, and the
// JavaScript splice) and through coturn (RFC 6062 TCP allocations), next to a direct loopback TCP
// stream measured in the same run; then the relay's memory with 1,000 idle relayed TCP sessions
// (2,000 attached sockets). Senders and receivers share this process in every case, so the ratio
// compares the paths, not the clients. Direct and relayed runs alternate BENCH_ROUNDS times; the
// best of each is kept, the spread (worst-best) is printed, and so is the median of the per-round
// ratios (each relayed round against the direct round just before it).
// The relay process runs the compiled dist/ (the npm script builds first).
// Environment: BENCH_MIB (MiB per measurement, default 1024), BENCH_STREAMS (100), BENCH_IDLE (1000),
// BENCH_ROUNDS (5), NTCP_RELAY_SPLICE (engine of the memory run; default auto), BENCH_PIN=1 (this
// process on core 0, the relay and coturn on core 1, as a relay on its own host would run).
import net from 'node:net';
import { execFileSync, fork, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { attachTcp, TurnClient, type RelayEndpoints } from '../src/relay/index.js';
import { coturnInstalled, startCoturn, type Coturn } from '../test/relay/support/coturn.js';

const MIB = 1024 * 1024;
const TOTAL_BYTES = Number(process.env.BENCH_MIB ?? 1024) * MIB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 100);
const IDLE_SESSIONS = Number(process.env.BENCH_IDLE ?? 1000);
/** BENCH_PIN=1: senders and receivers on core 0, the relay (and coturn) on core 1. */
const PIN = process.env.BENCH_PIN === '1';
const CLIENT_CORE = '0';
const RELAY_CORE = '1';
const CHUNK = Buffer.alloc(256 * 1024, 0x5a);
const TARGET_RATIO = 0.8;
const TARGET_IDLE_MIB = 100;

type Pair = [sender: net.Socket, receiver: net.Socket];

/** Tearing down a measured pair resets its other end; anything else is a real failure. */
function expectResets(socket: net.Socket): net.Socket {
  return socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') throw error;
  });
}

/** Pushes `bytes` from each sender to its receiver (respecting backpressure); returns MiB/s overall. */
async function measure(pairs: Pair[], bytesPerPair: number): Promise<number> {
  const started = performance.now();
  await Promise.all(pairs.map(([sender, receiver]) => transfer(sender, receiver, bytesPerPair)));
  const seconds = (performance.now() - started) / 1000;
  return (bytesPerPair * pairs.length) / MIB / seconds;
}

function transfer(sender: net.Socket, receiver: net.Socket, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received >= bytes) {
        receiver.off('data', onData);
        resolve();
      }
    };
    receiver.on('data', onData);
    receiver.once('error', reject);
    sender.once('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        const size = Math.min(CHUNK.length, bytes - sent);
        sent += size;
        if (!sender.write(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size))) {
          sender.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

async function directPairs(count: number): Promise<{ pairs: Pair[]; close(): void }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => accepted.push(expectResets(socket)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  const clients = await Promise.all(Array.from({ length: count }, async () => {
    const socket = expectResets(net.connect(port, '127.0.0.1'));
    await once(socket, 'connect');
    return socket;
  }));
  while (accepted.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
  // accept order may differ from connect order: pair by the client's local port
  const byPort = new Map(accepted.map((socket) => [socket.remotePort, socket]));
  const pairs = clients.map((client) => [client, byPort.get(client.localPort)!] as Pair);
  return { pairs, close: () => { for (const socket of [...clients, ...accepted]) socket.destroy(); server.close(); } };
}

type Engine = 'kernel' | 'js';

/** Compiles bench/reference-relay.c (the extra hop's own cost); undefined without a C compiler. */
function buildReferenceRelay(): string | undefined {
  const binary = join(tmpdir(), `ntcp-reference-relay-${process.pid}`);
  try {
    execFileSync('gcc', ['-O2', '-pthread', '-o', binary, fileURLToPath(new URL('./reference-relay.c', import.meta.url))], { stdio: 'pipe' });
    return binary;
  } catch (error) {
    console.log(`reference relay (C)                SKIPPED: gcc failed: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** One stream through the reference relay: client -> C relay -> a local server. */
async function referenceRelayPair(binary: string): Promise<{ pair: Pair; close(): void }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => accepted.push(expectResets(socket)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const child = spawn(binary, [String((server.address() as net.AddressInfo).port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (PIN) pin(child.pid!, RELAY_CORE);
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const client = expectResets(net.connect(Number(line.toString().trim()), '127.0.0.1'));
  await once(client, 'connect');
  while (accepted.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  return {
    pair: [client, accepted[0]!],
    close: () => {
      client.destroy();
      accepted[0]!.destroy();
      server.close();
      child.kill();
    },
  };
}

/** Moves a process (all its threads) to one core, as a relay on its own machine would have it. */
function pin(pid: number, core: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', core, String(pid)], { stdio: 'ignore' });
}

function relayProcess(engine?: Engine) {
  const env = engine === undefined ? process.env : { ...process.env, NTCP_RELAY_SPLICE: engine };
  const child = fork(new URL('./relay-process.mjs', import.meta.url), { execArgv: ['--expose-gc'], env });
  if (PIN) pin(child.pid!, RELAY_CORE);
  const next = <T>(kind: string): Promise<T> => new Promise((resolve) => {
    const onMessage = (message: { kind: string }) => {
      if (message.kind !== kind) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
  });
  const ready = next<{ endpoints: RelayEndpoints; spliceEngine: Engine }>('ready');
  return {
    ready,
    async sessions(count: number): Promise<Array<[string, string]>> {
      const reply = next<{ tokens: Array<[string, string]> }>('sessions');
      child.send({ kind: 'sessions', count });
      return (await reply).tokens;
    },
    /** CPU microseconds the relay process used so far (user, system). */
    async cpu(): Promise<{ user: number; system: number }> {
      const reply = next<{ user: number; system: number }>('cpu');
      child.send({ kind: 'cpu' });
      return reply;
    },
    async memory(): Promise<{ rss: number; heapUsed: number; external: number; sessions: number; active: number }> {
      const reply = next<{ rss: number; heapUsed: number; external: number; sessions: number; active: number }>('memory');
      child.send({ kind: 'memory' });
      return reply;
    },
    async stop(): Promise<void> {
      const exited = once(child, 'exit');
      child.send({ kind: 'stop' });
      await exited;
    },
  };
}

async function relayedPairs(relay: ReturnType<typeof relayProcess>, endpoints: RelayEndpoints, count: number): Promise<Pair[]> {
  const tokens = await relay.sessions(count);
  const pairs: Pair[] = [];
  // In batches: thousands of simultaneous connects overflow the listen backlog.
  for (let i = 0; i < tokens.length; i += 200) {
    pairs.push(...(await Promise.all(tokens.slice(i, i + 200).map(async ([a, b]) => {
      const attach = (token: string) => attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token, timeoutMs: 30_000 });
      return (await Promise.all([attach(a), attach(b)])).map(expectResets) as Pair;
    }))));
  }
  return pairs;
}

async function coturnPairs(coturn: Coturn, count: number): Promise<{ pairs: Pair[]; close(): Promise<void> }> {
  const accepted: net.Socket[] = [];
  const peer = net.createServer((socket) => accepted.push(expectResets(socket)));
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', () => resolve()));
  const peerAddress = { address: '127.0.0.1', port: (peer.address() as net.AddressInfo).port };
  const clients: TurnClient[] = [];
  const pairs: Pair[] = [];
  for (let i = 0; i < count; i++) {
    const client = await TurnClient.connect({ server: { host: coturn.host, port: coturn.port }, transport: 'tcp', credentials: { username: 'bench', password: 'bench' } });
    clients.push(client);
    await client.allocate({ relayTransport: 'tcp' });
    const before = accepted.length;
    const socket = expectResets(await client.connect(peerAddress));
    while (accepted.length === before) await new Promise((resolve) => setTimeout(resolve, 1));
    pairs.push([socket, accepted[accepted.length - 1]!]);
  }
  return {
    pairs,
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await Promise.all(clients.map((client) => client.close()));
      peer.close();
    },
  };
}

function destroyAll(pairs: Pair[]): void {
  for (const [a, b] of pairs) {
    a.destroy();
    b.destroy();
  }
}

const format = (mibPerSecond: number) => `${mibPerSecond.toFixed(0).padStart(6)} MiB/s`;
/** Best and spread of one figure over the rounds. */
class Figure {
  readonly #samples: number[] = [];
  add(sample: number): void {
    this.#samples.push(sample);
  }
  get best(): number {
    return Math.max(...this.#samples);
  }
  get spread(): string {
    return `${Math.min(...this.#samples).toFixed(0)}-${this.best.toFixed(0)}`;
  }
  get samples(): readonly number[] {
    return this.#samples;
  }
}
/**
 * Median over the rounds of (this round's relayed figure / this round's direct figure, measured
 * just before it): a load spike hits both halves of a pair alike, so this moves less than best/best.
 */
function pairedRatio(relayed: Figure, direct: Figure): number {
  const ratios = relayed.samples.map((sample, round) => sample / direct.samples[round]!).sort((a, b) => a - b);
  const middle = Math.floor(ratios.length / 2);
  return ratios.length % 2 === 1 ? ratios[middle]! : (ratios[middle - 1]! + ratios[middle]!) / 2;
}
function report(label: string, single: Figure, many: Figure): void {
  console.log(`${label.padEnd(36)} 1 stream ${format(single.best)} (${single.spread.padStart(9)})   ${STREAMS} streams ${format(many.best)} (${many.spread.padStart(9)})`);
}

if (PIN) pin(process.pid, CLIENT_CORE);
console.log(`bench:relay  ${TOTAL_BYTES / MIB} MiB per measurement, best of ${ROUNDS} (spread min-max in MiB/s), ${STREAMS} concurrent streams, ${IDLE_SESSIONS} idle sessions; load average ${loadavg().map((load) => load.toFixed(1)).join(' ')}`);

// Memory first, in a fresh relay process: idle relayed sessions (both peers attached, no traffic).
const memoryRelay = relayProcess();
const { endpoints: memoryEndpoints, spliceEngine: memoryEngine } = await memoryRelay.ready;
const baseline = await memoryRelay.memory();
const idle = await relayedPairs(memoryRelay, memoryEndpoints, IDLE_SESSIONS);
const loaded = await memoryRelay.memory();
destroyAll(idle);
await memoryRelay.stop();

const relays = { kernel: relayProcess('kernel'), js: relayProcess('js') };
const endpoints = { kernel: (await relays.kernel.ready).endpoints, js: (await relays.js.ready).endpoints };
const figures = {
  direct: { single: new Figure(), many: new Figure() },
  kernel: { single: new Figure(), many: new Figure() },
  js: { single: new Figure(), many: new Figure() },
};
// CPU the relay process spends per GiB of one stream: unlike MiB/s, it hardly moves with the
// machine's load, so it shows what the kernel splice saves even on a busy machine.
const relayCpu = { kernel: { user: 0, system: 0 }, js: { user: 0, system: 0 } };
const referenceBinary = buildReferenceRelay();
const referenceSingle = new Figure();
for (let round = 0; round < ROUNDS; round++) {
  const direct1 = await directPairs(1);
  figures.direct.single.add(await measure(direct1.pairs, TOTAL_BYTES));
  direct1.close();
  if (referenceBinary) {
    const reference = await referenceRelayPair(referenceBinary);
    referenceSingle.add(await measure([reference.pair], TOTAL_BYTES));
    reference.close();
  }
  for (const engine of ['kernel', 'js'] as const) {
    const relay1 = await relayedPairs(relays[engine], endpoints[engine], 1);
    const before = await relays[engine].cpu();
    figures[engine].single.add(await measure(relay1, TOTAL_BYTES));
    const after = await relays[engine].cpu();
    relayCpu[engine].user += after.user - before.user;
    relayCpu[engine].system += after.system - before.system;
    destroyAll(relay1);
  }
  const directN = await directPairs(STREAMS);
  figures.direct.many.add(await measure(directN.pairs, Math.floor(TOTAL_BYTES / STREAMS)));
  directN.close();
  for (const engine of ['kernel', 'js'] as const) {
    const relayN = await relayedPairs(relays[engine], endpoints[engine], STREAMS);
    figures[engine].many.add(await measure(relayN, Math.floor(TOTAL_BYTES / STREAMS)));
    destroyAll(relayN);
  }
}
await Promise.all([relays.kernel.stop(), relays.js.stop()]);
report('direct loopback TCP (reference)', figures.direct.single, figures.direct.many);
report('built-in relay, kernel splice', figures.kernel.single, figures.kernel.many);
report('built-in relay, JS splice', figures.js.single, figures.js.many);
if (referenceBinary) {
  console.log(`${'reference relay (C threads, splice)'.padEnd(36)} 1 stream ${format(referenceSingle.best)} (${referenceSingle.spread.padStart(9)})`);
  rmSync(referenceBinary, { force: true });
}
const gibRelayed = (ROUNDS * TOTAL_BYTES) / (1024 * MIB);
for (const engine of ['kernel', 'js'] as const) {
  const { user, system } = relayCpu[engine];
  console.log(`relay process CPU per GiB, ${engine.padEnd(6)}     ${((user + system) / 1000 / gibRelayed).toFixed(0).padStart(5)} ms (user ${(user / 1000 / gibRelayed).toFixed(0)}, system ${(system / 1000 / gibRelayed).toFixed(0)}), 1 stream`);
}
const directSingle = figures.direct.single.best;
const directMany = figures.direct.many.best;

// coturn, RFC 6062 TCP allocations.
let coturnFigures: [number, number] | undefined;
if (coturnInstalled()) {
  const coturn = await startCoturn({ user: 'bench', password: 'bench', realm: 'bench' }, ['--no-udp-relay'], 4 * STREAMS);
  if (PIN && coturn.pid !== undefined) pin(coturn.pid, RELAY_CORE);
  try {
    const one = await coturnPairs(coturn, 1);
    const single = new Figure();
    for (let round = 0; round < ROUNDS; round++) single.add(await measure(one.pairs, TOTAL_BYTES));
    await one.close();
    const many = await coturnPairs(coturn, STREAMS);
    const manyRate = new Figure();
    for (let round = 0; round < ROUNDS; round++) manyRate.add(await measure(many.pairs, Math.floor(TOTAL_BYTES / STREAMS)));
    await many.close();
    coturnFigures = [single.best, manyRate.best];
    report('coturn 4.6 TCP allocation', single, manyRate);
  } finally {
    await coturn.stop();
  }
} else {
  console.log('coturn                             SKIPPED: turnserver is not installed');
}

const rssDelta = loaded.rss - baseline.rss;
console.log('');
const ratio = (figure: { single: Figure; many: Figure }) => [figure.single.best / directSingle, figure.many.best / directMany] as const;
const verdict = (single: number) => `target >= ${TARGET_RATIO} for 1 stream: ${single >= TARGET_RATIO ? 'met' : 'NOT met'}`;
const [kernelSingle, kernelMany] = ratio(figures.kernel);
const [jsSingle, jsMany] = ratio(figures.js);
console.log(`ratio relay (kernel splice) / direct 1 stream ${kernelSingle.toFixed(2)}   ${STREAMS} streams ${kernelMany.toFixed(2)}   (${verdict(kernelSingle)})`);
console.log(`ratio relay (JS splice) / direct     1 stream ${jsSingle.toFixed(2)}   ${STREAMS} streams ${jsMany.toFixed(2)}   (${verdict(jsSingle)})`);
if (referenceBinary) {
  console.log(`median per-round ratio, C reference 1 stream ${pairedRatio(referenceSingle, figures.direct.single).toFixed(2)}   (the extra hop's own cost: no relay can do better here)`);
  console.log(`ratio relay (kernel) / C reference  1 stream ${(figures.kernel.single.best / referenceSingle.best).toFixed(2)}   median per round ${pairedRatio(figures.kernel.single, referenceSingle).toFixed(2)}`);
}
for (const engine of ['kernel', 'js'] as const) {
  const single = pairedRatio(figures[engine].single, figures.direct.single);
  const many = pairedRatio(figures[engine].many, figures.direct.many);
  console.log(`median per-round ratio, ${engine.padEnd(6)}      1 stream ${single.toFixed(2)}   ${STREAMS} streams ${many.toFixed(2)}   (each relayed round / the direct round just before it)`);
}
if (coturnFigures) {
  console.log(`ratio coturn / direct                1 stream ${(coturnFigures[0] / directSingle).toFixed(2)}   ${STREAMS} streams ${(coturnFigures[1] / directMany).toFixed(2)}`);
  console.log(`ratio relay (kernel) / coturn        1 stream ${(figures.kernel.single.best / coturnFigures[0]).toFixed(2)}   ${STREAMS} streams ${(figures.kernel.many.best / coturnFigures[1]).toFixed(2)}`);
}
console.log(`idle sessions: ${loaded.active} active relayed sessions (${loaded.active * 2} sockets) in a fresh relay process (${memoryEngine} splice)`);
console.log(`load average at the end ${loadavg().map((load) => load.toFixed(1)).join(' ')}`);
console.log(`  relay RSS ${(baseline.rss / MIB).toFixed(1)} MiB -> ${(loaded.rss / MIB).toFixed(1)} MiB (+${(rssDelta / MIB).toFixed(1)} MiB), heap +${((loaded.heapUsed - baseline.heapUsed) / MIB).toFixed(1)} MiB`);
console.log(`  per session: ${(rssDelta / IDLE_SESSIONS / 1024).toFixed(1)} KiB RSS, ${((loaded.heapUsed - baseline.heapUsed) / IDLE_SESSIONS / 1024).toFixed(1)} KiB heap`);
console.log(`  whole relay process with ${IDLE_SESSIONS} idle sessions: ${(loaded.rss / MIB).toFixed(1)} MiB (target < ${TARGET_IDLE_MIB} MiB: ${loaded.rss / MIB < TARGET_IDLE_MIB ? 'met' : 'NOT met'})`);
