import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import net from 'node:net';
import { udpBinding } from '../../src/stun/index.js';

/**
 * One way to run coturn in tests: on free loopback ports, explicit flags only (`-n`, no config
 * file), ready once every listening address answers a STUN Binding over UDP and accepts TCP,
 * killed by PID in `stop()` (call it in finally), when the test process exits, and by a
 * parent-death signal when that process is killed.
 */
export interface Coturn {
  host: string;
  port: number;
  /** The TURN-over-TLS port, when started with `tls`. */
  tlsPort?: number;
  /** turnserver's process id (benchmarks pin it to a core). */
  pid: number | undefined;
  /** Everything coturn printed, for failure messages. */
  log(): string;
  /**
   * How many lines of the log match `pattern`, once at least `atLeast` do or after `timeoutMs`.
   * coturn's log comes through a pipe read apart from the sockets, so a line can trail the
   * answer it belongs to. @default timeoutMs LOG_WAIT_MS
   */
  logLines(pattern: RegExp, atLeast: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

/** @default for `logLines`' wait. */
export const LOG_WAIT_MS = 3000;

export type CoturnAuth = { user: string; password: string; realm: string } | { secret: string; realm: string };

/** PEM files of the server's certificate (chain) and key, for coturn's TLS listener. */
export interface CoturnTls {
  cert: string;
  key: string;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 2000;
const RELAY_PORT_BLOCKS = 400;
const RELAY_PORT_BLOCK = 100;

function installed(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

export function coturnInstalled(): boolean {
  return installed('turnserver');
}

/**
 * false when every tool is installed, else the reason to pass as `skip`, also printed to stderr
 * so a skipped coturn suite is seen in the run's output.
 */
export function coturnSkipReason(suite: string, tools: string[] = ['turnserver']): string | false {
  const missing = tools.filter((tool) => !installed(tool));
  if (missing.length === 0) return false;
  const reason = `coturn not installed (${missing.join(', ')}; apt-get install coturn)`;
  process.stderr.write(`\n*** ${suite} SKIPPED: ${reason} ***\n\n`);
  return reason;
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => resolve(false)).bind(port, host, () => socket.close(() => resolve(true)));
  });
}

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false)).listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port P such that P .. P+count-1 are free for both TCP and UDP on every host (coturn listens on both). */
export async function freePort(hosts: string[] = ['127.0.0.1'], count = 1): Promise<number> {
  for (;;) {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, hosts[0], () => resolve()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const ports = Array.from({ length: count }, (_, i) => port + i);
    const checks = ports.flatMap((p) => hosts.flatMap((host) => [udpFree(p, host), tcpFree(p, host)]));
    if ((await Promise.all(checks)).every(Boolean)) return port;
  }
}

/**
 * A TURN server on 127.0.0.1 with long-term or REST (shared secret) credentials; with `tls` it
 * also serves TURN over TLS on `tlsPort` (DTLS stays off).
 */
export async function startCoturn(auth: CoturnAuth, extraArgs: string[] = [], relayPorts = RELAY_PORT_BLOCK, tls?: CoturnTls): Promise<Coturn> {
  const host = '127.0.0.1';
  const port = await freePort([host]);
  const tlsListener = tls ? { ...tls, port: await freePort([host]) } : undefined;
  // A relay port range of its own per instance, so parallel test files do not collide.
  const minPort = 20_000 + Math.floor(Math.random() * RELAY_PORT_BLOCKS) * RELAY_PORT_BLOCK;
  return launch([host], port, false, tlsListener, [
    '--relay-ip=127.0.0.1', `--min-port=${minPort}`, `--max-port=${minPort + relayPorts - 1}`, '--allow-loopback-peers',
    `--realm=${auth.realm}`,
    ...('secret' in auth ? ['--use-auth-secret', `--static-auth-secret=${auth.secret}`] : ['--lt-cred-mech', `--user=${auth.user}:${auth.password}`]),
    ...extraArgs,
  ]);
}

/**
 * A STUN-only server. With two hosts it also listens on port+1: a full RFC 5780 server
 * (CHANGE-REQUEST, OTHER-ADDRESS) on hosts[0]:port, hosts[1]:port+1 and the other pairs.
 */
export async function startStunCoturn(hosts: string[] = ['127.0.0.1']): Promise<Coturn> {
  const alternate = hosts.length > 1;
  const port = await freePort(hosts, alternate ? 2 : 1);
  return launch(hosts, port, alternate, undefined, ['--stun-only', ...(alternate ? [`--alt-listening-port=${port + 1}`] : [])]);
}

async function launch(hosts: string[], port: number, alternate: boolean, tls: (CoturnTls & { port: number }) | undefined, modeArgs: string[]): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), 'ntcp-coturn-'));
  const tlsArgs = tls ? [`--tls-listening-port=${tls.port}`, `--cert=${tls.cert}`, `--pkey=${tls.key}`] : ['--no-tls'];
  const args = [
    '-n', ...hosts.map((host) => `--listening-ip=${host}`), `--listening-port=${port}`,
    ...tlsArgs, '--no-dtls', '--no-cli', '--log-file=stdout', '--simple-log',
    `--pidfile=${join(dir, 'pid')}`, `--userdb=${join(dir, 'turndb')}`, ...modeArgs,
  ];
  // setpriv (util-linux) execs turnserver with a parent-death signal: a test process killed by a
  // signal (a runner's timeout) runs no 'exit' handler, and coturn would outlive it.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', 'turnserver', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  // A test process that exits without reaching its finally must not leave coturn running.
  const killOnExit = (): void => {
    if (child.pid !== undefined && running()) process.kill(child.pid, 'SIGKILL');
  };
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (child.pid !== undefined && running()) {
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(killOnExit, STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const endpoints = hosts.flatMap((host) => (alternate ? [port, port + 1] : [port]).map((p) => ({ host, port: p })));
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const endpoint of endpoints) await waitReady(endpoint, deadline, running);
    if (tls) await waitTcpReady({ host: hosts[0]!, port: tls.port }, deadline, running);
  } catch (error) {
    await stop();
    throw new Error(`turnserver did not come up (${args.join(' ')}):\n${output}`, { cause: error });
  }
  const logLines = async (pattern: RegExp, atLeast: number, timeoutMs = LOG_WAIT_MS): Promise<number> => {
    const count = (): number => output.split('\n').filter((line) => pattern.test(line)).length;
    for (const deadline = Date.now() + timeoutMs; count() < atLeast && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return count();
  };
  return { host: hosts[0]!, port, ...(tls ? { tlsPort: tls.port } : {}), pid: child.pid, log: () => output, logLines, stop };
}

/** coturn has no readiness signal: ask until it answers, over UDP and TCP. */
async function waitReady(endpoint: { host: string; port: number }, deadline: number, running: () => boolean): Promise<void> {
  let udpReady = false;
  for (;;) {
    if (!running()) throw new Error('turnserver exited early');
    if (!udpReady) udpReady = await udpBinding({ server: endpoint, rtoMs: 50, rc: 2, rm: 2 }).then(() => true, () => false);
    if (udpReady && (await tcpAccepts(endpoint))) return;
    if (Date.now() > deadline) throw new Error(`no answer from ${endpoint.host}:${endpoint.port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitTcpReady(endpoint: { host: string; port: number }, deadline: number, running: () => boolean): Promise<void> {
  while (!(await tcpAccepts(endpoint))) {
    if (!running()) throw new Error('turnserver exited early');
    if (Date.now() > deadline) throw new Error(`no TLS listener on ${endpoint.host}:${endpoint.port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function tcpAccepts(endpoint: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(endpoint.port, endpoint.host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
