/**
 * `npm run matrix [-- options]`: the NAT-pair matrix in the lab (needs root), printed as text and
 * written to matrix-results/ as JSON and HTML.
 *
 *   --transport tcp,udp        (default both)
 *   --variants plain,delay20,delay50,loss1   (default all)
 *   --presets none,full-cone,...             (default all; applies to every variant)
 *   --no-same-nat              skip the same-NAT column
 *   --pairs ID,...             only these cells of the selection (ids as in the output, e.g. tcp-plain-xf)
 *   --logs DIR                 each side's whole stderr as DIR/<pair id>-connect.log and -listen.log
 *   --relay never|auto|force   (default never)
 *   --concurrency N  --timeout MS  --probe-timeout MS  --out DIR
 *   --dist DIR                 the built CLI to run (default dist; a private build keeps a run
 *                              safe from a concurrent `npm run build` rewriting dist/)
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { labUnavailableReason } from '../shell.js';
import type { MatrixTransport } from './expectations.js';
import { MATRIX_PRESETS, MATRIX_VARIANTS, presetByKey, variantByKey } from './plan.js';
import { cellText, formatText } from './report.js';
import type { RelayFlag } from './run-pair.js';
import { DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT_MS, runMatrix } from './runner.js';
import { writeResults } from './write-results.js';

const { values } = parseArgs({
  options: {
    transport: { type: 'string', default: 'tcp,udp' },
    variants: { type: 'string', default: MATRIX_VARIANTS.map((v) => v.key).join(',') },
    presets: { type: 'string', default: MATRIX_PRESETS.map((p) => p.key).join(',') },
    'no-same-nat': { type: 'boolean', default: false },
    pairs: { type: 'string' },
    logs: { type: 'string' },
    relay: { type: 'string', default: 'never' },
    concurrency: { type: 'string', default: String(DEFAULT_CONCURRENCY) },
    timeout: { type: 'string', default: String(DEFAULT_CONNECT_TIMEOUT_MS) },
    'probe-timeout': { type: 'string' },
    out: { type: 'string', default: 'matrix-results' },
    dist: { type: 'string', default: 'dist' },
  },
});

const list = (text: string): string[] => text.split(',').map((s) => s.trim()).filter(Boolean);
const positive = (text: string, name: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return value;
};

const unavailable = labUnavailableReason();
if (unavailable) {
  process.stderr.write(`matrix: the NAT lab is unavailable: ${unavailable}\n`);
  process.exit(1);
}
const transports = list(values.transport!).map((t) => {
  if (t !== 'tcp' && t !== 'udp') throw new Error(`--transport takes tcp and/or udp, got ${t}`);
  return t as MatrixTransport;
});
const relay = values.relay as RelayFlag;
if (!['never', 'auto', 'force'].includes(relay)) throw new Error(`--relay must be never, auto or force, got ${relay}`);
const presets = list(values.presets!).map((key) => presetByKey(key).key);
const variants = list(values.variants!).map((key) => ({ variant: variantByKey(key).key, presets, sameNat: !values['no-same-nat'] }));

const run = await runMatrix({
  transports, variants, relay,
  cli: [process.execPath, join(values.dist!, 'cli', 'main.js')],
  ...(values.pairs ? { pairIds: list(values.pairs) } : {}),
  ...(values.logs ? { logDir: values.logs } : {}),
  concurrency: positive(values.concurrency!, 'concurrency'),
  connectTimeoutMs: positive(values.timeout!, 'timeout'),
  ...(values['probe-timeout'] ? { probeTimeoutMs: positive(values['probe-timeout'], 'probe-timeout') } : {}),
  onResult: (result, done, total) => {
    process.stderr.write(`[${done}/${total}] ${result.pair.id} ${result.hosts.join('->')}: ${cellText(result)} (${(result.wallMs / 1000).toFixed(1)} s)\n`);
  },
});
process.stdout.write(formatText(run) + '\n');
const stamp = run.startedAt.replace(/[:.]/g, '-');
const [json, html] = await writeResults(run, values.out!, `matrix-${transports.join('-')}-${relay}-${stamp}`);
await writeResults(run, values.out!, 'latest');
process.stdout.write(`written: ${json}, ${html} (and latest.json / latest.html)\n`);
process.exit(run.results.every((r) => r.asExpected) ? 0 : 1);
