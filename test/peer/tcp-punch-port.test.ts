import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PunchPort } from '../../src/broker/index.js';
import { silentLogger } from '../../src/observe/logger.js';
import { TcpPunchPortKeeper } from '../../src/peer/tcp-punch-port.js';
import { startStunServer, type StunServer } from '../../src/stun/index.js';

// The ready TCP punching port on loopback: armed with a real TCP STUN Binding, advertised,
// withdrawn and replaced when a coordination uses it, refreshed while unused.

let stun: StunServer;

before(async () => {
  stun = await startStunServer({ host: '127.0.0.1', port: 0, altPort: 0, udp: false });
});
after(async () => {
  await stun.close();
});

function keeper(advertised: Array<PunchPort | undefined>, refreshMs?: number): TcpPunchPortKeeper {
  return new TcpPunchPortKeeper({
    stunServer: { host: '127.0.0.1', port: stun.endpoints.port }, localAddress: '127.0.0.1', logger: silentLogger,
    advertise: (port) => advertised.push(port), ...(refreshMs ? { refreshMs } : {}),
  });
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('arming learns the port mapping by STUN and advertises it', async () => {
  const advertised: Array<PunchPort | undefined> = [];
  const ports = keeper(advertised);
  try {
    await ports.rearm();
    const ready = ports.current!;
    assert.ok(ready.port > 0);
    assert.deepEqual(ready.mapped, { address: '127.0.0.1', port: ready.port }, 'no NAT on loopback: the mapping is the port itself');
    assert.deepEqual(advertised, [{ address: '127.0.0.1', port: ready.port, hostPort: ready.port }]);
  } finally {
    ports.close();
  }
});

test('a used port is withdrawn at once and a new one armed and advertised', async () => {
  const advertised: Array<PunchPort | undefined> = [];
  const ports = keeper(advertised);
  try {
    await ports.rearm();
    const first = ports.current!;
    assert.equal(ports.use(first.port)?.port, first.port, 'what arming learnt comes back with it');
    assert.equal(advertised[1], undefined, 'withdrawn before anything else');
    await until(() => ports.current !== undefined);
    assert.notEqual(ports.current!.port, first.port);
    assert.equal(advertised.at(-1)?.hostPort, ports.current!.port);
    assert.equal(ports.use(first.port)?.port, first.port, 'a coordination naming the replaced port still gets its facts');
  } finally {
    ports.close();
  }
});

test('an unused port is re-armed every refreshMs, and close withdraws it', async () => {
  const advertised: Array<PunchPort | undefined> = [];
  const ports = keeper(advertised, 50);
  await ports.rearm();
  await until(() => new Set(advertised.map((port) => port?.hostPort)).size >= 3);
  ports.close();
  assert.equal(advertised.at(-1), undefined);
  assert.equal(ports.current, undefined);
});
