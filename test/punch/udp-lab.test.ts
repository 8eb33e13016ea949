import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Lab, labUnavailableReason, type SiteOptions } from '../../src/lab/index.js';
import { describeOutcome, runPair, startLabStun, type SideResult } from './fixtures/udp-harness.js';

// UDP hole punching against real kernel NATs. One lab for the whole file; the test process plays
// the broker (see fixtures/udp-harness.ts): each peer script binds, probes its mapping and NAT
// profile against our STUN server, and the test hands each side the other's candidates. All pairs
// run at once, each NAT in one pair only (a sequential NAT's port counter must not be shared).

const SITES: SiteOptions[] = [
  { name: 'pa', nat: 'port-restricted', hosts: 2 },
  { name: 'pb', nat: 'port-restricted', hosts: 2 },
  { name: 'sy', nat: 'symmetric' },
  { name: 'sz', nat: 'symmetric' },
  { name: 'sw', nat: 'symmetric' },
  { name: 'sq', nat: 'symmetric-seq:2' },
  { name: 'sr', nat: 'symmetric-seq:1' },
  { name: 'ss', nat: 'symmetric-seq:3' },
  { name: 'ln', nat: 'symmetric', hosts: 2 },
];

interface Pair {
  name: string;
  initiator: string;
  responder: string;
  /** The method both sides must report, or null when the punch must fail. */
  method: string | null;
}

const PAIRS: Pair[] = [
  { name: 'port-restricted <-> port-restricted', initiator: 'pa1', responder: 'pb1', method: 'udp-punch' },
  { name: 'port-restricted <-> symmetric (birthday)', initiator: 'pa2', responder: 'sy1', method: 'udp-birthday' },
  { name: 'symmetric-seq:2 <-> port-restricted', initiator: 'sq1', responder: 'pb2', method: 'udp-predict' },
  { name: 'symmetric-seq:1 <-> symmetric-seq:3', initiator: 'sr1', responder: 'ss1', method: 'udp-predict' },
  { name: 'same NAT (symmetric)', initiator: 'ln1', responder: 'ln2', method: 'lan' },
  { name: 'symmetric <-> symmetric', initiator: 'sz1', responder: 'sw1', method: null },
];

const PUNCH_TIMEOUT_MS = 8_000;
/** Slack for process scheduling on top of the punch timeout when checking a failure's timing. */
const FAILURE_SLACK_MS = 1_000;

const unavailable = labUnavailableReason();
let lab: Lab | undefined;
const results = new Map<string, Promise<[SideResult, SideResult]>>();

before(async () => {
  if (unavailable) return;
  lab = await Lab.create({ sites: SITES });
  await startLabStun(lab);
  for (const pair of PAIRS) results.set(pair.name, runPair(lab, pair.initiator, pair.responder, PUNCH_TIMEOUT_MS));
  const settled = await Promise.allSettled(results.values());
  const rows = PAIRS.map((pair, i) => {
    const outcome = settled[i]!;
    const what = outcome.status === 'fulfilled' ? describeOutcome(outcome.value) : `harness error: ${String(outcome.reason).split('\n')[0]}`;
    return `  ${pair.name.padEnd(42)} ${what}`;
  });
  process.stdout.write(`UDP punch in the lab (initiator / responder, ms from the synchronised start):\n${rows.join('\n')}\n`);
});

after(async () => {
  await lab?.destroy();
});

const site = (host: string) => host.replace(/[0-9]+$/, '');

for (const pair of PAIRS) {
  const title = pair.method
    ? `${pair.name}: both sides connect by ${pair.method} and exchange verified datagrams both ways`
    : `${pair.name}: both sides fail with ERR_PUNCH_FAILED (no path) within the timeout`;
  test(title, async (t) => {
    if (unavailable) return t.skip(`needs root: ${unavailable}`);
    const [initiator, responder] = await results.get(pair.name)!;
    if (pair.method === null) {
      for (const side of [initiator, responder]) {
        assert.equal(side.outcome.event, 'error', JSON.stringify(side.outcome));
        assert.equal(side.outcome.code, 'ERR_PUNCH_FAILED');
        assert.equal(side.outcome.reason, 'no-path');
        assert.ok(side.outcome.elapsedMs < PUNCH_TIMEOUT_MS + FAILURE_SLACK_MS, `failed after ${side.outcome.elapsedMs} ms`);
      }
      return;
    }
    for (const side of [initiator, responder]) {
      assert.equal(side.outcome.event, 'connected', JSON.stringify(side.outcome));
      assert.equal(side.outcome.method, pair.method);
    }
    const expectedRemote = (host: string) => (pair.method === 'lan' ? lab!.address(host) : lab!.publicAddress(site(host)));
    assert.equal(initiator.outcome.remote.address, expectedRemote(pair.responder));
    assert.equal(responder.outcome.remote.address, expectedRemote(pair.initiator));
    assert.equal(initiator.message, 'hello from the responder');
    assert.equal(responder.message, 'hello from the initiator');
  });
}
