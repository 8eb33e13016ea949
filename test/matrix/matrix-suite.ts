import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Lab, labUnavailableReason } from '../../src/lab/index.js';
import { formatText, planMatrix, runMatrixIn, type MatrixRun, type MatrixSelection, type PairResult } from '../../src/lab/matrix/index.js';

/** The whole run: about 1-3 minutes on 2 cores, more on a machine shared with other test runs. */
const RUN_TIMEOUT_MS = 600_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** A typed failure arrives within the timeout plus process and reporting overhead. */
const FAILURE_DEADLINE_MS = CONNECT_TIMEOUT_MS + 3_000;

function describeFailure(result: PairResult): string {
  const logs = result.logs ? `\nconnect side:\n${result.logs.connect.join('\n')}\nlisten side:\n${result.logs.listen.join('\n')}` : '';
  return `${result.hosts.join(' -> ')}: ${result.connected ? `connected by ${result.method}` : `${result.code}: ${result.message}`} ${result.dataNote ?? ''}${logs}`;
}

const TITLES = {
  direct: 'connects directly and moves the data each way intact',
  birthday: 'connects by a bounded birthday attempt or fails with ERR_PUNCH_FAILED',
  none: 'fails with ERR_PUNCH_FAILED or ERR_TIMEOUT within its timeout (no direct path, relay off)',
} as const;

/**
 * Registers one lab-backed matrix run (in `before`) and one test per pair asserting its
 * expectation; `note` is printed under the tables (what the run covers and what it leaves out).
 */
export function defineMatrixSuite(selection: MatrixSelection, note: string): void {
  const unavailable = labUnavailableReason();
  const plan = planMatrix(selection);
  let lab: Lab | undefined;
  let run: MatrixRun | undefined;

  before(async () => {
    if (unavailable) return;
    lab = await Lab.create({ sites: plan.sites, timeoutMs: 120_000 });
    const started = performance.now();
    run = await runMatrixIn(lab, plan, { ...selection, connectTimeoutMs: CONNECT_TIMEOUT_MS });
    process.stdout.write(`${formatText(run)}\nmatrix wall time ${((performance.now() - started) / 1000).toFixed(1)} s; ${note}\n`);
  }, { timeout: RUN_TIMEOUT_MS });

  after(async () => {
    await lab?.destroy();
  });

  for (const pair of plan.pairs) {
    test(`${pair.transport} ${pair.variant}: ${pair.connect} -> ${pair.listen}: ${TITLES[pair.expect]}`, (t) => {
      if (unavailable) return t.skip(`needs root: ${unavailable}`);
      const result = run?.results.find((r) => r.pair === pair);
      assert.ok(result, 'the pair did not run');
      assert.ok(result.asExpected, describeFailure(result));
      if (!result.connected) assert.ok(result.failedAfterMs! <= FAILURE_DEADLINE_MS, `failed after ${result.failedAfterMs} ms`);
      if (result.connected) assert.equal(result.listenMethod, result.method, 'both sides name the same method');
    });
  }
}
