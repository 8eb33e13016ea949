import cluster from 'node:cluster';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors.js';
import { createLogger } from '../../observe/logger.js';
import { DEFAULT_STUN_ALT_PORT, DEFAULT_STUN_PORT, startStunServer } from '../../stun/index.js';
import { parsePort, parsePositiveInteger, parsePositiveNumber } from '../option-parsers.js';

interface Flags {
  host: string;
  altHost?: string;
  port: number;
  altPort: number;
  udp: boolean;
  tcp: boolean;
  json?: boolean;
  rate?: number;
  maxConnections?: number;
  idleTimeout?: number;
  username?: string;
  password?: string;
  workers?: number;
}

/** The primary of `--workers N`: forks the workers, relays the stop signal, waits for them. */
async function runPrimary(workers: number): Promise<void> {
  const exits: Array<Promise<unknown>> = [];
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork();
    exits.push(new Promise((resolve) => worker.once('exit', resolve)));
  }
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await Promise.all(exits);
}

/** `ntcp stun-server`: runs until SIGINT/SIGTERM, then prints its counters. */
export function register(program: Command): void {
  program
    .command('stun-server')
    .description('run a STUN server (full RFC 5780 with --alt-host)')
    .requiredOption('--host <ip>', 'primary address')
    .option('--alt-host <ip>', 'alternate address (enables RFC 5780 CHANGE-REQUEST / OTHER-ADDRESS)')
    .option('--port <n>', 'primary port', parsePort, DEFAULT_STUN_PORT)
    .option('--alt-port <n>', 'alternate port', parsePort, DEFAULT_STUN_ALT_PORT)
    .option('--no-udp', 'do not serve UDP')
    .option('--no-tcp', 'do not serve TCP')
    .option('--rate <n>', 'requests per second per source IP (default 200)', parsePositiveNumber)
    .option('--max-connections <n>', 'open TCP connections (default 1024)', parsePositiveInteger)
    .option('--idle-timeout <ms>', 'close idle TCP connections after (default 30000)', parsePositiveNumber)
    .option('--username <name>', 'require short-term credentials: username')
    .option('--password <secret>', 'require short-term credentials: password')
    .option('--workers <n>', 'worker processes sharing the sockets (node:cluster); counters are per worker', parsePositiveInteger)
    .option('--json', 'one JSON line per log event')
    .action(async (flags: Flags) => {
      if (flags.workers !== undefined && flags.workers > 1 && cluster.isPrimary) {
        await runPrimary(flags.workers);
        return;
      }
      const logger = createLogger({ json: flags.json, bindings: cluster.isWorker ? { worker: cluster.worker?.id } : undefined });
      if ((flags.username === undefined) !== (flags.password === undefined)) {
        throw new InvalidArgumentError('--username and --password go together');
      }
      const server = await startStunServer({
        host: flags.host,
        altHost: flags.altHost,
        port: flags.port,
        altPort: flags.altPort,
        udp: flags.udp,
        tcp: flags.tcp,
        credentials: flags.username !== undefined ? { username: flags.username, password: flags.password! } : undefined,
        limits: { ratePerSecond: flags.rate, maxTcpConnections: flags.maxConnections, tcpIdleTimeoutMs: flags.idleTimeout },
        logger,
        shareAcrossWorkers: cluster.isWorker,
      });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      logger.child({ component: 'stun-server' }).info({ counters: server.counters.snapshot() }, 'stopped');
      // a worker's IPC channel to the primary would keep it alive
      if (cluster.isWorker) cluster.worker?.disconnect();
    });
}
