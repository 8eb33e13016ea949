import type { ProbeObservation } from './profile.js';

/**
 * Test I listens at least this long before its silence may read as "UDP blocked": a busy host or
 * a loaded path can leave one answer out for a second (seen at load ~19 in the lab matrix), while
 * a site that blocks UDP stays silent however long we ask. Matches the peer's own binding (3 s).
 */
export const UDP_BLOCKED_SILENCE_MS = 3_000;
/** Test I's first retransmission: several requests fit in the silence window (0, 250, 750, 1750 ms). */
export const UDP_TEST_I_RTO_MS = 250;

/**
 * Test I's deadline runs this much past the silence window, so a run that waited it out always
 * measures at least the window: its timer counts from the event loop's cached time, which under
 * load can be a few hundred ms older than the run's own start stamp (CI: a blocked site read as
 * 'unknown' after a run measured itself short of 3 s).
 */
export const UDP_TEST_I_MARGIN_MS = 500;

/** One test I run: what it observed and how long it actually listened. */
export interface TestIRun {
  outcome: ProbeObservation['outcome'];
  listenedMs: number;
}

/**
 * 'blocked' needs strong evidence: every test I run got no answer at all (no error) and each
 * listened for the whole silence window. 'answered' when any run got a response; anything else
 * (an error, a run cut short) is 'inconclusive', which must not be reported as blocked.
 */
export function testIVerdict(runs: readonly TestIRun[], minSilenceMs: number = UDP_BLOCKED_SILENCE_MS): 'answered' | 'blocked' | 'inconclusive' {
  if (runs.some((run) => run.outcome === 'response')) return 'answered';
  if (runs.length > 0 && runs.every((run) => run.outcome === 'no-response' && run.listenedMs >= minSilenceMs)) return 'blocked';
  return 'inconclusive';
}
