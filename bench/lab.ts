/**
 * NAT lab build time: the default two-site topology (server, two port-restricted NAT routers,
 * one host each: 6 namespaces), built and destroyed RUNS times with `Lab.create`, next to a
 * reference measured in the same run: the same commands with one `ip` process per command (what
 * a naive script does). Then the same topology with shaped links (20 ms, forwarder start
 * included) and the RTT a host measures through it. Needs root. `npm run bench:lab [-- --runs 5]`.
 */
import { Lab, ProbeAgent, ECHO_PORTS, labUnavailableReason, randomPrefix } from '../src/lab/index.js';
import { buildScript, teardownBatch } from '../src/lab/build-script.js';
import { runScript, run } from '../src/lab/shell.js';
import { planLab } from '../src/lab/topology.js';

const runsArgument = process.argv.indexOf('--runs');
const RUNS = runsArgument === -1 ? 5 : Number(process.argv[runsArgument + 1]);
const DELAY_MS = 20;
const JITTER_MS = 10;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The build script with every `ip -batch` line turned into its own `ip` process. */
function oneProcessPerCommand(script: string): string {
  const out: string[] = [];
  let prefix: string | null = null;
  for (const line of script.split('\n')) {
    const batch = /^(?:\( )?ip (-n \S+ )?-batch - <<'NTCP_EOF'$/.exec(line);
    if (batch) {
      prefix = `ip ${batch[1] ?? ''}`;
      continue;
    }
    if (prefix !== null && line === 'NTCP_EOF') {
      prefix = null;
      continue;
    }
    if (prefix !== null) out.push(prefix + line);
    else if (line.startsWith(') & pids') || line.startsWith('pids=') || line.startsWith('for pid') || line.startsWith('[ -z')) continue;
    else out.push(line.replace(/^\( /, ''));
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const unavailable = labUnavailableReason();
  if (unavailable) {
    process.stderr.write(`bench:lab needs root: ${unavailable}\n`);
    process.exitCode = 1;
    return;
  }
  const build: number[] = [];
  const destroy: number[] = [];
  const naive: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const lab = await Lab.create();
    build.push(lab.buildMs);
    const started = performance.now();
    await lab.destroy();
    destroy.push(performance.now() - started);

    const plan = planLab(randomPrefix());
    const script = oneProcessPerCommand(buildScript(plan, { seed: 1 }));
    const naiveStarted = performance.now();
    try {
      await runScript('naive build', script);
      naive.push(performance.now() - naiveStarted);
    } finally {
      await run(['ip', '-force', '-batch', '-'], { input: teardownBatch(plan.hosts.map((host) => host.namespace)) });
    }
  }
  const ours = median(build);
  const reference = median(naive);
  process.stdout.write(`two-site lab (6 namespaces), median of ${RUNS}:\n`);
  process.stdout.write(`  Lab.create            ${ours.toFixed(1)} ms   (all: ${build.map((ms) => ms.toFixed(0)).join(', ')})\n`);
  process.stdout.write(`  lab.destroy           ${median(destroy).toFixed(1)} ms\n`);
  process.stdout.write(`  reference, one ip process per command: ${reference.toFixed(1)} ms  -> batching is ${(reference / ours).toFixed(2)}x faster\n`);

  await measureShaped(ours, { delayMs: DELAY_MS });
  await measureShaped(ours, { delayMs: DELAY_MS, jitterMs: JITTER_MS });
}

async function measureShaped(plainMs: number, shape: { delayMs: number; jitterMs?: number }): Promise<void> {
  const shaped = await Lab.create(shape);
  const agents = await Promise.all(['server', 'a1'].map((host) => ProbeAgent.start(shaped, host)));
  try {
    const [server, a1] = agents as [ProbeAgent, ProbeAgent];
    const target = { address: shaped.serverAddresses[0], port: ECHO_PORTS[0] };
    await server.request({ op: 'serve', endpoints: [target] });
    for (let attempt = 0; attempt < 10; attempt++) {
      const warm = await a1.request<{ rtts: number[] }>({ op: 'udp-rtt', target, count: 3, intervalMs: 10, timeoutMs: 300 });
      if (warm.rtts.length === 3) break;
    }
    const { rtts } = await a1.request<{ rtts: number[] }>({ op: 'udp-rtt', target, count: 50, intervalMs: 5, timeoutMs: 200 });
    const label = `delay ${shape.delayMs} ms${shape.jitterMs ? `, jitter ${shape.jitterMs} ms` : ''}`;
    process.stdout.write(`shaped two-site lab (${label}): built in ${shaped.buildMs.toFixed(1)} ms (${(shaped.buildMs / plainMs).toFixed(2)}x the plain lab)\n`);
    process.stdout.write(`  UDP echo a1 -> server: RTT median ${median(rtts).toFixed(2)} ms, min ${Math.min(...rtts).toFixed(2)}, max ${Math.max(...rtts).toFixed(2)}, ${rtts.length}/50 answered (median / configured ${(median(rtts) / shape.delayMs).toFixed(3)})\n`);
  } finally {
    await Promise.all(agents.map((agent) => agent.close()));
    await shaped.destroy();
  }
}

await main();
