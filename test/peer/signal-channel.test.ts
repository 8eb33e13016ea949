import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { BrokerClient } from '../../src/broker/index.js';
import { silentLogger } from '../../src/observe/logger.js';
import { MAX_UNCLAIMED_CONNECTIONS, SignalMailbox } from '../../src/peer/signal-channel.js';

// The per-coordination signal channels: nothing the peer signals is lost to a strategy that
// subscribes late, and what nobody claims stays bounded.

class FakeBroker extends EventEmitter {
  readonly sent: Array<{ connectionId: string; payload: unknown }> = [];
  signal(connectionId: string, payload: unknown): void {
    this.sent.push({ connectionId, payload });
  }
  arrive(connectionId: string, payload: unknown): void {
    this.emit('signal', { connectionId, from: 'peer', payload });
  }
}

function mailbox(): { broker: FakeBroker; signals: SignalMailbox } {
  const broker = new FakeBroker();
  return { broker, signals: new SignalMailbox(broker as unknown as BrokerClient, silentLogger) };
}

test('signals that arrive before the coordination is opened reach its first subscriber', () => {
  const { broker, signals } = mailbox();
  broker.arrive('c1', { n: 1 });
  broker.arrive('other', { n: 9 });
  const channel = signals.open('c1', silentLogger);
  const seen: unknown[] = [];
  channel.onMessage((payload) => seen.push(payload));
  broker.arrive('c1', { n: 2 });
  assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
  signals.close();
});

test('a subscriber that comes later (after an await) still gets every signal, once', () => {
  const { broker, signals } = mailbox();
  const channel = signals.open('c1', silentLogger);
  const first: unknown[] = [];
  channel.onMessage((payload) => first.push(payload));
  broker.arrive('c1', { n: 1 });
  const late: unknown[] = [];
  const stop = channel.onMessage((payload) => late.push(payload));
  broker.arrive('c1', { n: 2 });
  stop();
  broker.arrive('c1', { n: 3 });
  assert.deepEqual(first, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assert.deepEqual(late, [{ n: 1 }, { n: 2 }]);
  channel.send({ hello: true });
  assert.deepEqual(broker.sent, [{ connectionId: 'c1', payload: { hello: true } }]);
  signals.close();
});

test('a closed coordination keeps nothing; unclaimed coordinations are bounded', () => {
  const { broker, signals } = mailbox();
  const channel = signals.open('c1', silentLogger);
  channel.close();
  broker.arrive('c1', { n: 1 });
  for (let i = 0; i <= MAX_UNCLAIMED_CONNECTIONS; i++) broker.arrive(`x${i}`, { i });
  const seen: unknown[] = [];
  signals.open('x0', silentLogger).onMessage((payload) => seen.push(payload));
  assert.deepEqual(seen, [], 'the oldest unclaimed coordination was dropped to stay within the bound');
  const kept: unknown[] = [];
  signals.open(`x${MAX_UNCLAIMED_CONNECTIONS}`, silentLogger).onMessage((payload) => kept.push(payload));
  assert.deepEqual(kept, [{ i: MAX_UNCLAIMED_CONNECTIONS }]);
  signals.close();
  assert.equal(broker.listenerCount('signal'), 0);
});
