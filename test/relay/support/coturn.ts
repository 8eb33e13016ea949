import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import net from 'node:net';

/** A coturn process on loopback, started with explicit flags only (no config file). */
export interface Coturn {
  host: string;
  port: number;
  /** Everything coturn printed, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export function coturnInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v turnserver'], { encoding: 'utf8' }).status === 0;
}

/** A port free for both TCP and UDP on 127.0.0.1 (coturn listens on both). */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as net.AddressInfo).port;
    const socket = dgram.createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    socket.close();
    await new Promise((resolve) => server.close(resolve));
    if (udpFree) return port;
  }
}

export type CoturnAuth = { user: string; password: string; realm: string } | { secret: string; realm: string };

export async function startCoturn(auth: CoturnAuth, extraArgs: string[] = [], relayPorts = 100): Promise<Coturn> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ntcp-coturn-'));
  // A relay port range of its own per instance, so parallel test files do not collide.
  const minPort = 20_000 + Math.floor(Math.random() * 400) * 100;
  const args = [
    '-n', '--listening-ip=127.0.0.1', `--listening-port=${port}`, '--relay-ip=127.0.0.1',
    `--min-port=${minPort}`, `--max-port=${minPort + relayPorts - 1}`, '--no-tls', '--no-dtls', '--no-cli',
    '--allow-loopback-peers', '--log-file=stdout', '--simple-log', `--pidfile=${join(dir, 'pid')}`,
    `--userdb=${join(dir, 'turndb')}`, `--realm=${auth.realm}`,
    ...('secret' in auth ? ['--use-auth-secret', `--static-auth-secret=${auth.secret}`] : ['--lt-cred-mech', `--user=${auth.user}:${auth.password}`]),
    ...extraArgs,
  ];
  const child: ChildProcess = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A test process that exits without reaching its finally must not leave coturn running.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 10_000;
    while (!output.includes('Total General servers')) {
      if (child.exitCode !== null) throw new Error(`turnserver exited early:\n${output}`);
      if (Date.now() > deadline) throw new Error(`turnserver did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitForTcp(port, deadline);
  } catch (error) {
    await stop();
    throw error;
  }
  return { host: '127.0.0.1', port, log: () => output, stop };
}

async function waitForTcp(port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('turnserver TCP listener not ready');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
