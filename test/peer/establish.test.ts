import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { Coordination } from '../../src/broker/index.js';
import { establishPath, type Established, type PathContext, type PathStrategy } from '../../src/peer/index.js';
import { MAX_PLANNED_RELAY_DEADLINE_MS, relayDeadline } from '../../src/peer/paths/establish.js';
import type { DatagramConnection } from '../../src/peer/index.js';

// The path choice (relay never/force/auto, happy eyeballs) with scripted strategies: no sockets.

class FakeConnection extends EventEmitter {
  readonly local = { family: 'IPv4' as const, address: '10.0.0.1', port: 1 };
  readonly remote = { family: 'IPv4' as const, address: '10.0.0.2', port: 2 };
  readonly maxDatagramSize = 1000;
  closed = false;
  send(): void {}
  async close(): Promise<void> {
    this.closed = true;
  }
}

function strategy(name: string, delayMs: number, outcome: 'ok' | 'fail' = 'ok'): PathStrategy & { made: FakeConnection[]; aborted: boolean; committed: number } {
  const made: FakeConnection[] = [];
  const result = {
    name, made, aborted: false, committed: 0,
    establish(context: PathContext): Promise<Established> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          if (outcome === 'fail') return reject(new Error(`${name} failed`));
          const connection = new FakeConnection();
          made.push(connection);
          resolve({ transport: 'udp', connection: connection as DatagramConnection, method: name, commit: () => { result.committed += 1; } });
        }, delayMs);
        context.signal.addEventListener('abort', () => {
          result.aborted = true;
          clearTimeout(timer);
          reject(new Error(`${name} aborted`));
        }, { once: true });
      });
    },
  };
  return result;
}

function context(relayOffered: boolean, role: 'initiator' | 'responder' = 'initiator'): PathContext {
  const coordination = { connectionId: 'c', role, ...(relayOffered ? { relay: { id: 'r', token: 't', endpoints: {} } } : {}) } as unknown as Coordination;
  return { coordination, signal: new AbortController().signal } as unknown as PathContext;
}

test('never: only the direct strategy runs', async () => {
  const direct = strategy('udp-punch', 5);
  const relay = strategy('relay', 1);
  const established = await establishPath(context(true), { direct, relay, mode: 'never', relayDeadlineMs: 100 });
  assert.equal(established.method, 'udp-punch');
  assert.equal(relay.made.length, 0);
});

test('force: the relay only, or ERR_RELAY_UNAVAILABLE when the broker offered none', async () => {
  const direct = strategy('udp-punch', 1);
  const relay = strategy('relay', 5);
  assert.equal((await establishPath(context(true), { direct, relay, mode: 'force', relayDeadlineMs: 100 })).method, 'relay');
  assert.equal(direct.made.length, 0);
  await assert.rejects(establishPath(context(false), { direct, relay, mode: 'force', relayDeadlineMs: 100 }), { code: 'ERR_RELAY_UNAVAILABLE' });
});

test('auto without a relay offer is direct only', async () => {
  const direct = strategy('udp-punch', 5);
  const relay = strategy('relay', 1);
  assert.equal((await establishPath(context(false), { direct, relay, mode: 'auto', relayDeadlineMs: 100 })).method, 'udp-punch');
  assert.equal(relay.made.length, 0);
});

test('auto: a direct path completing before the deadline wins; the prepared relay is released', async () => {
  const direct = strategy('udp-punch', 20);
  const relay = strategy('relay', 5);
  const established = await establishPath(context(true), { direct, relay, mode: 'auto', relayDeadlineMs: 200 });
  assert.equal(established.method, 'udp-punch');
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(relay.made[0]?.closed ?? relay.aborted, true);
});

test('auto: no direct path by the deadline takes the relay and stops the direct attempt', async () => {
  const direct = strategy('udp-punch', 500);
  const relay = strategy('relay', 5);
  const established = await establishPath(context(true), { direct, relay, mode: 'auto', relayDeadlineMs: 50 });
  assert.equal(established.method, 'relay');
  assert.equal(direct.aborted, true);
  assert.equal(relay.committed, 1, 'the initiator selects the relayed path it keeps');
});

test('auto on the responder: no deadline, the path the initiator completed first is kept', async () => {
  const direct = strategy('udp-punch', 150);
  const relay = strategy('relay', 5);
  const established = await establishPath(context(true, 'responder'), { direct, relay, mode: 'auto', relayDeadlineMs: 1 });
  assert.equal(established.method, 'relay');
  assert.equal(direct.aborted, true);
  const slowRelay = strategy('relay', 150);
  const fastDirect = strategy('udp-punch', 5);
  const kept = await establishPath(context(true, 'responder'), { direct: fastDirect, relay: slowRelay, mode: 'auto', relayDeadlineMs: 1 });
  assert.equal(kept.method, 'udp-punch', 'a 1 ms deadline does not apply to the responder');
});

test('auto: a direct win does not commit the relay', async () => {
  const direct = strategy('udp-punch', 30);
  const relay = strategy('relay', 5);
  await establishPath(context(true), { direct, relay, mode: 'auto', relayDeadlineMs: 500 });
  assert.equal(relay.committed, 0);
  assert.equal(direct.committed, 1);
});

test('auto: a direct failure before the deadline falls back to the relay at once', async () => {
  const direct = strategy('udp-punch', 5, 'fail');
  const relay = strategy('relay', 10);
  const started = performance.now();
  const established = await establishPath(context(true), { direct, relay, mode: 'auto', relayDeadlineMs: 5000 });
  assert.equal(established.method, 'relay');
  assert.ok(performance.now() - started < 5000);
});

test('auto: a direct path arriving after the deadline but within one relay setup time is kept', async () => {
  // The relay needs 300 ms: past the 100 ms deadline direct keeps its chance until 100 + 300 ms.
  const direct = strategy('udp-punch', 330);
  const relay = strategy('relay', 300);
  const established = await establishPath(context(true), { direct, relay, mode: 'auto', relayDeadlineMs: 100 });
  assert.equal(established.method, 'udp-punch');
  assert.equal(relay.committed, 0);
});

test('auto: a relay that fails leaves direct running past the deadline', async () => {
  const direct = strategy('udp-punch', 150);
  const relay = strategy('relay', 5, 'fail');
  const established = await establishPath(context(true), { direct, relay, mode: 'auto', relayDeadlineMs: 50 });
  assert.equal(established.method, 'udp-punch');
});

test("relayDeadline follows the direct plan's first stage, bounded, and never drops below relayDeadlineMs", () => {
  const planned = (ms: number | undefined): PathStrategy => ({ ...strategy('tcp', 0), plannedMs: () => ms });
  const now = { startAt: performance.now() + 1_000 } as unknown as PathContext;
  assert.equal(relayDeadline(now, { direct: strategy('udp-punch', 0), relayDeadlineMs: 3_000 }), 3_000);
  assert.equal(relayDeadline(now, { direct: planned(undefined), relayDeadlineMs: 3_000 }), 3_000);
  assert.equal(relayDeadline(now, { direct: planned(1_000), relayDeadlineMs: 3_000 }), 3_000);
  const prediction = relayDeadline(now, { direct: planned(4_000), relayDeadlineMs: 3_000 });
  assert.ok(prediction > 4_900 && prediction <= 5_000, `start in 1 s + a 4 s stage, got ${prediction}`);
  assert.equal(relayDeadline(now, { direct: planned(20_000), relayDeadlineMs: 3_000 }), MAX_PLANNED_RELAY_DEADLINE_MS);
});

test("auto: the relay waits for the direct strategy's hold (a sequential NAT predicting), or starts at once when direct fails", async () => {
  const held = (inner: ReturnType<typeof strategy>, holdMs: number): PathStrategy => ({ ...inner, establish: inner.establish, relayHoldMs: () => holdMs });
  const relay = strategy('relay', 5);
  let relayStartedAfter = -1;
  const started = performance.now();
  const timedRelay: PathStrategy = { name: 'relay', establish: (c) => { relayStartedAfter = performance.now() - started; return relay.establish(c); } };
  const direct = strategy('udp-punch', 50);
  assert.equal((await establishPath(context(true), { direct: held(direct, 5_000), relay: timedRelay, mode: 'auto', relayDeadlineMs: 1_000 })).method, 'udp-punch');
  assert.equal(relayStartedAfter, -1, 'direct won during the hold: the relay never opened a mapping');
  const failing = strategy('udp-punch', 20, 'fail');
  const established = await establishPath(context(true), { direct: held(failing, 5_000), relay: timedRelay, mode: 'auto', relayDeadlineMs: 1_000 });
  assert.equal(established.method, 'relay');
  assert.ok(relayStartedAfter >= 0 && relayStartedAfter < 5_000, 'the failure started the relay without waiting out the 5 s hold');
});
