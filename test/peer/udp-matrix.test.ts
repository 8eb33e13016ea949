import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Lab, labUnavailableReason, type NatPreset, type SiteOptions } from '../../src/lab/index.js';
import { NtcpProcess } from '../../src/cli/ntcp-process.js';

// The UDP matrix of issue 5, against real kernel NATs: for every pair of presets (and two hosts
// behind the same NAT), with and without 20 ms one-way delay, the built CLI runs `ntcp listen
// --udp` in one host and `ntcp connect --udp` in another; both exchange a line, then the dialler
// ends the session. One lab holds every site; pairs run concurrently in batches in which no NAT
// serves two pairs (a sequential NAT's port counter must not be disturbed by another pair).

const PRESETS: readonly NatPreset[] = ['none', 'full-cone', 'restricted-cone', 'port-restricted', 'symmetric', 'symmetric-seq:2'];
const LETTER: Record<string, string> = {
  none: 'n', 'full-cone': 'f', 'restricted-cone': 'r', 'port-restricted': 'p', symmetric: 's', 'symmetric-seq:2': 'q',
};
const DELAYS = [0, 20] as const;
/** Random mappings on one side and no endpoint-independent mapping on the other: no direct path. */
const RANDOM: ReadonlySet<NatPreset> = new Set(['symmetric']);
const HARD: ReadonlySet<NatPreset> = new Set(['symmetric', 'symmetric-seq:2']);

const CONNECT_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 600;
/** Registering (NAT discovery included) and each exchange step, on a loaded 2-core machine. */
const STEP_TIMEOUT_MS = 30_000;
/** Pairs running at once (two node processes each). */
const MAX_CONCURRENT_PAIRS = 14;

interface Pair {
  name: string;
  delayMs: number;
  initiator: string;
  responder: string;
  /** Sites whose NAT the pair uses (exclusive within a batch). */
  sites: string[];
  /** A direct path exists (it must connect); otherwise connect must fail with a typed error. */
  direct: boolean;
  /** Two hosts behind one NAT (not 'none': hosts there have public addresses of their own). */
  sameNat: boolean;
}

interface Outcome {
  connected: boolean;
  method?: string;
  elapsedMs?: number;
  code?: string;
  message?: string;
  failedAfterMs?: number;
  received?: [string, string];
  exitCodes?: Array<number | null>;
}

function siteName(preset: NatPreset, delayMs: number, slot: 'a' | 'b'): string {
  return `${LETTER[preset]}${delayMs === 0 ? 'z' : 'd'}${slot}`;
}

function directPathExists(a: NatPreset, b: NatPreset): boolean {
  if (!HARD.has(a) || !HARD.has(b)) return true;
  return !RANDOM.has(a) && !RANDOM.has(b);
}

/**
 * Two sites per preset and delay, three hosts each: host 1 serves pairs across NATs, hosts 2 and 3
 * the same-NAT pair. Each pair takes the least used sites, so batches stay few.
 */
function planMatrix(): { sites: SiteOptions[]; pairs: Pair[] } {
  const sites: SiteOptions[] = [];
  const pairs: Pair[] = [];
  const uses = new Map<string, number>();
  const load = (names: string[]): number[] => names.map((name) => uses.get(name) ?? 0).sort((x, y) => y - x);
  const cheaper = (x: string[], y: string[]): boolean => {
    const [lx, ly] = [load(x), load(y)];
    return lx[0]! < ly[0]! || (lx[0] === ly[0] && lx.reduce((a, b) => a + b, 0) < ly.reduce((a, b) => a + b, 0));
  };
  const take = (names: string[]): string[] => {
    names.forEach((name) => uses.set(name, (uses.get(name) ?? 0) + 1));
    return names;
  };
  for (const delayMs of DELAYS) {
    for (const preset of PRESETS) {
      for (const slot of ['a', 'b'] as const) {
        sites.push({ name: siteName(preset, delayMs, slot), nat: preset, hosts: 3, ...(delayMs ? { delayMs } : {}) });
      }
    }
    for (const [i, a] of PRESETS.entries()) {
      for (const b of PRESETS.slice(i)) {
        const options = (['a', 'b'] as const).flatMap((x) => (['a', 'b'] as const).map((y) => [siteName(a, delayMs, x), siteName(b, delayMs, y)]))
          .filter(([from, to]) => from !== to);
        const [from, to] = take(options.reduce((best, option) => (cheaper(option, best) ? option : best)));
        pairs.push({ name: `${a} -> ${b}, ${delayMs} ms`, delayMs, initiator: `${from}1`, responder: `${to}1`, sites: [from!, to!], direct: directPathExists(a, b), sameNat: false });
      }
    }
    for (const a of PRESETS) {
      const [site] = take([[siteName(a, delayMs, 'a')], [siteName(a, delayMs, 'b')]].reduce((best, option) => (cheaper(option, best) ? option : best)));
      pairs.push({ name: `${a} same NAT, ${delayMs} ms`, delayMs, initiator: `${site}2`, responder: `${site}3`, sites: [site!], direct: true, sameNat: a !== 'none' });
    }
  }
  return { sites, pairs };
}

/** Greedy batches: a site serves one pair at a time, at most MAX_CONCURRENT_PAIRS pairs at once. */
function batches(pairs: Pair[]): Pair[][] {
  const left = [...pairs];
  const result: Pair[][] = [];
  while (left.length > 0) {
    const busy = new Set<string>();
    const batch: Pair[] = [];
    for (const pair of [...left]) {
      if (batch.length >= MAX_CONCURRENT_PAIRS || pair.sites.some((site) => busy.has(site))) continue;
      pair.sites.forEach((site) => busy.add(site));
      batch.push(pair);
      left.splice(left.indexOf(pair), 1);
    }
    result.push(batch);
  }
  return result;
}

const CLI = 'dist/cli/main.js';

async function runPair(lab: Lab, pair: Pair, index: number): Promise<Outcome> {
  const [server] = lab.serverAddresses;
  const common = ['--server', server!, '--udp', '--json', '--probe-timeout', String(PROBE_TIMEOUT_MS)];
  const listenId = `listen-${index}`;
  const listener = new NtcpProcess(lab.spawn(pair.responder, [process.execPath, CLI, 'listen', '--id', listenId, ...common]), `${pair.responder} listen`);
  try {
    await listener.waitForEvent(['listening'], STEP_TIMEOUT_MS);
    const dialler = new NtcpProcess(
      lab.spawn(pair.initiator, [process.execPath, CLI, 'connect', listenId, '--id', `connect-${index}`, '--timeout', String(CONNECT_TIMEOUT_MS), '--relay', 'never', ...common]),
      `${pair.initiator} connect`,
    );
    await dialler.waitForEvent(['registered'], STEP_TIMEOUT_MS);
    const registeredAt = performance.now();
    const outcome = await dialler.waitForEvent(['connected', 'error'], CONNECT_TIMEOUT_MS + STEP_TIMEOUT_MS);
    if (outcome.event === 'error') {
      const failedAfterMs = Math.round(performance.now() - registeredAt);
      // What each side's discovery saw, for a failure report that says why.
      const nats = [dialler, listener].map((side) => JSON.stringify(side.events.find((event) => event.event === 'registered')?.nat));
      const message = `${String(outcome.message)} (NAT seen by connect: ${nats[0]}, by listen: ${nats[1]})`;
      return { connected: false, code: String(outcome.code), message, failedAfterMs, exitCodes: [await dialler.exited] };
    }
    await listener.waitForEvent(['connected'], STEP_TIMEOUT_MS);
    dialler.write(`from ${pair.initiator}\n`);
    listener.write(`from ${pair.responder}\n`);
    await Promise.all([listener.waitForOutput(`from ${pair.initiator}\n`, STEP_TIMEOUT_MS), dialler.waitForOutput(`from ${pair.responder}\n`, STEP_TIMEOUT_MS)]);
    dialler.endInput();
    const exitCodes = await Promise.all([dialler.exited, listener.exited]);
    return {
      connected: true, method: String(outcome.method), elapsedMs: Number(outcome.elapsedMs),
      received: [dialler.stdout, listener.stdout], exitCodes,
    };
  } finally {
    listener.child.kill();
  }
}

function formatMatrix(pairs: Pair[], outcomes: Map<Pair, PromiseSettledResult<Outcome>>): string {
  const cell = (pair: Pair | undefined): string => {
    const settled = pair && outcomes.get(pair);
    if (!settled) return '';
    if (settled.status === 'rejected') return 'ERROR';
    const outcome = settled.value;
    return outcome.connected ? `${outcome.method} ${outcome.elapsedMs}ms` : `${outcome.code} ${outcome.failedAfterMs}ms`;
  };
  const width = 22;
  const lines: string[] = [];
  for (const delayMs of DELAYS) {
    lines.push(`UDP, ${delayMs} ms one-way delay per site (row: connect side, column: listen side; time from connect() in the dialler)`);
    lines.push(['', ...PRESETS, 'same NAT'].map((text) => text.padEnd(width)).join(''));
    for (const [i, a] of PRESETS.entries()) {
      const row = PRESETS.map((b, j) => (j < i ? '' : cell(pairs.find((pair) => pair.delayMs === delayMs && pair.name === `${a} -> ${b}, ${delayMs} ms`))));
      row.push(cell(pairs.find((pair) => pair.delayMs === delayMs && pair.name === `${a} same NAT, ${delayMs} ms`)));
      lines.push([a, ...row].map((text) => text.padEnd(width)).join(''));
    }
    lines.push('');
  }
  return lines.join('\n');
}

const unavailable = labUnavailableReason();
const { sites, pairs } = planMatrix();
const outcomes = new Map<Pair, PromiseSettledResult<Outcome>>();
let lab: Lab | undefined;

before(async () => {
  if (unavailable) return;
  const started = performance.now();
  lab = await Lab.create({ sites });
  const [primary, alternate] = lab.serverAddresses;
  const server = new NtcpProcess(lab.spawn('server', [process.execPath, CLI, 'server', '--host', primary!, '--alt-host', alternate!, '--json']), 'server');
  await server.waitFor((event) => event.msg === 'ready', 'ready', STEP_TIMEOUT_MS);
  let index = 0;
  const planned = batches(pairs);
  for (const batch of planned) {
    const settled = await Promise.allSettled(batch.map((pair) => runPair(lab!, pair, index++)));
    batch.forEach((pair, i) => outcomes.set(pair, settled[i]!));
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${formatMatrix(pairs, outcomes)}${pairs.length} pairs in ${planned.length} batches, ${seconds} s (lab built in ${Math.round(lab.buildMs)} ms)\n`);
});

after(async () => {
  await lab?.destroy();
});

for (const pair of pairs) {
  const title = pair.direct
    ? `${pair.name}: connect and listen exchange lines both ways and exit 0`
    : `${pair.name}: connect fails with ERR_PUNCH_FAILED within its timeout (no direct path, relay off)`;
  test(title, (t) => {
    if (unavailable) return t.skip(`needs root: ${unavailable}`);
    const settled = outcomes.get(pair);
    assert.ok(settled, 'pair did not run');
    if (settled.status === 'rejected') throw settled.reason;
    const outcome = settled.value;
    if (!pair.direct) {
      assert.equal(outcome.connected, false, `expected no direct path, got ${outcome.method}`);
      assert.equal(outcome.code, 'ERR_PUNCH_FAILED', outcome.message);
      assert.ok(outcome.failedAfterMs! <= CONNECT_TIMEOUT_MS + 2000, `failed after ${outcome.failedAfterMs} ms`);
      assert.deepEqual(outcome.exitCodes, [1]);
      return;
    }
    assert.equal(outcome.connected, true, `${outcome.code}: ${outcome.message}`);
    assert.equal(outcome.received![0], `from ${pair.responder}\n`);
    assert.equal(outcome.received![1], `from ${pair.initiator}\n`);
    assert.deepEqual(outcome.exitCodes, [0, 0]);
    // Behind one NAT both the private addresses and a hairpin through the NAT (the lab's NATs
    // hairpin) are direct paths; the engine takes whichever verifies first.
    if (pair.sameNat) assert.ok(['lan', 'udp-punch'].includes(outcome.method!), `same NAT connected by ${outcome.method}`);
  });
}
