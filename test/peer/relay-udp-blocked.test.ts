import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { discoverNat, type NatProfile } from '../../src/discovery/index.js';
import { NtcpError } from '../../src/errors.js';
import { Peer, pathOf, type DatagramConnection, type IncomingConnection, type PeerRegisterOptions } from '../../src/peer/index.js';
import { startRelay, type Relay } from '../../src/relay/index.js';
import { startStunServer, type StunServer } from '../../src/stun/index.js';

// UDP connections to and from a peer whose UDP is blocked, on loopback: its profile is probed
// against a STUN server without UDP (so it says udp-blocked, as behind a UDP-dropping firewall),
// its socket pool binds against one too (its own evidence agrees), and its relayed UDP session
// is attached over TCP while the other peer's goes over UDP.

let stun: StunServer;
let silentStun: StunServer;
let broker: Broker;
let relay: Relay;
let blocked: Peer;
let open: Peer;

async function probe(udp: boolean): Promise<NatProfile> {
  const server = await startStunServer({ host: '127.0.0.1', altHost: '127.0.0.2', port: 0, altPort: 0, udp });
  try {
    return await discoverNat({ server: { host: '127.0.0.1', port: server.endpoints.port }, transports: ['udp'], timeoutMs: 300 });
  } finally {
    await server.close();
  }
}

/** `from`: the broker sees each peer at its own address, as behind two NATs (one NAT would keep a LAN path open). */
function options(id: string, profile: NatProfile, from: string, stunPort = stun.endpoints.port): PeerRegisterOptions {
  return {
    server: { host: '127.0.0.1', brokerPort: broker.port, stunPort },
    id, profile, transports: ['udp'], hostAddresses: [from], broker: { localAddress: from },
    connectTimeoutMs: 5000, incomingTimeoutMs: 5000,
    // Far beyond the connect timeout: a connect that succeeds did not wait for it.
    relayDeadlineMs: 60_000,
  };
}

before(async () => {
  stun = await startStunServer({ host: '127.0.0.1', altHost: '127.0.0.2', port: 0, altPort: 0 });
  silentStun = await startStunServer({ host: '127.0.0.1', port: 0, altPort: 0, udp: false });
  relay = await startRelay({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  broker = await startBroker({ host: '127.0.0.1', port: 0, relayRegistry: relay });
  const [blockedProfile, openProfile] = await Promise.all([probe(false), probe(true)]);
  assert.equal(blockedProfile.udp?.rfc3489Type, 'udp-blocked');
  assert.notEqual(openProfile.udp?.rfc3489Type, 'udp-blocked');
  [blocked, open] = await Promise.all([Peer.register(options('blocked', blockedProfile, '127.0.0.2', silentStun.endpoints.port)), Peer.register(options('open', openProfile, '127.0.0.1'))]);
});

after(async () => {
  await Promise.all([blocked, open].map((peer) => peer?.close()));
  await broker?.close();
  await relay?.close();
  await stun?.close();
  await silentStun?.close();
});

function nextIncoming(peer: Peer): Promise<IncomingConnection & { transport: 'udp' }> {
  return once(peer, 'connection').then(([incoming]) => {
    assert.equal((incoming as IncomingConnection).transport, 'udp');
    return incoming as IncomingConnection & { transport: 'udp' };
  });
}

/** Each side sends `count` random datagrams; each must receive exactly the other's, intact. */
async function exchangeBothWays(a: DatagramConnection, b: DatagramConnection, count: number): Promise<void> {
  const hash = (payload: Buffer): string => createHash('sha256').update(payload).digest('hex');
  const oneWay = async (from: DatagramConnection, to: DatagramConnection): Promise<void> => {
    const sent = Array.from({ length: count }, (_, index) => randomBytes(1 + (index * 131) % from.maxDatagramSize));
    const received: string[] = [];
    const all = new Promise<void>((resolve) => to.on('message', (payload: Buffer) => {
      received.push(hash(payload));
      if (received.length === count) resolve();
    }));
    for (const payload of sent) from.send(payload);
    await all;
    assert.deepEqual(received.sort(), sent.map(hash).sort());
  };
  await Promise.all([oneWay(a, b), oneWay(b, a)]);
}

for (const [dialler, listener] of [['open', 'blocked'], ['blocked', 'open']] as const) {
  test(`UDP from the ${dialler} peer to the ${listener} one with relay auto goes straight to the relay, the blocked side attached over TCP`, async () => {
    const peers = { open, blocked };
    const incoming = nextIncoming(peers[listener]);
    const connection = await peers[dialler].connect(listener, { transport: 'udp', relay: 'auto' });
    const accepted = await incoming;
    assert.equal(pathOf(connection)?.method, 'relay');
    assert.equal(accepted.path.method, 'relay');
    const byPeer = { [dialler]: connection, [listener]: accepted.connection } as Record<'open' | 'blocked', DatagramConnection>;
    assert.equal(pathOf(byPeer.blocked)?.remote.port, relay.endpoints.datagramTcpPort, 'the blocked peer reached the relay over TCP');
    assert.equal(pathOf(byPeer.open)?.remote.port, relay.endpoints.udpPort, 'the open peer reached it over UDP');
    await exchangeBothWays(connection, accepted.connection, 30);
    const closed = once(accepted.connection, 'close');
    await connection.close();
    await closed;
  });
}

test('relay never: a UDP connect to or from the blocked peer fails at once with ERR_UDP_BLOCKED', async () => {
  const toBlocked = await open.connect('blocked', { transport: 'udp', relay: 'never' }).catch((error: unknown) => error);
  assert.ok(toBlocked instanceof NtcpError);
  assert.equal(toBlocked.code, 'ERR_UDP_BLOCKED');
  assert.equal((toBlocked as NtcpError & { side: string }).side, 'remote');
  const fromBlocked = await blocked.connect('open', { transport: 'udp', relay: 'never' }).catch((error: unknown) => error);
  assert.ok(fromBlocked instanceof NtcpError);
  assert.equal(fromBlocked.code, 'ERR_UDP_BLOCKED');
  assert.equal((fromBlocked as NtcpError & { side: string }).side, 'local');
});

test('a blocked profile that the peer\'s own socket pool contradicts (the STUN server answers it) is withdrawn at registration: relay never connects directly', async () => {
  const recovered = await Peer.register(options('recovered', blocked.profile, '127.0.0.3'));
  try {
    const incoming = nextIncoming(open);
    const connection = await recovered.connect('open', { transport: 'udp', relay: 'never' });
    assert.notEqual(pathOf(connection)?.method, 'relay');
    await exchangeBothWays(connection, (await incoming).connection, 3);
    await connection.close();
  } finally {
    await recovered.close();
  }
});

test('relay force from the blocked peer also attaches over TCP and carries datagrams', async () => {
  const incoming = nextIncoming(open);
  const connection = await blocked.connect('open', { transport: 'udp', relay: 'force' });
  const accepted = await incoming;
  assert.equal(pathOf(connection)?.remote.port, relay.endpoints.datagramTcpPort);
  await exchangeBothWays(connection, accepted.connection, 5);
  await connection.close();
});

test('behind one NAT a blocked profile does not rule out the direct path: relay never takes the LAN path without a STUN probe instead of failing', async () => {
  // Seen by the broker at the blocked peer's address: the broker calls them one NAT. Blocked as
  // well (profile and pool), so neither side can learn a mapping: only the LAN path can work.
  const neighbour = await Peer.register(options('neighbour', blocked.profile, '127.0.0.2', silentStun.endpoints.port));
  try {
    const incoming = nextIncoming(blocked);
    const connection = await neighbour.connect('blocked', { transport: 'udp', relay: 'never' });
    assert.equal(pathOf(connection)?.method, 'lan');
    const accepted = (await incoming).connection;
    await exchangeBothWays(connection, accepted, 3);
    await accepted.close();
    await connection.close();
  } finally {
    await neighbour.close();
  }
});
