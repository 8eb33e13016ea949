import { test } from 'node:test';
import net from 'node:net';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { startBroker } from '../../src/broker/server.js';
import { BrokerClient } from '../../src/broker/client.js';
import { encodeFrame } from '../../src/broker/framing.js';
import { CuttableProxy, RawConnection, until } from './helpers.js';

test('after a broker restart the client reconnects with backoff and re-registers the same id by itself', async () => {
  const first = await startBroker({ host: '127.0.0.1', port: 0 });
  const port = first.port;
  const a = await BrokerClient.connect({ host: '127.0.0.1', port, id: 'phoenix', reconnectInitialDelayMs: 50 });
  const b = await BrokerClient.connect({ host: '127.0.0.1', port, id: 'friend', reconnectInitialDelayMs: 50 });
  const attempts: number[] = [];
  a.on('reconnecting', ({ attempt }) => attempts.push(attempt));
  const back = new Promise<{ reclaimed: boolean }>((resolve) => a.once('registered', resolve));
  const disconnected = new Promise((resolve) => a.once('disconnected', resolve));
  await first.close();
  await disconnected;
  assert.equal(a.connected, false);
  await assert.rejects(a.requestConnect('friend'), { code: 'ERR_DISCONNECTED' });
  // Restart only after failed attempts, so the test sees backoff whatever the machine's speed.
  await until(() => attempts.length >= 2);
  const second = await startBroker({ host: '127.0.0.1', port });
  try {
    assert.equal((await back).reclaimed, false, 'a restarted broker has no record to reclaim');
    assert.ok(attempts.length >= 2, `several attempts while the broker was down (${attempts.length})`);
    await until(() => b.connected);
    assert.deepEqual(second.query().peers.map((peer) => peer.id).sort(), ['friend', 'phoenix']);
    const coordination = await a.requestConnect('friend');
    assert.equal(coordination.peer.id, 'friend');
  } finally {
    await a.close();
    await b.close();
    await second.close();
  }
});

test('after its connection drops, the client reclaims its id (reserved for it while dead) with its token', async () => {
  const broker = await startBroker({ host: '127.0.0.1', port: 0 });
  const proxy = await CuttableProxy.start(broker.port);
  const a = await BrokerClient.connect({ host: '127.0.0.1', port: proxy.port, id: 'sticky', reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 100 });
  try {
    const back = new Promise<{ reclaimed: boolean }>((resolve) => a.once('registered', resolve));
    proxy.down = true;
    proxy.cutAll();
    await until(() => broker.query({ id: 'sticky' }).peers[0]!.state === 'dead');
    await assert.rejects(BrokerClient.connect({ host: '127.0.0.1', port: broker.port, id: 'sticky', reconnect: false }), { code: 'ERR_DUPLICATE_ID' });
    proxy.down = false;
    assert.equal((await back).reclaimed, true);
    assert.equal(broker.counters.get('reclaims'), 1);
    assert.equal(broker.query({ id: 'sticky' }).peers[0]!.state, 'idle');
  } finally {
    await a.close();
    await proxy.close();
    await broker.close();
  }
});

test('close() deregisters: the id disappears at once and later calls fail with ERR_CLOSED', async () => {
  const broker = await startBroker({ host: '127.0.0.1', port: 0 });
  try {
    const a = await BrokerClient.connect({ host: '127.0.0.1', port: broker.port, id: 'leaver' });
    const closed = new Promise((resolve) => a.once('closed', resolve));
    await a.close();
    await closed;
    assert.equal(broker.query({ id: 'leaver' }).peers.length, 0);
    assert.equal(broker.counters.get('deregistrations'), 1);
    await assert.rejects(a.requestConnect('x'), { code: 'ERR_CLOSED' });
  } finally {
    await broker.close();
  }
});

test('requestConnect honours its AbortSignal and timeout while the broker waits for the peer', async () => {
  // The responder never answers pings, so the broker waits rttProbeTimeoutMs before coordinating.
  const broker = await startBroker({ host: '127.0.0.1', port: 0, rttProbeTimeoutMs: 600 });
  try {
    const mute = await RawConnection.open(broker.port);
    mute.answerPings = false;
    mute.send({ type: 'hello', version: 1 });
    await mute.next();
    mute.send({ type: 'register', id: 'slowpoke' });
    await mute.next();
    const a = await BrokerClient.connect({ host: '127.0.0.1', port: broker.port, id: 'impatient' });
    try {
      await assert.rejects(a.requestConnect('slowpoke', { signal: AbortSignal.timeout(50) }), { code: 'ERR_ABORTED' });
      await assert.rejects(a.requestConnect('slowpoke', { timeoutMs: 50 }), { code: 'ERR_TIMEOUT' });
      // The late coordinations are released by the client, so the broker frees both peers.
      await until(() => broker.query({ id: 'slowpoke' }).peers[0]!.state === 'idle', 5000);
      assert.equal(broker.counters.get('outcomes-failed'), 2);
    } finally {
      await a.close();
      mute.close();
    }
  } finally {
    await broker.close();
  }
});

test('connecting to a port where no broker listens fails with ERR_CONNECT', async () => {
  const broker = await startBroker({ host: '127.0.0.1', port: 0 });
  const port = broker.port;
  await broker.close();
  await assert.rejects(BrokerClient.connect({ host: '127.0.0.1', port, id: 'lonely' }), { code: 'ERR_CONNECT' });
});

test('the AbortSignal of connect also aborts a registration the broker never answers', { timeout: 10_000 }, async () => {
  // A broker that welcomes and then says nothing: without the signal, connect would wait for its timeout.
  let received = '';
  const mute = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.write(encodeFrame({
      type: 'welcome', version: 1, heartbeatIntervalMs: 10_000, observed: { family: 'IPv4', address: '127.0.0.1', port: 1 },
      limits: { maxFrameBytes: 32768, maxIdBytes: 64, maxProfileBytes: 16384, maxSignalBytes: 2048 },
    })));
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  });
  mute.listen(0, '127.0.0.1');
  await once(mute, 'listening');
  const controller = new AbortController();
  try {
    const connecting = BrokerClient.connect({
      host: '127.0.0.1', port: (mute.address() as net.AddressInfo).port, id: 'patient', reconnect: false, connectTimeoutMs: 600_000, signal: controller.signal,
    });
    await until(() => received.includes('"register"'));
    controller.abort();
    await assert.rejects(connecting, { code: 'ERR_ABORTED' });
  } finally {
    mute.close();
  }
});
