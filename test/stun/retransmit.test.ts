import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/stun/clock.js';
import { Retransmission, retransmissionSchedule } from '../../src/stun/retransmit.js';
import { StunTimeoutError } from '../../src/stun/errors.js';
import { AbortedError, TimeoutError } from '../../src/errors.js';

function recordSends(clock: ManualClock) {
  const sentAt: number[] = [];
  return { sentAt, send: () => void sentAt.push(clock.now()) };
}

test('the default schedule is the one of RFC 8489 section 6.2.1 (0, 500, 1500 ... 31500, fail at 39500)', () => {
  assert.deepEqual(retransmissionSchedule(), { sendAt: [0, 500, 1500, 3500, 7500, 15500, 31500], failAt: 39500 });
});

test('requests go out with a doubling RTO, Rc times, and the transaction fails Rm*RTO after the last', async () => {
  const clock = new ManualClock();
  const { sentAt, send } = recordSends(clock);
  const tx = new Retransmission<string>({ send, clock, rtoMs: 100, rc: 4, rm: 3 });
  const outcome = tx.promise.then(() => 'resolved', (error: unknown) => error);
  clock.advance(699);
  assert.deepEqual(sentAt, [0, 100, 300, 700].slice(0, 3));
  clock.advance(1);
  assert.deepEqual(sentAt, [0, 100, 300, 700]);
  clock.advance(299);
  assert.equal(tx.settled, false);
  clock.advance(1);
  const error = await outcome;
  assert.ok(error instanceof StunTimeoutError);
  assert.ok(error instanceof TimeoutError);
  assert.equal(error.code, 'ERR_TIMEOUT');
  assert.equal(error.attempts, 4);
  assert.equal(error.timeoutMs, 1000);
  assert.equal(clock.pending, 0);
});

test('Rc = 1 sends once and waits Rm*RTO', async () => {
  const clock = new ManualClock();
  const { sentAt, send } = recordSends(clock);
  const tx = new Retransmission({ send, clock, rtoMs: 50, rc: 1, rm: 2 });
  const outcome = tx.promise.catch((error: unknown) => error);
  clock.advance(10_000);
  assert.deepEqual(sentAt, [0]);
  assert.equal(((await outcome) as StunTimeoutError).timeoutMs, 100);
});

test('a response stops retransmissions and resolves with the value', async () => {
  const clock = new ManualClock();
  const { sentAt, send } = recordSends(clock);
  const tx = new Retransmission<string>({ send, clock, rtoMs: 100 });
  clock.advance(150);
  tx.complete('response');
  clock.advance(100_000);
  assert.equal(await tx.promise, 'response');
  assert.deepEqual(sentAt, [0, 100]);
  assert.equal(clock.pending, 0);
});

test('an overall timeoutMs cuts the schedule short', async () => {
  const clock = new ManualClock();
  const { sentAt, send } = recordSends(clock);
  const tx = new Retransmission({ send, clock, timeoutMs: 1200 });
  const outcome = tx.promise.catch((error: unknown) => error);
  clock.advance(1200);
  const error = (await outcome) as StunTimeoutError;
  assert.ok(error instanceof StunTimeoutError);
  assert.equal(error.timeoutMs, 1200);
  assert.deepEqual(sentAt, [0, 500]);
  assert.equal(clock.pending, 0);
});

test('aborting the signal rejects with AbortedError and stops sending', async () => {
  const clock = new ManualClock();
  const { sentAt, send } = recordSends(clock);
  const controller = new AbortController();
  const tx = new Retransmission({ send, clock, signal: controller.signal });
  const outcome = tx.promise.catch((error: unknown) => error);
  controller.abort();
  clock.advance(100_000);
  assert.ok((await outcome) instanceof AbortedError);
  assert.deepEqual(sentAt, [0]);
});

test('a send that throws fails the transaction with that error', async () => {
  const clock = new ManualClock();
  const boom = new Error('EHOSTUNREACH');
  const tx = new Retransmission({ send: () => { throw boom; }, clock });
  await assert.rejects(tx.promise, (error) => error === boom);
  assert.equal(clock.pending, 0);
});

test('invalid parameters are refused', () => {
  assert.throws(() => retransmissionSchedule({ rc: 0 }), RangeError);
  assert.throws(() => retransmissionSchedule({ rtoMs: -1 }), RangeError);
});
