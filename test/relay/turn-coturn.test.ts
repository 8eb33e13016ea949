import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { TurnClient, turnRestCredentials } from '../../src/relay/index.js';
import { coturnInstalled, startCoturn, type Coturn } from './support/coturn.js';
import { assertEchoes, withEchoServer } from './support/echo.js';

const installed = coturnInstalled();
if (!installed) console.error('turn-coturn.test: SKIPPING the coturn tests: `turnserver` is not installed (apt-get install coturn)');

const USER = { user: 'u', password: 'p', realm: 'r' };
const SECRET = 'ntcp-test-secret';
let staticCoturn: Coturn | undefined;
let restCoturn: Coturn | undefined;

before(async () => {
  if (!installed) return;
  [staticCoturn, restCoturn] = await Promise.all([startCoturn(USER), startCoturn({ secret: SECRET, realm: 'r' })]);
});

after(async () => {
  await Promise.all([staticCoturn?.stop(), restCoturn?.stop()]);
});

async function udpPeer(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return socket;
}

function server(coturn: Coturn | undefined) {
  return { host: coturn!.host, port: coturn!.port };
}

test('UDP allocation relays datagrams to a loopback peer and back via Send/Data indications', { skip: !installed && 'turnserver not installed' }, async () => {
  const client = await TurnClient.connect({ server: server(staticCoturn), credentials: { username: USER.user, password: USER.password } });
  const peer = await udpPeer();
  try {
    const allocation = await client.allocate();
    assert.equal(allocation.relayed.address, '127.0.0.1');
    assert.ok(allocation.lifetimeSeconds > 0);
    const peerAddress = { address: '127.0.0.1', port: peer.address().port };
    await client.createPermission([peerAddress.address]);
    const atPeer = once(peer, 'message');
    client.send(peerAddress, Buffer.from('via send indication'));
    const [payload, rinfo] = (await atPeer) as [Buffer, dgram.RemoteInfo];
    assert.equal(payload.toString(), 'via send indication');
    assert.equal(rinfo.port, allocation.relayed.port, 'the peer sees the relayed address');
    const atClient = once(client, 'data');
    peer.send('via data indication', rinfo.port, rinfo.address);
    const [data, from] = (await atClient) as [Buffer, { port: number }];
    assert.equal(data.toString(), 'via data indication');
    assert.equal(from.port, peerAddress.port);
  } finally {
    peer.close();
    await client.close();
  }
});

test('UDP allocation relays both ways through a bound channel (ChannelData)', { skip: !installed && 'turnserver not installed' }, async () => {
  const client = await TurnClient.connect({ server: server(staticCoturn), credentials: { username: USER.user, password: USER.password } });
  const peer = await udpPeer();
  try {
    const allocation = await client.allocate();
    const peerAddress = { address: '127.0.0.1', port: peer.address().port };
    const channel = await client.channelBind(peerAddress);
    assert.ok(channel >= 0x4000 && channel <= 0x4fff);
    const payload = randomBytes(1001);
    const atPeer = once(peer, 'message');
    client.send(peerAddress, payload);
    const [received] = (await atPeer) as [Buffer];
    assert.deepEqual(received, payload);
    const atClient = once(client, 'data');
    peer.send(Buffer.from('back on the channel'), allocation.relayed.port, '127.0.0.1');
    const [data] = (await atClient) as [Buffer];
    assert.equal(data.toString(), 'back on the channel');
  } finally {
    peer.close();
    await client.close();
  }
});

test('ChannelData works over a TCP control connection too (padded frames)', { skip: !installed && 'turnserver not installed' }, async () => {
  const client = await TurnClient.connect({ server: server(staticCoturn), transport: 'tcp', credentials: { username: USER.user, password: USER.password } });
  const peer = await udpPeer();
  try {
    const allocation = await client.allocate();
    const peerAddress = { address: '127.0.0.1', port: peer.address().port };
    await client.channelBind(peerAddress);
    const atPeer = once(peer, 'message');
    client.send(peerAddress, Buffer.from('odd length!'));
    assert.equal(((await atPeer) as [Buffer])[0].toString(), 'odd length!');
    const received: string[] = [];
    client.on('data', (data: Buffer) => received.push(data.toString()));
    peer.send(Buffer.from('x'), allocation.relayed.port, '127.0.0.1');
    peer.send(Buffer.from('second frame'), allocation.relayed.port, '127.0.0.1');
    while (received.length < 2) await once(client, 'data');
    assert.deepEqual(received, ['x', 'second frame']);
  } finally {
    peer.close();
    await client.close();
  }
});

/**
 * A TCP proxy to coturn that, while `held`, keeps what coturn sends and then hands it over in
 * one write: the client then reads the ChannelBind response and the first ChannelData together.
 */
async function coalescingProxy(target: { host: string; port: number }): Promise<{ port: number; hold(): void; release(): void; close(): Promise<void> }> {
  let held: Buffer[] | undefined;
  let toClient: net.Socket | undefined;
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    toClient = client;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => (held ? held.push(chunk) : client.write(chunk)));
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    hold: () => (held = []),
    release: () => {
      const chunks = held ?? [];
      held = undefined;
      toClient?.write(Buffer.concat(chunks));
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

test('ChannelData that arrives in the same TCP read as the ChannelBind response is delivered, not dropped', { skip: !installed && 'turnserver not installed' }, async () => {
  const proxy = await coalescingProxy(server(staticCoturn));
  const client = await TurnClient.connect({ server: { host: '127.0.0.1', port: proxy.port }, transport: 'tcp', credentials: { username: USER.user, password: USER.password } });
  const peer = await udpPeer();
  try {
    const allocation = await client.allocate();
    const peerAddress = { address: '127.0.0.1', port: peer.address().port };
    await client.createPermission([peerAddress]);
    const received: string[] = [];
    client.on('data', (data: Buffer) => received.push(data.toString()));
    proxy.hold();
    const bound = client.channelBind(peerAddress);
    const sent: string[] = [];
    // Datagrams from the peer before and after coturn binds the channel: Data indications, then ChannelData.
    for (let i = 0; i < 20; i++) {
      sent.push(`datagram ${i}`);
      peer.send(Buffer.from(sent[i]!), allocation.relayed.port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    proxy.release();
    await bound;
    for (let waited = 0; received.length < sent.length && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(received, sent);
  } finally {
    peer.close();
    await client.close();
    await proxy.close();
  }
});

test('TCP allocation (RFC 6062) connects to a loopback TCP server and carries bytes both ways', { skip: !installed && 'turnserver not installed' }, async () => {
  await withEchoServer(async (echoPort) => {
    const client = await TurnClient.connect({ server: server(staticCoturn), transport: 'tcp', credentials: { username: USER.user, password: USER.password } });
    try {
      await client.allocate({ relayTransport: 'tcp' });
      const socket = await client.connect({ address: '127.0.0.1', port: echoPort });
      await assertEchoes(socket, 256 * 1024);
      socket.destroy();
    } finally {
      await client.close();
    }
  });
});

test('TCP allocation accepts a peer connecting in (ConnectionAttempt + ConnectionBind)', { skip: !installed && 'turnserver not installed' }, async () => {
  const client = await TurnClient.connect({ server: server(staticCoturn), transport: 'tcp', credentials: { username: USER.user, password: USER.password } });
  try {
    const allocation = await client.allocate({ relayTransport: 'tcp' });
    await client.createPermission(['127.0.0.1']);
    const incoming = once(client, 'connection');
    const peer = net.connect(allocation.relayed.port, '127.0.0.1').on('error', () => peer.destroy());
    const [socket] = (await incoming) as [net.Socket];
    const atPeer = once(peer, 'data');
    socket.write('hello peer');
    assert.equal(((await atPeer) as [Buffer])[0].toString(), 'hello peer');
    const atClient = once(socket, 'data');
    peer.write('hello client');
    assert.equal(((await atClient) as [Buffer])[0].toString(), 'hello client');
    peer.destroy();
    socket.destroy();
  } finally {
    await client.close();
  }
});

test('TURN REST shared-secret credentials allocate on a --use-auth-secret coturn', { skip: !installed && 'turnserver not installed' }, async () => {
  const client = await TurnClient.connect({ server: server(restCoturn), credentials: turnRestCredentials({ secret: SECRET, user: 'alice', ttlSeconds: 600 }) });
  try {
    const allocation = await client.allocate();
    assert.ok(allocation.relayed.port > 0);
  } finally {
    await client.close();
  }
});

test('an EVEN-PORT allocation with reservation hands out a token the next allocation uses', { skip: !installed && 'turnserver not installed' }, async () => {
  const credentials = { username: USER.user, password: USER.password };
  const first = await TurnClient.connect({ server: server(staticCoturn), credentials });
  const second = await TurnClient.connect({ server: server(staticCoturn), credentials });
  try {
    const even = await first.allocate({ evenPort: { reserve: true } });
    assert.equal(even.relayed.port % 2, 0);
    assert.equal(even.reservationToken?.length, 8);
    const odd = await second.allocate({ reservationToken: even.reservationToken! });
    assert.equal(odd.relayed.port, even.relayed.port + 1);
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
});

test('a stale nonce (438) is renewed transparently', { skip: !installed && 'turnserver not installed' }, async () => {
  const coturn = await startCoturn(USER, ['--stale-nonce=1', '--verbose']);
  const client = await TurnClient.connect({ server: server(coturn), credentials: { username: USER.user, password: USER.password } });
  try {
    await client.allocate();
    await new Promise((resolve) => setTimeout(resolve, 2100));
    assert.ok((await client.refresh(600)) > 0, 'refresh succeeds after the nonce went stale');
    await client.createPermission(['127.0.0.1']);
    assert.ok((await coturn.logLines(/error 438/, 1)) >= 1, 'coturn did answer 438 Stale nonce');
  } finally {
    await client.close();
    await coturn.stop();
  }
});

test('bad credentials give ERR_TURN_AUTH', { skip: !installed && 'turnserver not installed' }, async () => {
  const wrong = await TurnClient.connect({ server: server(staticCoturn), credentials: { username: USER.user, password: 'wrong' } });
  const expired = await TurnClient.connect({ server: server(restCoturn), credentials: turnRestCredentials({ secret: 'not-the-secret', user: 'mallory' }) });
  try {
    await assert.rejects(wrong.allocate(), { code: 'ERR_TURN_AUTH', errorCode: 401 });
    await assert.rejects(expired.allocate(), { code: 'ERR_TURN_AUTH' });
  } finally {
    await Promise.all([wrong.close(), expired.close()]);
  }
});
