// `npm run bench:discovery`: how long a full NAT profile (UDP RFC 5780 + TCP fingerprint, run
// concurrently) takes from a host behind each lab preset, no delay configured. Reference, measured
// in the same run: the silence wait RFC 5780 forces on any NAT that filters (the probe timeout),
// and a single UDP Binding round trip. Target: < 2 s per profile.
import { Lab, labUnavailableReason, type NatPreset } from '../src/lab/index.js';
import { DEFAULT_DISCOVERY_TIMEOUT_MS } from '../src/discovery/index.js';

const PRESETS: Array<[string, NatPreset]> = [
  ['open', 'none'],
  ['full', 'full-cone'],
  ['restr', 'restricted-cone'],
  ['port', 'port-restricted'],
  ['sym', 'symmetric'],
  ['seqa', 'symmetric-seq:1'],
  ['seqb', 'symmetric-seq:2'],
];
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TARGET_MS = 2000;

const unavailable = labUnavailableReason();
if (unavailable) {
  console.error(`bench:discovery needs the NAT lab: ${unavailable}`);
  process.exit(1);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const lab = await Lab.create({ sites: PRESETS.map(([name, nat]) => ({ name, nat })) });
try {
  const [primary, alternate] = lab.addresses('server');
  const server = lab.spawn('server', [process.execPath, 'dist/cli/main.js', 'stun-server', '--host', primary!, '--alt-host', alternate!, '--rate', '100000'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    server.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve());
    server.once('exit', (code) => reject(new Error(`stun-server exited with ${code}`)));
  });
  console.log(`bench:discovery: ${RUNS} profile(s) per preset, sequential, probe timeout ${DEFAULT_DISCOVERY_TIMEOUT_MS} ms, lab built in ${Math.round(lab.buildMs)} ms`);
  console.log('preset            profile p50   max     Binding p50  profile/timeout  result');
  let worst = 0;
  for (const [name, preset] of PRESETS) {
    const result = await lab.exec(`${name}1`, [process.execPath, '--import', 'tsx', 'bench/discovery-agent.ts', primary!, '3478', String(RUNS)], { timeoutMs: 120_000 });
    if (result.code !== 0) throw new Error(`agent in ${name}1 failed: ${result.stderr}`);
    const { bindingMs, profileMs, summary } = JSON.parse(result.stdout) as { bindingMs: number[]; profileMs: number[]; summary: Record<string, unknown> };
    const p50 = median(profileMs);
    worst = Math.max(worst, ...profileMs);
    console.log(
      `${preset.padEnd(17)} ${`${p50} ms`.padStart(11)} ${`${Math.max(...profileMs)} ms`.padStart(8)} ${`${median(bindingMs).toFixed(2)} ms`.padStart(12)}  ${(p50 / DEFAULT_DISCOVERY_TIMEOUT_MS).toFixed(2).padStart(15)}  ${JSON.stringify(summary)}`,
    );
  }
  console.log(`slowest profile ${worst} ms: ${worst < TARGET_MS ? 'within' : 'OVER'} the ${TARGET_MS} ms target`);
} finally {
  await lab.destroy();
}
