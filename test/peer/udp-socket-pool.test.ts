import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../src/observe/logger.js';
import { UdpSocketPool } from '../../src/peer/udp-socket-pool.js';
import { startStunServer, StunUdpSocket, type StunServer } from '../../src/stun/index.js';

// The spare UDP socket behind each connection, against our STUN server on loopback.

let stun: StunServer;

before(async () => {
  stun = await startStunServer({ host: '127.0.0.1', port: 0, altPort: 0, tcp: false });
});

after(async () => {
  await stun.close();
});

/** A bind function that remembers every socket it made and whether it was closed. */
function tracked(): { bindSocket: (options: { address: string }) => Promise<StunUdpSocket>; sockets: Array<{ socket: StunUdpSocket; closed: boolean }> } {
  const sockets: Array<{ socket: StunUdpSocket; closed: boolean }> = [];
  return {
    sockets,
    bindSocket: async ({ address }) => {
      const socket = await StunUdpSocket.bind({ address });
      const entry = { socket, closed: false };
      const close = socket.close.bind(socket);
      socket.close = async () => {
        entry.closed = true;
        await close();
      };
      sockets.push(entry);
      return socket;
    },
  };
}

test('each take hands out a distinct socket with its mapping; concurrent takes never leak a spare', async () => {
  const { bindSocket, sockets } = tracked();
  const pool = new UdpSocketPool({ stunServer: { host: '127.0.0.1', port: stun.endpoints.port }, bindAddress: '127.0.0.1', logger: silentLogger, bindSocket });
  const first = await pool.start();
  assert.equal(pool.udpAnswered, true);
  assert.equal(first.mapped.port, first.socket.local().port);
  const taken = await Promise.all([pool.take(), pool.take(), pool.take()]);
  assert.equal(taken[0]!.socket, first.socket, 'the spare probed at start goes first');
  assert.equal(new Set(taken.map((entry) => entry.socket)).size, 3);
  for (const entry of taken) assert.equal(entry.mapped.port, entry.socket.local().port);
  await pool.close();
  await Promise.all(taken.map((entry) => entry.socket.close()));
  const open = sockets.filter((entry) => !entry.closed);
  assert.deepEqual(open, [], `${open.length} socket(s) left open after close`);
});

test('start rejects with ERR_TIMEOUT when the STUN server does not answer over UDP', async () => {
  const silent = await startStunServer({ host: '127.0.0.1', port: 0, altPort: 0, udp: false });
  try {
    const pool = new UdpSocketPool({ stunServer: { host: '127.0.0.1', port: silent.endpoints.port }, bindAddress: '127.0.0.1', logger: silentLogger });
    assert.equal(pool.udpAnswered, undefined, 'no binding completed yet');
    await assert.rejects(pool.start(), { code: 'ERR_TIMEOUT' });
    assert.equal(pool.udpAnswered, false, 'the pool\'s own evidence: no STUN answer over UDP');
    await pool.close();
  } finally {
    await silent.close();
  }
});
