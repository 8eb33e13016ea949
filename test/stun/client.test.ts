import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { encodeMessage, newTransactionId, StunClass, StunMethod } from '../../src/codec/index.js';
import { AbortedError } from '../../src/errors.js';
import {
  startStunServer,
  StunErrorResponse,
  StunTimeoutError,
  StunUdpSocket,
  tcpBinding,
  udpBinding,
} from '../../src/stun/index.js';
import { A, B, fullRfc5780Server, udpClient } from './helpers.js';


describe('STUN client against our server', () => {
  const stun = fullRfc5780Server();

  test('udpBinding returns the mapped address, RESPONSE-ORIGIN and OTHER-ADDRESS', async () => {
    const result = await udpBinding({ server: stun.target, rtoMs: 100 });
    assert.deepEqual(result.mapped, { family: 'IPv4', address: A, port: result.local.port });
    assert.deepEqual(result.server, { family: 'IPv4', address: A, port: stun.target.port });
    assert.deepEqual(result.responseOrigin, result.server);
    assert.deepEqual(result.otherAddress, { family: 'IPv4', address: B, port: stun.server.endpoints.altPort });
  });

  test('udpBinding with CHANGE-REQUEST hears back from the alternate address and port', async () => {
    const result = await udpBinding({ server: stun.target, changeIp: true, changePort: true, rtoMs: 100 });
    assert.deepEqual(result.server, { family: 'IPv4', address: B, port: stun.server.endpoints.altPort });
  });

  test('tcpBinding returns the mapped address of its connection', async () => {
    const result = await tcpBinding({ server: stun.target, timeoutMs: 2000 });
    assert.deepEqual(result.mapped, result.local);
    assert.equal(result.server.port, stun.target.port);
    assert.deepEqual(result.otherAddress, { family: 'IPv4', address: B, port: stun.server.endpoints.altPort });
  });

  test('tcpBinding can bind its local port', async () => {
    const probe = await udpClient();
    const localPort = probe.address().port;
    probe.close();
    const result = await tcpBinding({ server: stun.target, localAddress: A, localPort, timeoutMs: 2000 });
    assert.equal(result.mapped.port, localPort);
  });

  test('a shared StunUdpSocket settles STUN transactions and hands other datagrams to its owner', async () => {
    const socket = await StunUdpSocket.bind({ address: A });
    const peer = await udpClient();
    try {
      const received = once(socket, 'message');
      peer.send(Buffer.from('application data'), socket.local().port, A);
      const unmatched = encodeMessage({ cls: StunClass.SuccessResponse, method: StunMethod.Binding, transactionId: newTransactionId(), attributes: [] });
      const [data] = (await received) as [Buffer, dgram.RemoteInfo];
      assert.equal(data.toString(), 'application data');
      const second = once(socket, 'message');
      peer.send(unmatched, socket.local().port, A);
      assert.deepEqual((await second)[0], unmatched, 'a STUN response nobody waits for goes to the owner');
      const result = await udpBinding({ server: stun.target, socket, rtoMs: 100 });
      assert.deepEqual(result.mapped, socket.local());
      assert.equal(socket.pendingTransactions, 0);
    } finally {
      peer.close();
      await socket.close();
    }
  });

  test('an error response rejects with StunErrorResponse carrying the code', async () => {
    const single = await startStunServer({ host: A, port: 0, altPort: 0, tcp: false });
    try {
      await assert.rejects(
        udpBinding({ server: { host: A, port: single.endpoints.port }, changeIp: true, rtoMs: 100 }),
        (error) => error instanceof StunErrorResponse && error.code === 'ERR_STUN_ERROR_RESPONSE' && error.errorCode === 420,
      );
    } finally {
      await single.close();
    }
  });
});

test('dual stack: Binding over UDP and TCP on ::1', async () => {
  const server = await startStunServer({ host: '::1', port: 0, altPort: 0 });
  try {
    const target = { host: '::1', port: server.endpoints.port };
    const udp = await udpBinding({ server: target, rtoMs: 100 });
    assert.deepEqual(udp.mapped, { family: 'IPv6', address: '::1', port: udp.local.port });
    const tcp = await tcpBinding({ server: target, timeoutMs: 2000 });
    assert.deepEqual(tcp.mapped, tcp.local);
  } finally {
    await server.close();
  }
});

describe('STUN client failures', () => {
  test('no answer: StunTimeoutError after Rc requests, each one seen by the silent peer', async () => {
    const silent = await udpClient();
    let seen = 0;
    silent.on('message', () => seen++);
    try {
      await assert.rejects(
        udpBinding({ server: { host: A, port: silent.address().port }, rtoMs: 5, rc: 3, rm: 2 }),
        (error) => error instanceof StunTimeoutError && error.code === 'ERR_TIMEOUT' && error.attempts === 3,
      );
      assert.equal(seen, 3);
    } finally {
      silent.close();
    }
  });

  test('an aborted signal rejects with AbortedError', async () => {
    const silent = await udpClient();
    try {
      const controller = new AbortController();
      const pending = udpBinding({ server: { host: A, port: silent.address().port }, signal: controller.signal });
      controller.abort();
      await assert.rejects(pending, AbortedError);
    } finally {
      silent.close();
    }
  });

  test('closing a shared socket rejects its pending transactions', async () => {
    const silent = await udpClient();
    const socket = await StunUdpSocket.bind({ address: A });
    try {
      const pending = udpBinding({ server: { host: A, port: silent.address().port }, socket });
      await socket.close();
      await assert.rejects(pending, (error) => (error as { code?: string }).code === 'ERR_STUN_SOCKET_CLOSED');
    } finally {
      silent.close();
    }
  });
});
