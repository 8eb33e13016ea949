/**
 * `npm run bench:stun`: Binding requests/s over UDP and TCP against a bare Node echo (the
 * reference), our server and coturn (stun-only, when installed), each pinned to core 0 with the
 * C load generator (bench/native/stun-load.c) on core 1. Rounds alternate between servers so
 * background noise hits all of them alike; the best round of each is reported.
 * Env: BENCH_SECONDS (per round, default 3), BENCH_ROUNDS (default 3), BENCH_SOCKETS (4),
 * BENCH_WINDOW (outstanding requests per socket, 16).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { udpBinding } from '../src/stun/index.js';

const HOST = '127.0.0.1';
const EXIT_GRACE_MS = 5000;
const SERVER_CORE = '0';
const GENERATOR_CORE = '1';
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const sockets = Number(process.env.BENCH_SOCKETS ?? 4);
const window = Number(process.env.BENCH_WINDOW ?? 16);

interface LoadResult {
  transport: 'udp' | 'tcp';
  responses: number;
  rate: number;
  p50_us: number;
  p99_us: number;
  lost: number;
  invalid: number;
  generator_cpu: number;
  responses_total: number;
  closed_connections: number;
  /** Server CPU time (user + system) per response over the whole run, in microseconds. */
  serverCpuUsPerResponse: number;
}

interface Target {
  name: string;
  echo: boolean;
  argv: string[];
  port: number;
}

function have(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function compileGenerator(): string {
  mkdirSync('build', { recursive: true });
  const binary = join('build', 'stun-load');
  execFileSync('cc', ['-O2', '-Wall', '-o', binary, join('bench', 'native', 'stun-load.c')], { stdio: 'inherit' });
  return binary;
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + 2 * Math.floor(Math.random() * 20000);
    const ok = await Promise.all([port, port + 1].map((p) => new Promise<boolean>((resolve) => {
      const udp = dgram.createSocket('udp4');
      udp.once('error', () => resolve(false));
      udp.bind(p, HOST, () => {
        const tcp = net.createServer();
        tcp.once('error', () => udp.close(() => resolve(false)));
        tcp.listen(p, HOST, () => tcp.close(() => udp.close(() => resolve(true))));
      });
    })));
    if (ok.every(Boolean)) return port;
  }
}

async function waitReady(target: Target, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`${target.name} exited with ${child.exitCode}`);
    const ready = target.echo ? await echoAnswers(target.port) : await udpBinding({ server: { host: HOST, port: target.port }, rtoMs: 50, rc: 2, rm: 2 }).then(() => true, () => false);
    if (ready) return;
    await sleep(50);
  }
  throw new Error(`${target.name} did not come up`);
}

async function echoAnswers(port: number): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  try {
    const answer = new Promise<boolean>((resolve) => socket.once('message', () => resolve(true)));
    socket.send(Buffer.from('ping'), port, HOST);
    return await Promise.race([answer, sleep(100).then(() => false)]);
  } finally {
    socket.close();
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

function statFields(pid: string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime in seconds of a process and its children (cluster workers), from /proc. */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fields: string[];
    try {
      fields = statFields(entry);
    } catch {
      continue; // the process exited while we listed /proc
    }
    // fields[1] is the parent pid; utime and stime are stat fields 14 and 15
    if (entry === String(pid) || fields[1] === String(pid)) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

function runLoad(generator: string, target: Target, transport: 'udp' | 'tcp', serverPid: number): LoadResult {
  const args = ['-c', GENERATOR_CORE, generator, '--host', HOST, '--port', String(target.port), '--sockets', String(sockets),
    '--window', String(window), '--duration', String(seconds), '--warmup', '1'];
  if (transport === 'tcp') args.push('--tcp');
  if (target.echo) args.push('--echo');
  const cpuBefore = cpuSeconds(serverPid);
  const result = JSON.parse(execFileSync('taskset', args, { encoding: 'utf8' })) as LoadResult;
  const cpu = cpuSeconds(serverPid) - cpuBefore;
  return { ...result, serverCpuUsPerResponse: (cpu * 1e6) / Math.max(1, result.responses_total) };
}

async function withServer<T>(target: Target, body: (pid: number) => T): Promise<T> {
  // taskset execs the server, so the child's pid is the server's
  const child = spawn('taskset', ['-c', SERVER_CORE, ...target.argv], { stdio: 'ignore' });
  try {
    await waitReady(target, child);
    return body(child.pid!);
  } finally {
    child.kill('SIGTERM');
    const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    if ((await Promise.race([exited.then(() => true), sleep(EXIT_GRACE_MS).then(() => false)])) === false) {
      process.stdout.write(`  ${target.name} ignored SIGTERM for ${EXIT_GRACE_MS} ms: killed\n`);
      child.kill('SIGKILL');
      await exited;
    }
  }
}

function row(name: string, result: LoadResult, reference: LoadResult): string {
  const ratio = (result.rate / reference.rate).toFixed(2);
  const cpuRatio = (result.serverCpuUsPerResponse / reference.serverCpuUsPerResponse).toFixed(2);
  return `${name.padEnd(20)} ${result.rate.toFixed(0).padStart(8)}/s (x${ratio})  server CPU ${result.serverCpuUsPerResponse.toFixed(2).padStart(5)} us/resp (x${cpuRatio})  p50 ${String(result.p50_us).padStart(5)} us  p99 ${String(result.p99_us).padStart(6)} us  lost ${result.lost}  invalid ${result.invalid}${result.closed_connections ? `  closed ${result.closed_connections}` : ''}  generator CPU ${(result.generator_cpu * 100).toFixed(0)}%`;
}

async function main(): Promise<void> {
  const generator = compileGenerator();
  const workDir = mkdtempSync(join(tmpdir(), 'ntcp-bench-stun-'));
  const targets: Target[] = [];
  const echoPort = await freePort();
  targets.push({ name: 'node dgram/net echo', echo: true, port: echoPort, argv: [process.execPath, 'bench/stun-echo-server.mjs', HOST, String(echoPort)] });
  const ntcpPort = await freePort();
  targets.push({
    name: 'ntcp stun-server', echo: false, port: ntcpPort,
    argv: [process.execPath, 'dist/cli/main.js', 'stun-server', '--host', HOST, '--port', String(ntcpPort), '--alt-port', String(ntcpPort + 1), '--rate', '1000000000'],
  });
  const workersPort = await freePort();
  targets.push({
    name: 'ntcp, 2 workers', echo: false, port: workersPort,
    argv: [process.execPath, 'dist/cli/main.js', 'stun-server', '--host', HOST, '--port', String(workersPort), '--alt-port', String(workersPort + 1), '--rate', '1000000000', '--workers', '2'],
  });
  if (have('turnserver')) {
    const coturnPort = await freePort();
    targets.push({
      name: 'coturn stun-only', echo: false, port: coturnPort,
      argv: ['turnserver', '-n', '--stun-only', '-L', HOST, '-p', String(coturnPort), '--no-tls', '--no-dtls', '--no-cli',
        '--log-file', 'stdout', '--simple-log', '--no-stdout-log', '--pidfile', join(workDir, 'turnserver.pid'), '--userdb', join(workDir, 'turndb')],
    });
  } else {
    process.stdout.write('*** coturn (turnserver) not installed: its rows are SKIPPED ***\n');
  }
  process.stdout.write(`bench:stun: ${rounds} rounds x ${seconds}s per server and transport, ${sockets} sockets x window ${window}; server on core ${SERVER_CORE}, generator on core ${GENERATOR_CORE}\n`);
  try {
    for (const transport of ['udp', 'tcp'] as const) {
      const best = new Map<string, LoadResult>();
      for (let round = 1; round <= rounds; round++) {
        for (const target of targets) {
          const result = await withServer(target, (pid) => runLoad(generator, target, transport, pid));
          process.stdout.write(`  ${transport} round ${round} ${target.name}: ${result.rate.toFixed(0)}/s, server ${result.serverCpuUsPerResponse.toFixed(2)} us CPU/response, lost ${result.lost} invalid ${result.invalid}${result.closed_connections ? `, server closed ${result.closed_connections} connection(s)` : ''}\n`);
          const previous = best.get(target.name);
          if (previous === undefined || result.rate > previous.rate) best.set(target.name, result);
        }
      }
      const reference = best.get(targets[0]!.name)!;
      process.stdout.write(`\n${transport.toUpperCase()} (best of ${rounds}; ratios against the Node echo of the same run):\n`);
      for (const target of targets) process.stdout.write(row(target.name, best.get(target.name)!, reference) + '\n');
      process.stdout.write('\n');
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
