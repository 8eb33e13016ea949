import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { StunUdpSocket } from '../../../src/stun/index.js';
import { UdpConnection, maxDatagramSize, DEFAULT_PATH_MTU } from '../../../src/punch/udp/connection.js';
import { ConnectionClosedError } from '../../../src/punch/udp/errors.js';
import { Verifier } from '../../../src/punch/udp/verify.js';
import { encodeData, FrameType } from '../../../src/punch/udp/wire.js';

const LOOPBACK = '127.0.0.1';
const secret = randomBytes(32);

async function connectionTo(peer: StunUdpSocket, early: Parameters<typeof encodeData>[0][] = []) {
  const socket = await StunUdpSocket.bind({ address: LOOPBACK });
  const verifier = new Verifier({ secret, connectionId: 'c', role: 'initiator' });
  return new UdpConnection({
    socket,
    remote: peer.local(),
    method: 'udp-punch',
    verifier,
    peerNonce: randomBytes(16),
    early: early.map((payload) => ({ type: FrameType.Data, payload })),
  });
}

test('the datagram budget follows the path MTU and the IP family', () => {
  assert.equal(maxDatagramSize('IPv4'), DEFAULT_PATH_MTU - 20 - 8 - 4);
  assert.equal(maxDatagramSize('IPv6'), DEFAULT_PATH_MTU - 40 - 8 - 4);
  assert.equal(maxDatagramSize('IPv4', 1500), 1468);
});

test('datagrams that arrived during the punch wait for the first message listener', async () => {
  const peer = await StunUdpSocket.bind({ address: LOOPBACK });
  const connection = await connectionTo(peer, [Buffer.from('early')]);
  try {
    await new Promise((resolve) => setTimeout(resolve, 30));
    const received = once(connection, 'message');
    assert.deepEqual((await received)[0], Buffer.from('early'));
  } finally {
    await Promise.all([connection.close(), peer.close()]);
  }
});

test('only the punched remote endpoint is heard; other sources are dropped', async () => {
  const [peer, stranger] = await Promise.all([StunUdpSocket.bind({ address: LOOPBACK }), StunUdpSocket.bind({ address: LOOPBACK })]);
  const connection = await connectionTo(peer);
  const heard: string[] = [];
  connection.on('message', (payload: Buffer) => heard.push(payload.toString()));
  try {
    stranger.send(encodeData(Buffer.from('from a stranger')), { host: LOOPBACK, port: connection.local.port });
    peer.send(encodeData(Buffer.from('from the peer')), { host: LOOPBACK, port: connection.local.port });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(heard, ['from the peer']);
  } finally {
    await Promise.all([connection.close(), peer.close(), stranger.close()]);
  }
});

test('sending after close is a typed error, and close is idempotent', async () => {
  const peer = await StunUdpSocket.bind({ address: LOOPBACK });
  const connection = await connectionTo(peer);
  const closed = once(connection, 'close');
  await connection.close();
  await connection.close();
  assert.deepEqual((await closed)[0], { reason: 'local' });
  assert.throws(() => connection.send(Buffer.from('late')), ConnectionClosedError);
  await peer.close();
});
