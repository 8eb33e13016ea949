import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Lab, labUnavailableReason, type SiteOptions } from '../../src/lab/index.js';
import { Lines, tsx, type PeerEvent } from './fixtures/peer-lines.js';
import { BIRTHDAY_PROBES } from '../../src/punch/tcp/punch-tcp.js';

// TCP hole punching against real kernel NATs, one lab for the file. The test process plays the
// broker: each peer script (fixtures/tcp-peer.ts) probes the mapping of a fresh port and its NAT
// profile against our STUN server, the test hands each side the other's candidates, a secret and
// a start time, and relays their signals; then both sides send 1 MiB and compare checksums.
// Pairs run in waves; a sequential NAT is in one pair per wave (its port counter is shared).

/** Round trip added by the upstream link of the two RST-answering sites paired with each other. */
const RST_SITE_RTT_MS = 10;

const SITES: SiteOptions[] = [
  { name: 'pa', nat: 'port-restricted', hosts: 2 },
  { name: 'pb', nat: 'port-restricted', hosts: 3 },
  { name: 'fc', nat: 'full-cone', hosts: 2 },
  // With no delay at all, two RST-answering NATs let a connection through only when both SYNs are
  // in flight at once (a window of tens of microseconds); any real path has more. See the report.
  { name: 'ra', nat: { preset: 'port-restricted', inboundSyn: 'rst' }, delayMs: RST_SITE_RTT_MS },
  { name: 'rb', nat: { preset: 'port-restricted', inboundSyn: 'rst' }, delayMs: RST_SITE_RTT_MS },
  { name: 'rd', nat: { preset: 'port-restricted', inboundSyn: 'rst' } },
  { name: 'sqa', nat: 'symmetric-seq:1' },
  { name: 'sqb', nat: 'symmetric-seq:2' },
  { name: 'sy', nat: 'symmetric' },
  { name: 'sz', nat: 'symmetric' },
  { name: 'ln', nat: 'port-restricted', hosts: 2 },
  { name: 'rc', nat: 'restricted-cone' },
  { name: 'pub', nat: 'none', hosts: 2 },
];

interface Pair {
  name: string;
  initiator: string;
  responder: string;
  /** Methods either side may report, or null when the punch must fail. */
  methods: string[] | null;
  wave: number;
  /**
   * A birthday attempt succeeds with p ~ 0.87 (256 holes x 512 probes): it may also end, by design,
   * in ERR_PUNCH_FAILED 'exhausted' once its whole bounded volley was sent.
   */
  bounded?: boolean;
}

const PAIRS: Pair[] = [
  { name: 'port-restricted -> port-restricted', initiator: 'pa1', responder: 'pb1', methods: ['tcp-simultaneous-open'], wave: 1 },
  { name: 'full-cone -> port-restricted', initiator: 'fc1', responder: 'pa2', methods: ['tcp-simultaneous-open'], wave: 1 },
  { name: 'port-restricted -> full-cone', initiator: 'pb2', responder: 'fc2', methods: ['tcp-simultaneous-open'], wave: 1 },
  { name: 'symmetric-seq:1 -> port-restricted', initiator: 'sqa1', responder: 'pb3', methods: ['tcp-predict'], wave: 1 },
  { name: 'port-restricted -> symmetric-seq:2', initiator: 'pb1', responder: 'sqb1', methods: ['tcp-predict'], wave: 1 },
  { name: 'same NAT (lan)', initiator: 'ln1', responder: 'ln2', methods: ['lan'], wave: 1 },
  { name: 'port-restricted -> symmetric (birthday)', initiator: 'pb2', responder: 'sy1', methods: ['tcp-predict'], wave: 1, bounded: true },
  { name: 'symmetric -> port-restricted (birthday)', initiator: 'sz1', responder: 'pa2', methods: ['tcp-predict'], wave: 1, bounded: true },
  { name: 'public -> port-restricted', initiator: 'pub1', responder: 'pb1', methods: ['tcp-reversal'], wave: 2 },
  { name: 'port-restricted -> public', initiator: 'pa1', responder: 'pub2', methods: ['tcp-direct'], wave: 2 },
  { name: 'symmetric-seq:2 -> port-restricted', initiator: 'sqb1', responder: 'pa2', methods: ['tcp-predict'], wave: 2 },
  { name: 'symmetric -> symmetric', initiator: 'sy1', responder: 'sz1', methods: null, wave: 2 },
  { name: 'symmetric-seq:1 -> symmetric-seq:2', initiator: 'sqa1', responder: 'sqb1', methods: ['tcp-predict'], wave: 3 },
  { name: `port-restricted RST -> port-restricted RST (+${RST_SITE_RTT_MS} ms RTT each)`, initiator: 'ra1', responder: 'rb1', methods: ['tcp-simultaneous-open', 'tcp-stunt2'], wave: 3 },
  { name: 'port-restricted -> port-restricted RST', initiator: 'pa1', responder: 'rd1', methods: ['tcp-simultaneous-open', 'tcp-stunt2'], wave: 3 },
  { name: 'symmetric -> full-cone', initiator: 'sy1', responder: 'fc1', methods: ['tcp-stunt2'], wave: 3 },
  { name: 'restricted-cone -> symmetric', initiator: 'rc1', responder: 'sz1', methods: ['tcp-stunt2'], wave: 3 },
];

/** Runs only the pairs whose name matches, e.g. NTCP_TCP_LAB_PAIRS='RST' (for working on one case). */
const ONLY = process.env.NTCP_TCP_LAB_PAIRS ? new RegExp(process.env.NTCP_TCP_LAB_PAIRS) : undefined;
const SELECTED = PAIRS.filter((pair) => !ONLY || ONLY.test(pair.name));
const STUN_PORT = 3478;
const PUNCH_TIMEOUT_MS = 12_000;
/** Lead time from the broker's go to the synchronised start (covers stdin delivery). */
const START_IN_MS = 300;
/** Slack for process scheduling on top of the punch timeout when checking a failure's timing. */
const FAILURE_SLACK_MS = 1_500;
const PEER_DEADLINE_MS = 45_000;
const TRANSFER_BYTES = 1024 * 1024;

async function runPair(lab: Lab, pair: Pair): Promise<[PeerEvent, PeerEvent]> {
  const [server] = lab.serverAddresses;
  const sides = [pair.initiator, pair.responder].map((host) => new Lines(lab.spawn(host, tsx('tcp-peer.ts', server!, String(STUN_PORT))), host, PEER_DEADLINE_MS));
  try {
    const ready = await Promise.all(sides.map((side) => side.next(['ready'])));
    const secret = randomBytes(32).toString('hex');
    const connectionId = `lab-${pair.initiator}-${pair.responder}-${randomBytes(4).toString('hex')}`;
    const startHrtime = String(process.hrtime.bigint() + BigInt(START_IN_MS) * 1_000_000n);
    (['initiator', 'responder'] as const).forEach((role, i) => {
      const other = ready[1 - i]!;
      sides[i]!.write({ event: 'peer', role, connectionId, secret, startHrtime, timeoutMs: PUNCH_TIMEOUT_MS, candidates: other.candidates, profile: other.profile });
    });
    const relay = (from: number) => (event: PeerEvent) => {
      if (event.event === 'signal') sides[1 - from]!.write(event);
    };
    const outcomes = await Promise.all(sides.map((side, i) => side.next(['done', 'error'], relay(i))));
    return [outcomes[0]!, outcomes[1]!];
  } finally {
    for (const side of sides) side.child.kill();
  }
}

function describe([a, b]: [PeerEvent, PeerEvent]): string {
  const side = (e: PeerEvent) => (e.event === 'done' ? `${e.method} (${e.attempts} SYNs)` : `${e.code} ${e.reason}`);
  return `${side(a).padEnd(34)} ${side(b).padEnd(34)} ${a.elapsedMs} / ${b.elapsedMs} ms`;
}

const unavailable = labUnavailableReason();
let lab: Lab | undefined;
const results = new Map<string, PromiseSettledResult<[PeerEvent, PeerEvent]>>();

before(async () => {
  if (unavailable) return;
  lab = await Lab.create({ sites: SITES });
  const [primary, alternate] = lab.serverAddresses;
  await new Lines(lab.spawn('server', tsx('tcp-stun-server.ts', primary!, alternate!)), 'server').next(['ready']);
  const waves = [...new Set(SELECTED.map((pair) => pair.wave))];
  for (const wave of waves) {
    const inWave = SELECTED.filter((pair) => pair.wave === wave);
    const settled = await Promise.allSettled(inWave.map((pair) => runPair(lab!, pair)));
    inWave.forEach((pair, i) => results.set(pair.name, settled[i]!));
  }
  const rows = SELECTED.map((pair) => {
    const outcome = results.get(pair.name)!;
    const what = outcome.status === 'fulfilled' ? describe(outcome.value) : `harness error: ${String(outcome.reason).split('\n')[0]}`;
    return `  ${pair.name.padEnd(58)} ${what}`;
  });
  process.stdout.write(`TCP punch in the lab (pair: initiator / responder method, ms from the synchronised start to a verified socket):\n${rows.join('\n')}\n`);
});

after(async () => {
  await lab?.destroy();
});

for (const pair of SELECTED) {
  const title = pair.methods
    ? `${pair.name}: connects by ${pair.methods.join(' or ')} and moves 1 MiB each way intact${pair.bounded ? ', or exhausts its bounded volley' : ''}`
    : `${pair.name}: both sides fail with ERR_PUNCH_FAILED within the timeout`;
  test(title, async (t) => {
    if (unavailable) return t.skip(`needs root: ${unavailable}`);
    const outcome = results.get(pair.name)!;
    if (outcome.status === 'rejected') throw outcome.reason;
    const [initiator, responder] = outcome.value;
    if (pair.methods === null) {
      for (const side of [initiator, responder]) {
        assert.equal(side.event, 'error', JSON.stringify(side));
        assert.equal(side.code, 'ERR_PUNCH_FAILED');
        assert.ok(side.elapsedMs < PUNCH_TIMEOUT_MS + FAILURE_SLACK_MS, `failed after ${side.elapsedMs} ms`);
      }
      return;
    }
    if (pair.bounded && initiator.event === 'error') {
      for (const side of [initiator, responder]) {
        assert.equal(side.code, 'ERR_PUNCH_FAILED', JSON.stringify(side));
        assert.equal(side.reason, 'exhausted', JSON.stringify(side));
        assert.ok(side.elapsedMs < PUNCH_TIMEOUT_MS + FAILURE_SLACK_MS, `failed after ${side.elapsedMs} ms`);
      }
      const dials = (side: PeerEvent): number => (side.attempts as Array<{ dials: number }>).reduce((sum, attempt) => sum + attempt.dials, 0);
      // the side that probes sends its whole volley before giving up
      assert.ok(Math.max(dials(initiator), dials(responder)) >= BIRTHDAY_PROBES, `volleys ${dials(initiator)} / ${dials(responder)} SYNs`);
      return;
    }
    for (const side of [initiator, responder]) {
      assert.equal(side.event, 'done', JSON.stringify(side));
      assert.ok(pair.methods.includes(side.method), `method ${side.method}`);
      assert.equal(side.receivedBytes, TRANSFER_BYTES);
    }
    assert.equal(initiator.method, responder.method);
    assert.equal(responder.receivedSha, initiator.sentSha);
    assert.equal(initiator.receivedSha, responder.sentSha);
  });
}
