import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Lab, labUnavailableReason } from '../../src/lab/index.js';
import {
  formatText, planMatrix, runMatrixIn, type MatrixRun, type MatrixSelection, type PairResult,
} from '../../src/lab/matrix/index.js';

// Issue 6's matrix, against real kernel NATs: the built CLI runs `ntcp listen` in one lab host
// and `ntcp connect` in another for every ordered pair of presets (the RST-answering
// port-restricted NAT among them) and two hosts behind the same NAT, without link shaping; then
// 20 ms and 50 ms one-way delay and 1% loss for a representative subset (the full cross product
// of every variant, `npm run matrix`, takes several minutes). 1 MiB goes each way with a SHA-256
// check. Relay off: pairs without a direct path must fail with a typed error within the timeout.

const SHAPED_SUBSET = ['port-restricted', 'symmetric-seq:1', 'symmetric'];
const selection: MatrixSelection = {
  transports: ['tcp'],
  variants: [
    { variant: 'plain' },
    ...['delay20', 'delay50', 'loss1'].map((variant) => ({ variant, presets: SHAPED_SUBSET, sameNat: false })),
  ],
};
const CONNECT_TIMEOUT_MS = 10_000;
/** A typed failure arrives within the timeout plus process and reporting overhead. */
const FAILURE_DEADLINE_MS = CONNECT_TIMEOUT_MS + 3_000;

const unavailable = labUnavailableReason();
const plan = planMatrix(selection);
let lab: Lab | undefined;
let run: MatrixRun | undefined;

/** The whole run: about 1-3 minutes on 2 cores, more on a machine shared with other test runs. */
const RUN_TIMEOUT_MS = 600_000;

before(async () => {
  if (unavailable) return;
  lab = await Lab.create({ sites: plan.sites, timeoutMs: 120_000 });
  const started = performance.now();
  run = await runMatrixIn(lab, plan, { ...selection, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  process.stdout.write(`${formatText(run)}\nTCP matrix test wall time ${((performance.now() - started) / 1000).toFixed(1)} s; shaped variants (delay20, delay50, loss1) ran on the subset ${SHAPED_SUBSET.join(', ')} only; ` +
    `the full cross product of every variant: npm run matrix -- --transport tcp\n`);
}, { timeout: RUN_TIMEOUT_MS });

after(async () => {
  await lab?.destroy();
});

function describeFailure(result: PairResult): string {
  const logs = result.logs ? `\nconnect side:\n${result.logs.connect.join('\n')}\nlisten side:\n${result.logs.listen.join('\n')}` : '';
  return `${result.hosts.join(' -> ')}: ${result.connected ? `connected by ${result.method}` : `${result.code}: ${result.message}`} ${result.dataNote ?? ''}${logs}`;
}

const TITLES = {
  direct: 'connects directly and moves 1 MiB each way intact',
  birthday: 'connects by a bounded birthday attempt or fails with ERR_PUNCH_FAILED (TCP filtering unmeasured)',
  none: 'fails with ERR_PUNCH_FAILED or ERR_TIMEOUT within its timeout (no direct path, relay off)',
} as const;

for (const pair of plan.pairs) {
  test(`${pair.variant}: ${pair.connect} -> ${pair.listen}: ${TITLES[pair.expect]}`, (t) => {
    if (unavailable) return t.skip(`needs root: ${unavailable}`);
    const result = run?.results.find((r) => r.pair === pair);
    assert.ok(result, 'the pair did not run');
    assert.ok(result.asExpected, describeFailure(result));
    if (!result.connected) assert.ok(result.failedAfterMs! <= FAILURE_DEADLINE_MS, `failed after ${result.failedAfterMs} ms`);
    if (result.connected) assert.equal(result.listenMethod, result.method, 'both sides name the same method');
    if (result.connected && pair.listen === 'same-nat' && pair.connect !== 'none') assert.equal(result.method, 'lan');
  });
}
