import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { BrokerClient, startBroker, type Coordination } from '../../src/broker/index.js';
import { RawConnection } from './helpers.js';

// The optional `punch-port` part of protocol version 1: ready TCP punching ports reach both sides
// of a TCP coordination, and nothing changes for clients that never use it.

const A_PORT = { address: '198.51.100.1', port: 40001, hostPort: 5001 };
const B_PORT = { address: '198.51.100.2', port: 40002, hostPort: 5002 };

async function pair(brokerPort: number): Promise<[BrokerClient, BrokerClient]> {
  const a = await BrokerClient.connect({ host: '127.0.0.1', port: brokerPort, id: 'pp-a' });
  const b = await BrokerClient.connect({ host: '127.0.0.1', port: brokerPort, id: 'pp-b' });
  return [a, b];
}

test('the broker announces punch-port in its welcome', async () => {
  const broker = await startBroker({ host: '127.0.0.1', port: 0 });
  try {
    const raw = await RawConnection.open(broker.port);
    raw.send({ type: 'hello', version: 1 });
    const welcome = await raw.next();
    assert.deepEqual(welcome.features, ['punch-port']);
    raw.close();
  } finally {
    await broker.close();
  }
});

test('advertised ports reach both sides of a TCP coordination as own and peer', async () => {
  const broker = await startBroker({ host: '127.0.0.1', port: 0 });
  const [a, b] = await pair(broker.port);
  try {
    assert.equal(a.advertisePunchPort(A_PORT), true);
    assert.equal(b.advertisePunchPort(B_PORT), true);
    await b.ping(); // frames on one link are handled in order: B's port is in before A's connect
    const incoming = once(b, 'coordination') as Promise<[Coordination]>;
    const outgoing = await a.requestConnect('pp-b', { transport: 'tcp' });
    const [responder] = await incoming;
    assert.deepEqual(outgoing.punchPorts, { own: A_PORT, peer: B_PORT });
    assert.deepEqual(responder.punchPorts, { own: B_PORT, peer: A_PORT });
    a.done(outgoing.connectionId, 'connected');
    b.done(responder.connectionId, 'connected');
  } finally {
    await a.close();
    await b.close();
    await broker.close();
  }
});

test('UDP coordinations carry no punch ports, and a withdrawn port is no longer handed out', async () => {
  const broker = await startBroker({ host: '127.0.0.1', port: 0 });
  const [a, b] = await pair(broker.port);
  try {
    a.advertisePunchPort(A_PORT);
    b.advertisePunchPort(B_PORT);
    await b.ping();
    const udp = await a.requestConnect('pp-b', { transport: 'udp' });
    assert.equal(udp.punchPorts, undefined);
    a.done(udp.connectionId, 'failed');
    b.advertisePunchPort(undefined);
    await b.ping(); // frames on one link are handled in order: the withdrawal is in
    const incoming = once(b, 'coordination') as Promise<[Coordination]>;
    const tcp = await a.requestConnect('pp-b', { transport: 'tcp' });
    await incoming;
    assert.deepEqual(tcp.punchPorts, { own: A_PORT });
  } finally {
    await a.close();
    await b.close();
    await broker.close();
  }
});

test('a malformed punch-port is refused without closing the connection; before register it is ERR_NOT_REGISTERED', async () => {
  const broker = await startBroker({ host: '127.0.0.1', port: 0 });
  try {
    const raw = await RawConnection.open(broker.port);
    raw.send({ type: 'hello', version: 1 });
    await raw.next();
    raw.send({ type: 'punch-port', tcp: A_PORT });
    assert.equal((await raw.next()).code, 'ERR_NOT_REGISTERED');
    raw.send({ type: 'register', id: 'pp-raw' });
    assert.equal((await raw.next()).type, 'registered');
    raw.send({ type: 'punch-port', tcp: { address: 'not-an-ip', port: 70000, hostPort: 0 } });
    const refusal = await raw.next();
    assert.equal(refusal.code, 'ERR_BAD_MESSAGE');
    assert.notEqual(refusal.fatal, true);
    raw.close();
  } finally {
    await broker.close();
  }
});
