import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { Coordination } from '../../src/broker/index.js';
import { NtcpError } from '../../src/errors.js';
import type { SignalChannel } from '../../src/peer/signal-channel.js';
import { announceFailure, announceRelayed, permissionAddresses, relayedAddressOf } from '../../src/peer/paths/turn-signals.js';

/** Both ends of one coordination's signal channel, in memory. */
function loopbackChannel(): SignalChannel {
  const bus = new EventEmitter();
  return {
    send: (payload) => bus.emit('signal', payload),
    onMessage(handler) {
      bus.on('signal', handler);
      return () => bus.off('signal', handler);
    },
  };
}

function coordination(observed: string, candidates: Coordination['candidates']): Coordination {
  return { peer: { id: 'p', observed: { family: 'IPv4', address: observed, port: 1 }, profile: null, transports: ['udp'] }, candidates } as unknown as Coordination;
}

test('permissions go to the peer\'s public addresses of the relayed family, private ones only as a fallback', () => {
  const both = coordination('203.0.113.10', [
    { source: 'private', address: '10.0.0.5', port: 4000 }, { source: 'profile-udp', address: '203.0.113.10', port: 5000 },
    { source: 'profile-tcp', address: '198.51.100.3' }, { source: 'broker-observed', address: '2001:db8::1' },
  ]);
  assert.deepEqual(permissionAddresses(both, 'IPv4'), ['203.0.113.10', '198.51.100.3']);
  assert.deepEqual(permissionAddresses(both, 'IPv6'), ['2001:db8::1']);
  const v6Only = coordination('2001:db8::2', [{ source: 'private', address: '10.0.0.5', port: 4000 }]);
  assert.deepEqual(permissionAddresses(v6Only, 'IPv4'), ['10.0.0.5']);
});

test('the waiting side gets the relayed address of its own connection, ignoring other signals', async () => {
  const channel = loopbackChannel();
  const controller = new AbortController();
  const waiting = relayedAddressOf(channel, 'c1', { signal: controller.signal, timeoutMs: 1000 });
  channel.send({ tag: 'tcp-punch', connectionId: 'c1', type: 'relayed', address: '192.0.2.1', port: 1 });
  channel.send({ tag: 'turn', connectionId: 'other', type: 'relayed', address: '192.0.2.2', port: 2 });
  channel.send({ tag: 'turn', connectionId: 'c1', type: 'relayed', address: 'not-an-ip', port: 3 });
  channel.send({ tag: 'turn', connectionId: 'c1', type: 'relayed', address: '192.0.2.4', port: 70_000 });
  announceRelayed(channel, 'c1', { family: 'IPv4', address: '192.0.2.5', port: 49_152 });
  assert.deepEqual(await waiting, { address: '192.0.2.5', port: 49_152 });
});

test('a failure announced by the allocating side is ERR_TURN_PEER_FAILED with its reason; silence is ERR_TIMEOUT', async () => {
  const channel = loopbackChannel();
  const signal = new AbortController().signal;
  const failing = relayedAddressOf(channel, 'c2', { signal, timeoutMs: 1000 });
  announceFailure(channel, 'c2', Object.assign(new Error('wrong credentials'), { code: 'ERR_TURN_AUTH' }));
  const error = await failing.then(() => undefined, (failure: unknown) => failure);
  assert.ok(error instanceof NtcpError);
  assert.equal(error.code, 'ERR_TURN_PEER_FAILED');
  assert.match(error.message, /ERR_TURN_AUTH: wrong credentials/);
  const silent = await relayedAddressOf(channel, 'c3', { signal, timeoutMs: 20 }).then(() => undefined, (failure: unknown) => failure);
  assert.equal((silent as NtcpError).code, 'ERR_TIMEOUT');
});
