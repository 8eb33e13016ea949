/**
 * One matrix cell: `ntcp listen` in one lab host, `ntcp connect` in another (the built CLI, as a
 * user runs it), then data both ways with a check: TCP 1 MiB of random bytes each way compared by
 * SHA-256; UDP a set of self-checking lines each way, counted on arrival.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { NtcpError } from '../../errors.js';
import type { Lab } from '../lab.js';
import { CliProcess, type CliEvent } from './cli-process.js';
import { NO_PATH_CODES } from './expectations.js';
import type { MatrixPair } from './plan.js';

export type RelayFlag = 'never' | 'auto' | 'force';

export interface PairRunOptions {
  /** argv that starts the CLI. @default [process.execPath, 'dist/cli/main.js'] */
  cli?: readonly string[];
  /** The broker (`HOST[:PORT]`) both sides register with. */
  server: string;
  /** `ntcp connect --relay` (the listening side follows the dialler's choice). */
  relay: RelayFlag;
  /** `--timeout` of `ntcp connect`. */
  connectTimeoutMs: number;
  /** `--probe-timeout` of both sides (NAT discovery at registration). */
  probeTimeoutMs?: number;
  /** Bytes sent each way over TCP. @default TCP_PAYLOAD_BYTES */
  tcpBytes?: number;
  /** Lines sent each way over UDP. @default UDP_LINES */
  udpLines?: number;
  /** Share of UDP lines that must arrive (1 on unshaped links). */
  udpMinDelivered: number;
  /** A directory (existing) for each side's whole stderr, `<pair id>-connect.log` / `-listen.log`. @default none */
  logDir?: string;
}

export const TCP_PAYLOAD_BYTES = 1024 * 1024;
export const UDP_LINES = 64;
/** Each UDP line: `side:index:digest` padded with dots, so lines cross datagram boundaries too. */
const UDP_LINE_BYTES = 200;
/** Registration runs NAT discovery: generous on a loaded 2-core machine. */
export const REGISTER_TIMEOUT_MS = 30_000;
/** After both sides connected: the data exchange and the exits. */
export const TRANSFER_TIMEOUT_MS = 30_000;
/** UDP: how long to wait for every line before ending the session anyway (loss is possible). */
const UDP_SETTLE_MS = 3_000;
/** Room over `--timeout` for the connect side to report its failure. */
const FAILURE_GRACE_MS = 5_000;

export interface PairResult {
  pair: MatrixPair;
  /** Lab hosts: [connect side, listen side]. */
  hosts: [string, string];
  connected: boolean;
  /** Everything held: connected with verified data, or (no direct path, relay off) a typed failure. */
  asExpected: boolean;
  method?: string;
  /** From the connect call to the verified connection, as `ntcp connect` reports it. */
  elapsedMs?: number;
  /** The listen side's view of the method (must agree). */
  listenMethod?: string;
  /** Engine attempts, when the CLI reports them. */
  attempts?: number;
  /** Error code when the pair failed (the CLI's, or ERR_HARNESS_* when the run itself broke). */
  code?: string;
  message?: string;
  /** Connect side: from registration to its error event. */
  failedAfterMs?: number;
  dataOk?: boolean;
  dataNote?: string;
  exitCodes?: [number | null, number | null];
  wallMs: number;
  /** Last stderr lines of both sides when something was not as expected. */
  logs?: { connect: string[]; listen: string[] };
}

/** The UDP payload of one side: `count` self-checking lines. */
export function udpLines(side: string, count: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const head = `${side}:${i}:${createHash('sha256').update(`${side}:${i}`).digest('hex').slice(0, 16)}:`;
    lines.push(head.padEnd(UDP_LINE_BYTES - 1, '.'));
  }
  return Buffer.from(lines.join('\n') + '\n');
}

/** Lines of `side` that arrived intact in `received` (a lost datagram breaks only its lines). */
export function countIntactLines(received: Buffer, side: string, count: number): number {
  const expected = new Set(udpLines(side, count).toString().split('\n').filter(Boolean));
  const seen = new Set(received.toString().split('\n').filter((line) => expected.has(line)));
  return seen.size;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof NtcpError) return { code: `ERR_HARNESS_${error.code.replace(/^ERR_/, '')}`, message: error.message };
  return { code: 'ERR_HARNESS', message: error instanceof Error ? error.message : String(error) };
}

export async function runPair(lab: Lab, pair: MatrixPair, sites: readonly string[], options: PairRunOptions): Promise<PairResult> {
  const started = performance.now();
  const [connectSite, listenSite] = pair.sameNat ? [sites[0]!, sites[0]!] : [sites[0]!, sites[1]!];
  const hosts: [string, string] = [`${connectSite}1`, pair.sameNat ? `${listenSite}2` : `${listenSite}1`];
  const cli = options.cli ?? [process.execPath, 'dist/cli/main.js'];
  const common = ['--server', options.server, '--json', ...(pair.transport === 'udp' ? ['--udp'] : []),
    ...(options.probeTimeoutMs ? ['--probe-timeout', String(options.probeTimeoutMs)] : [])];
  const listenId = `L-${pair.id}-${process.pid}`;
  const keep = pair.transport === 'udp';
  const logged = (child: ChildProcess, side: string): ChildProcess => {
    if (options.logDir) child.stderr!.pipe(createWriteStream(join(options.logDir, `${pair.id}-${side}.log`)));
    return child;
  };
  const listener = new CliProcess(logged(lab.spawn(hosts[1], [...cli, 'listen', '--id', listenId, ...common]), 'listen'), `${hosts[1]} listen`, keep);
  let dialler: CliProcess | undefined;
  const result = (fields: Omit<PairResult, 'pair' | 'hosts' | 'wallMs' | 'asExpected'> & { asExpected?: boolean }): PairResult => {
    const outcome: PairResult = { pair, hosts, asExpected: false, ...fields, wallMs: Math.round(performance.now() - started) };
    outcome.asExpected = fields.asExpected ?? judge(outcome, options.relay);
    if (!outcome.asExpected) outcome.logs = { connect: [...(dialler?.stderrTail ?? [])], listen: [...listener.stderrTail] };
    return outcome;
  };
  try {
    await listener.waitForEvent(['listening'], REGISTER_TIMEOUT_MS);
    dialler = new CliProcess(
      logged(lab.spawn(hosts[0], [...cli, 'connect', listenId, '--id', `C-${pair.id}-${process.pid}`, '--timeout', String(options.connectTimeoutMs), '--relay', options.relay, ...common]), 'connect'),
      `${hosts[0]} connect`, keep,
    );
    const registered = await dialler.waitForEvent(['registered', 'error'], REGISTER_TIMEOUT_MS);
    if (registered.event === 'error') return result({ connected: false, code: `ERR_HARNESS_REGISTER`, message: String(registered.message) });
    const registeredAt = performance.now();
    const outcome = await dialler.waitForEvent(['connected', 'error'], options.connectTimeoutMs + FAILURE_GRACE_MS);
    if (outcome.event === 'error') {
      const exit = await dialler.exit(FAILURE_GRACE_MS);
      return result({
        connected: false, code: String(outcome.code), message: String(outcome.message),
        failedAfterMs: Math.round(performance.now() - registeredAt), exitCodes: [exit, null],
      });
    }
    const accepted = await listener.waitForEvent(['connected'], FAILURE_GRACE_MS);
    const connected = connectedFields(outcome, accepted);
    const data = pair.transport === 'tcp'
      ? await exchangeTcp(dialler, listener, options.tcpBytes ?? TCP_PAYLOAD_BYTES)
      : await exchangeUdp(dialler, listener, options.udpLines ?? UDP_LINES, options.udpMinDelivered);
    return result({ connected: true, ...connected, ...data });
  } catch (error) {
    return result({ connected: dialler?.events.some((event) => event.event === 'connected') ?? false, ...describeError(error) });
  } finally {
    dialler?.kill();
    listener.kill();
  }
}

/** Whether a pair's outcome is what its expectation and the relay mode call for. */
export function judge(result: Omit<PairResult, 'asExpected'>, relay: RelayFlag): boolean {
  const delivered = result.connected && result.dataOk === true && result.exitCodes?.[0] === 0 && result.exitCodes?.[1] === 0;
  const cleanFailure = !result.connected && result.code !== undefined && NO_PATH_CODES.includes(result.code);
  const relayed = result.method === 'relay' || result.method === 'turn';
  if (relay === 'force') return delivered && relayed;
  if (relay === 'auto') return delivered && (result.pair.expect !== 'direct' || !relayed);
  // Behind one NAT the private path must win (XSTUNT's ERR_SAME_NAT case, done for the user).
  if (result.pair.sameNat && result.pair.connect !== 'none') return delivered && result.method === 'lan';
  if (result.pair.expect === 'direct') return delivered && !relayed;
  if (result.pair.expect === 'birthday') return (delivered && !relayed) || cleanFailure;
  return cleanFailure;
}

function connectedFields(outcome: CliEvent, accepted: CliEvent): Pick<PairResult, 'method' | 'elapsedMs' | 'listenMethod' | 'attempts'> {
  const fields: Pick<PairResult, 'method' | 'elapsedMs' | 'listenMethod' | 'attempts'> = {
    method: String(outcome.method), listenMethod: String(accepted.method),
  };
  const elapsedMs = num(outcome.elapsedMs);
  const attempts = num(outcome.attempts);
  if (elapsedMs !== undefined) fields.elapsedMs = Math.round(elapsedMs);
  if (attempts !== undefined) fields.attempts = attempts;
  return fields;
}

type DataFields = Pick<PairResult, 'dataOk' | 'dataNote' | 'exitCodes'>;

async function exchangeTcp(dialler: CliProcess, listener: CliProcess, bytes: number): Promise<DataFields> {
  const up = randomBytes(bytes);
  const down = randomBytes(bytes);
  const digest = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
  // End of stdin half-closes each side; both exit once both directions are done.
  dialler.child.stdin!.end(up);
  listener.child.stdin!.end(down);
  const exitCodes = await Promise.all([dialler.exit(TRANSFER_TIMEOUT_MS), listener.exit(TRANSFER_TIMEOUT_MS)]);
  const upOk = listener.stdoutBytes === bytes && listener.sha256() === digest(up);
  const downOk = dialler.stdoutBytes === bytes && dialler.sha256() === digest(down);
  return {
    dataOk: upOk && downOk,
    dataNote: `${dialler.stdoutBytes}/${bytes} B in at connect side${downOk ? '' : ' (MISMATCH)'}, ${listener.stdoutBytes}/${bytes} B in at listen side${upOk ? '' : ' (MISMATCH)'}`,
    exitCodes: exitCodes as [number | null, number | null],
  };
}

async function exchangeUdp(dialler: CliProcess, listener: CliProcess, lines: number, minShare: number): Promise<DataFields> {
  dialler.child.stdin!.write(udpLines('c', lines));
  listener.child.stdin!.write(udpLines('l', lines));
  const counts = (): [number, number] => [countIntactLines(dialler.stdout(), 'l', lines), countIntactLines(listener.stdout(), 'c', lines)];
  // Not every line may come (a lossy link): the counts below say how many did.
  await dialler.until(() => (counts().every((n) => n === lines) ? true : undefined), 'every line', UDP_SETTLE_MS)
    .catch((error: unknown) => dialler.stderrTail.push(`(matrix: ${(error as Error).message})`));
  // End of the connect side's stdin ends the session for both sides (after a short linger).
  dialler.child.stdin!.end();
  const exitCodes = await Promise.all([dialler.exit(TRANSFER_TIMEOUT_MS), listener.exit(TRANSFER_TIMEOUT_MS)]);
  const [atDialler, atListener] = counts();
  const needed = Math.ceil(lines * minShare);
  return {
    dataOk: atDialler >= needed && atListener >= needed,
    dataNote: `${atDialler}/${lines} lines in at connect side, ${atListener}/${lines} at listen side (need ${needed})`,
    exitCodes: exitCodes as [number | null, number | null],
  };
}
