/**
 * Runs the NAT-pair matrix: one lab with every selected site, `ntcp server` on its server host,
 * then the pairs through a bounded pool in which each site serves one pair at a time.
 */
import { mkdir } from 'node:fs/promises';
import { AbortedError } from '../../errors.js';
import { Lab } from '../lab.js';
import { CliProcess } from './cli-process.js';
import { onlyPairs, PairQueue, planMatrix, SitePool, variantByKey, type MatrixPair, type MatrixPlan, type MatrixSelection } from './plan.js';
import { REGISTER_TIMEOUT_MS, runPair, type PairResult, type RelayFlag } from './run-pair.js';

export interface MatrixOptions extends MatrixSelection {
  /** @default 'never' (the matrix proves direct paths) */
  relay?: RelayFlag;
  /** Pairs running at once (two node processes each). @default DEFAULT_CONCURRENCY */
  concurrency?: number;
  /** `ntcp connect --timeout`. @default DEFAULT_CONNECT_TIMEOUT_MS */
  connectTimeoutMs?: number;
  probeTimeoutMs?: number;
  tcpBytes?: number;
  udpLines?: number;
  /** argv that starts the CLI in a lab host. @default [process.execPath, 'dist/cli/main.js'] */
  cli?: readonly string[];
  signal?: AbortSignal;
  /** Write each CLI process's whole stderr under this directory (created). @default none */
  logDir?: string;
  /** Run only these pair ids (`tcp-plain-xf`, ...) of the selection. @default every pair */
  pairIds?: readonly string[];
  /** Called as each pair ends (progress output). */
  onResult?: (result: PairResult, done: number, total: number) => void;
}

/** Measured on 2 cores: more pairs at once slow registration (NAT discovery) more than they save. */
export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Every variant at once is ~200 namespaces: minutes on a loaded machine, not the lab's 30 s default. */
const LAB_BUILD_TIMEOUT_MS = 180_000;
/** Share of UDP lines that must arrive over a lossy link (1 on the others). */
export const LOSSY_UDP_MIN_DELIVERED = 0.5;

export interface MatrixRun {
  startedAt: string;
  wallMs: number;
  labBuildMs: number;
  relay: RelayFlag;
  concurrency: number;
  connectTimeoutMs: number;
  results: PairResult[];
}

async function startServer(lab: Lab, cli: readonly string[]): Promise<{ process: CliProcess; address: string }> {
  const [primary, alternate] = lab.serverAddresses;
  const server = new CliProcess(lab.spawn('server', [...cli, 'server', '--host', primary!, '--alt-host', alternate!, '--json']), 'ntcp server');
  await server.until(() => server.stderrTail.find((line) => line.includes('"ready"')), 'ready', REGISTER_TIMEOUT_MS);
  return { process: server, address: primary! };
}

/** Builds the lab for `options`, runs every pair, tears the lab down. */
export async function runMatrix(options: MatrixOptions): Promise<MatrixRun> {
  const plan = options.pairIds ? onlyPairs(planMatrix(options), options.pairIds) : planMatrix(options);
  const lab = await Lab.create({ sites: plan.sites, timeoutMs: LAB_BUILD_TIMEOUT_MS, ...(options.signal ? { signal: options.signal } : {}) });
  try {
    return await runMatrixIn(lab, plan, options);
  } finally {
    await lab.destroy();
  }
}

/** Runs `plan`'s pairs in a lab built from `plan.sites` (the caller owns the lab). */
export async function runMatrixIn(lab: Lab, plan: MatrixPlan, options: MatrixOptions): Promise<MatrixRun> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const cli = options.cli ?? [process.execPath, 'dist/cli/main.js'];
  const relay = options.relay ?? 'never';
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (options.logDir) await mkdir(options.logDir, { recursive: true });
  const server = await startServer(lab, cli);
  const queue = new PairQueue(plan.pairs, new SitePool(plan.sitesFor));
  const results: PairResult[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const pump = (): void => {
        if (options.signal?.aborted) return reject(new AbortedError('matrix run aborted'));
        if (!server.process.running) return reject(new Error(`ntcp server exited: ${server.process.stderrTail.slice(-5).join('\n')}`));
        if (queue.finished) return resolve();
        while (queue.running < concurrency) {
          const next = queue.next();
          if (next === undefined) break;
          const { pair, sites } = next;
          void runPair(lab, pair, sites, {
            cli, server: server.address, relay, connectTimeoutMs,
            ...(options.probeTimeoutMs ? { probeTimeoutMs: options.probeTimeoutMs } : {}),
            ...(options.tcpBytes ? { tcpBytes: options.tcpBytes } : {}),
            ...(options.udpLines ? { udpLines: options.udpLines } : {}),
            ...(options.logDir ? { logDir: options.logDir } : {}),
            udpMinDelivered: variantByKey(pair.variant).lossPercent > 0 ? LOSSY_UDP_MIN_DELIVERED : 1,
          }).then((result) => {
            results.push(result);
            options.onResult?.(result, results.length, plan.pairs.length);
          }, reject).finally(() => {
            queue.done(pair, sites);
            pump();
          });
        }
      };
      pump();
    });
  } finally {
    server.process.kill();
  }
  const order = new Map<MatrixPair, number>(plan.pairs.map((pair, i) => [pair, i]));
  results.sort((x, y) => order.get(x.pair)! - order.get(y.pair)!);
  return {
    startedAt, wallMs: Math.round(performance.now() - started), labBuildMs: Math.round(lab.buildMs),
    relay, concurrency, connectTimeoutMs, results,
  };
}
