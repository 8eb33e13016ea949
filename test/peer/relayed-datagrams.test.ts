import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { test } from 'node:test';
import { silentLogger } from '../../src/observe/logger.js';
import { RelayedDatagrams } from '../../src/peer/index.js';
import type { RelayUdpChannel } from '../../src/relay/index.js';

// The end-to-end proof over a relayed UDP channel, with two in-memory channel ends standing in for
// the relay (which forwards datagrams and may drop some): the relay cannot impersonate a peer.

class FakeChannel extends EventEmitter {
  readonly local = { family: 'IPv4' as const, address: '127.0.0.1', port: 1 };
  readonly remote = { family: 'IPv4' as const, address: '127.0.0.1', port: 3480 };
  readonly maxDatagramSize = 1000;
  closed = false;
  other: FakeChannel | undefined;
  /** Drops the first `drop` datagrams this end sends (a lossy relay path). */
  drop = 0;
  readonly sent: Buffer[] = [];

  send(payload: Buffer): void {
    this.sent.push(payload);
    if (this.drop > 0) {
      this.drop -= 1;
      return;
    }
    const peer = this.other;
    setImmediate(() => peer?.emit('message', Buffer.from(payload)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', { reason: 'local' });
  }
}

function pair(): [FakeChannel, FakeChannel] {
  const a = new FakeChannel();
  const b = new FakeChannel();
  a.other = b;
  b.other = a;
  return [a, b];
}

const secret = randomBytes(32);
const options = (role: 'initiator' | 'responder', key = secret) => ({
  role, connectionId: 'conn-1', secret: key, signal: new AbortController().signal, timeoutMs: 1500, logger: silentLogger,
});

test('both ends prove the secret; the responder completes only once the initiator selects; data flows without handshake bytes', async () => {
  const [a, b] = pair();
  a.drop = 2; // the initiator's first HELLO and PROOF are lost: retransmission recovers
  const responder = RelayedDatagrams.establish(b as unknown as RelayUdpChannel, options('responder'));
  const initiator = await RelayedDatagrams.establish(a as unknown as RelayUdpChannel, options('initiator'));
  let responderDone = false;
  void responder.then(() => { responderDone = true; });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(responderDone, false, 'the responder waits for the initiator to keep the path');
  initiator.select();
  const accepted = await responder;
  const received = once(accepted, 'message');
  initiator.send(Buffer.from('payload'));
  assert.equal(String((await received)[0]), 'payload');
  const back = once(initiator, 'message');
  accepted.send(Buffer.from('reply'));
  assert.equal(String((await back)[0]), 'reply');
  assert.equal(accepted.maxDatagramSize, 999);
});

test('a peer with the wrong secret is never accepted: both ends time out and close the channel', async () => {
  const [a, b] = pair();
  const results = await Promise.allSettled([
    RelayedDatagrams.establish(a as unknown as RelayUdpChannel, options('initiator')),
    RelayedDatagrams.establish(b as unknown as RelayUdpChannel, options('responder', randomBytes(32))),
  ]);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.equal((result as PromiseRejectedResult).reason.code, 'ERR_TIMEOUT');
  }
  assert.equal(a.closed && b.closed, true);
});

test('a reflected HELLO (our own role) is ignored', async () => {
  const [a, b] = pair();
  const results = await Promise.allSettled([
    RelayedDatagrams.establish(a as unknown as RelayUdpChannel, options('initiator')),
    RelayedDatagrams.establish(b as unknown as RelayUdpChannel, options('initiator')),
  ]);
  assert.deepEqual(results.map((result) => result.status), ['rejected', 'rejected']);
});
