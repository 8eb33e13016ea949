import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Lab, labUnavailableReason, type SiteOptions } from '../../src/lab/index.js';

// UDP hole punching against real kernel NATs. One lab for the whole file; the test process plays
// the broker: it starts a peer script on each host, hands each side the other's candidates and
// NAT profile (discovered by the peer itself), a shared secret and a start time, and relays the
// late candidates of prediction. All pairs run at once, on separate NATs where a NAT's port
// counter would otherwise be shared.

const SITES: SiteOptions[] = [
  { name: 'pa', nat: 'port-restricted', hosts: 2 },
  { name: 'pb', nat: 'port-restricted', hosts: 2 },
  { name: 'sy', nat: 'symmetric', hosts: 2 },
  { name: 'sz', nat: 'symmetric' },
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
  { name: 'symmetric <-> symmetric', initiator: 'sy2', responder: 'sz1', method: null },
];

const STUN_PORT = 3478;
/** Lead time from the broker's go to the first probes, as the broker's synchronised start gives. */
const START_IN_MS = 100;
const PUNCH_TIMEOUT_MS = 8_000;
/** Upper bound for a peer script's whole run (start, discovery, punch, exchange). */
const PEER_DEADLINE_MS = 30_000;

/** JSON lines from a child's stdout, awaited one event at a time. */
class Lines {
  readonly #queue: Record<string, any>[] = [];
  readonly #waiters: Array<() => void> = [];
  readonly log: string[] = [];

  constructor(readonly child: ChildProcess, readonly host: string) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.log.push(line);
      try {
        this.#queue.push(JSON.parse(line) as Record<string, any>);
      } catch {
        return; // a stray non-JSON line stays in `log` for the failure message
      }
      this.#waiters.splice(0).forEach((wake) => wake());
    });
    child.stderr!.on('data', (chunk: Buffer) => this.log.push(chunk.toString()));
    child.on('exit', () => this.#waiters.splice(0).forEach((wake) => wake()));
  }

  /** The next event whose name is one of `events` (others are dropped, except what `onOther` takes). */
  async next(events: string[], onOther?: (event: Record<string, any>) => void): Promise<Record<string, any>> {
    const deadline = Date.now() + PEER_DEADLINE_MS;
    for (;;) {
      while (this.#queue.length > 0) {
        const event = this.#queue.shift()!;
        if (events.includes(event.event)) return event;
        onOther?.(event);
      }
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`${this.host}: no ${events.join('/')} event; output:\n${this.log.join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 1000);
      });
    }
  }

  write(event: object): void {
    this.child.stdin!.write(JSON.stringify(event) + '\n');
  }
}

interface SideResult {
  outcome: Record<string, any>;
  message?: string;
}

const unavailable = labUnavailableReason();
let lab: Lab | undefined;
const results = new Map<string, Promise<SideResult[]>>();

async function runPair(activeLab: Lab, pair: Pair): Promise<SideResult[]> {
  const [server] = activeLab.serverAddresses;
  const spawnPeer = (host: string) =>
    new Lines(activeLab.spawn(host, [process.execPath, '--import', 'tsx', 'test/punch/fixtures/udp-peer.ts', server!, String(STUN_PORT)]), host);
  const sides = [spawnPeer(pair.initiator), spawnPeer(pair.responder)] as const;
  const ready = await Promise.all(sides.map((side) => side.next(['ready'])));
  const secret = randomBytes(32).toString('hex');
  const connectionId = `lab-${pair.initiator}-${pair.responder}`;
  (['initiator', 'responder'] as const).forEach((role, i) => {
    const other = ready[1 - i]!;
    sides[i]!.write({ event: 'peer', role, connectionId, secret, startInMs: START_IN_MS, timeoutMs: PUNCH_TIMEOUT_MS, candidates: other.candidates, profile: other.profile });
  });
  const relay = (from: number) => (event: Record<string, any>) => {
    if (event.event === 'signal') sides[1 - from]!.write(event);
  };
  return Promise.all(
    sides.map(async (side, i) => {
      const outcome = await side.next(['connected', 'error'], relay(i));
      if (outcome.event !== 'connected') return { outcome };
      const message = await side.next(['message'], relay(i));
      await side.next(['closed']);
      return { outcome, message: String(message.text) };
    }),
  );
}

before(async () => {
  if (unavailable) return;
  lab = await Lab.create({ sites: SITES });
  const [primary, alternate] = lab.serverAddresses;
  const stun = new Lines(lab.spawn('server', [process.execPath, '--import', 'tsx', 'test/punch/fixtures/udp-stun-server.ts', primary!, alternate!]), 'server');
  await stun.next(['ready']);
  for (const pair of PAIRS) {
    const result = runPair(lab, pair);
    result.catch(() => undefined); // awaited (and reported) by the pair's own test
    results.set(pair.name, result);
  }
  const settled = await Promise.allSettled(results.values());
  const rows = PAIRS.map((pair, i) => {
    const outcome = settled[i]!;
    if (outcome.status === 'rejected') return `  ${pair.name.padEnd(42)} ERROR ${String(outcome.reason).split('\n')[0]}`;
    const [a, b] = outcome.value.map((side) => side.outcome);
    const what = a!.event === 'connected' ? `${a!.method} / ${b!.method}` : `${a!.code} (${a!.reason}) / ${b!.code}`;
    return `  ${pair.name.padEnd(42)} ${what.padEnd(28)} ${a!.elapsedMs} ms / ${b!.elapsedMs} ms (from the synchronised start)`;
  });
  process.stdout.write(`UDP punch in the lab (initiator / responder):\n${rows.join('\n')}\n`);
});

after(async () => {
  await lab?.destroy();
});

for (const pair of PAIRS) {
  const title = pair.method
    ? `${pair.name}: both sides connect by ${pair.method} and exchange verified datagrams both ways`
    : `${pair.name}: both sides fail with ERR_PUNCH_FAILED (no path) within the timeout`;
  test(title, async (t) => {
    if (unavailable) return t.skip(`needs root: ${unavailable}`);
    const [initiator, responder] = await results.get(pair.name)!;
    if (pair.method === null) {
      for (const side of [initiator!, responder!]) {
        assert.equal(side.outcome.event, 'error', JSON.stringify(side.outcome));
        assert.equal(side.outcome.code, 'ERR_PUNCH_FAILED');
        assert.ok(side.outcome.elapsedMs < PUNCH_TIMEOUT_MS + 1000, `failed after ${side.outcome.elapsedMs} ms`);
      }
      return;
    }
    assert.equal(initiator!.outcome.event, 'connected', JSON.stringify(initiator!.outcome));
    assert.equal(responder!.outcome.event, 'connected', JSON.stringify(responder!.outcome));
    assert.equal(initiator!.outcome.method, pair.method);
    assert.equal(responder!.outcome.method, pair.method);
    const site = (host: string) => host.replace(/[0-9]+$/, '');
    const expectedRemote = (host: string) => (pair.method === 'lan' ? lab!.address(host) : lab!.publicAddress(site(host)));
    assert.equal(initiator!.outcome.remote.address, expectedRemote(pair.responder));
    assert.equal(responder!.outcome.remote.address, expectedRemote(pair.initiator));
    assert.equal(initiator!.message, 'hello from the responder');
    assert.equal(responder!.message, 'hello from the initiator');
  });
}
