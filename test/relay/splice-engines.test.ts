// The TCP splice contract, run against both engines: the kernel splice(2) addon and the JS splice.
// Every test goes through a real relay on loopback, so the hand-over (Node's sockets -> addon) is
// exercised each time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { startRelay, type Relay } from '../../src/relay/index.js';
import { encodeTcpAttach, parseTcpReply, TCP_REPLY_LENGTH } from '../../src/relay/attach-protocol.js';
import { kernelSpliceEngine, loadKernelSplice } from '../../src/relay/kernel-splice.js';
import { closed, readAll, tcpPair, withRelay } from './support/relay.js';

const MIB = 1024 * 1024;
const ENGINES = ['kernel', 'js'] as const;
const addon = loadKernelSplice();
const kernelMissing = 'error' in addon ? `SKIPPED: kernel splice addon not built (${addon.error.message.split('\n')[0]}); run npm install` : undefined;
if (kernelMissing) console.error(`splice-engines: ${kernelMissing}`);


/** The relay closed this peer's connection: a FIN ('end'; peers are half-open) or a reset. */
function relayClosed(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

async function until(condition: () => boolean, what = 'condition', limitMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `body` on a relay with this engine, then checks no session fell back to the other engine. */
async function onEngine(engine: (typeof ENGINES)[number], limits: Parameters<typeof withRelay>[0], body: (relay: Relay) => Promise<void>): Promise<void> {
  await withRelay(limits, async (relay) => {
    assert.equal(relay.spliceEngine, engine);
    await body(relay);
    assert.equal(relay.counters.get('tcp_splice_fallbacks'), 0, 'every session used the engine asked for');
  }, { spliceEngine: engine });
}

const nativeRequired = process.getuid?.() === 0 && (process.env.CI === 'true' || process.env.NTCP_REQUIRE_NATIVE === '1');
test('in CI as root the kernel splice addon is built (npm ci must build it)', { skip: nativeRequired ? false : 'not CI (CI=true or NTCP_REQUIRE_NATIVE=1) as root' }, () => {
  assert.ok('binding' in addon, `kernel splice addon missing in CI: ${'error' in addon ? addon.error.message : ''}`);
});

test('spliceEngine kernel without the addon, or a bad NTCP_RELAY_SPLICE, is refused at start', async () => {
  const previous = process.env.NTCP_RELAY_SPLICE;
  process.env.NTCP_RELAY_SPLICE = 'fast';
  try {
    await assert.rejects(startRelay({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  } finally {
    if (previous === undefined) delete process.env.NTCP_RELAY_SPLICE;
    else process.env.NTCP_RELAY_SPLICE = previous;
  }
  if (kernelMissing) await assert.rejects(startRelay({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, spliceEngine: 'kernel' }), { code: 'ERR_RELAY_SPLICE_UNAVAILABLE' });
});

test('kernel: sockets it cannot take over are refused with ERR_RELAY_SPLICE and left as they were', { skip: kernelMissing }, async () => {
  const engine = kernelSpliceEngine((addon as Extract<typeof addon, { binding: unknown }>).binding);
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  client.destroy();
  const hooks = { onBytes: () => assert.fail('no bytes'), onClosed: () => assert.fail('never started') };
  assert.throws(() => engine.splice([accepted, client], [Buffer.alloc(0), Buffer.alloc(0)], { bytesPerSecond: 1e6, burstBytes: 1e6 }, hooks), { code: 'ERR_RELAY_SPLICE' });
  assert.equal(accepted.destroyed, false, 'the caller still owns the live socket (the relay falls back to the JS splice)');
  accepted.destroy();
  server.close();
});

const openDescriptors = (): number => readdirSync('/proc/self/fd').length;

test('kernel: a session gets its pipes with its first bytes, so an idle one holds just its 2 sockets', { skip: kernelMissing }, async () => {
  await onEngine('kernel', {}, async (relay) => {
    const before = openDescriptors();
    const [a, b] = await tcpPair(relay);
    await sleep(50);
    // 2 client sockets here, and the relay's 2 (its dups; Node closed its own).
    assert.equal(openDescriptors() - before, 4);
    const atB = readAll(b);
    a.end('first bytes');
    assert.equal((await atB).toString(), 'first bytes');
    a.destroy();
    b.destroy();
  });
});

const descriptorLimit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
test('kernel: out of descriptors, a direction waits for its pipe and then delivers (no reset)', {
  skip: kernelMissing ?? (descriptorLimit > 65_536 ? `SKIPPED: ulimit -n is ${descriptorLimit}, too many descriptors to exhaust` : false),
}, async () => {
  await onEngine('kernel', {}, async (relay) => {
    const [a, b] = await tcpPair(relay);
    let received = '';
    b.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const hog: number[] = [];
    try {
      try {
        for (;;) hog.push(openSync('/dev/null', 'r'));
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, 'EMFILE');
      }
      a.write('waits for a pipe');
      await sleep(300);
      assert.equal(received, '', 'no pipe, no bytes yet');
      assert.equal(relay.sessionCount, 1, 'the session is not reset');
    } finally {
      for (const fd of hog) closeSync(fd);
    }
    await until(() => received === 'waits for a pipe', 'delivery once descriptors are back');
    a.destroy();
    b.destroy();
  });
});

for (const engine of ENGINES) {
  const skip = engine === 'kernel' ? kernelMissing : undefined;

  test(`${engine}: 8 MiB each way at once arrive intact (SHA-256), then FIN both ways closes the session`, { skip }, async () => {
    await onEngine(engine, {}, async (relay) => {
      const [a, b] = await tcpPair(relay);
      const fromA = randomBytes(8 * MIB);
      const fromB = randomBytes(8 * MIB);
      const atA = readAll(a);
      const atB = readAll(b);
      a.end(fromA);
      b.end(fromB);
      const [gotA, gotB] = await Promise.all([atA, atB]);
      assert.equal(sha(gotB), sha(fromA));
      assert.equal(sha(gotA), sha(fromB));
      await Promise.all([closed(a), closed(b)]);
      await until(() => relay.sessionCount === 0, 'session end');
      assert.equal(relay.counters.get('sessions_ended_closed'), 1);
      assert.equal(relay.counters.get('tcp_bytes_relayed'), 16 * MIB);
    });
  });

  for (const first of [0, 1] as const) {
    test(`${engine}: a half-close from peer ${first} reaches the other, whose direction keeps flowing`, { skip }, async () => {
      await onEngine(engine, {}, async (relay) => {
        const sockets = await tcpPair(relay);
        const closer = sockets[first];
        const other = sockets[1 - first]!;
        const atOther = readAll(other);
        closer.end('last words');
        assert.equal((await atOther).toString(), 'last words', 'FIN after the bytes');
        const atCloser = readAll(closer);
        const answer = randomBytes(2 * MIB);
        other.write(answer);
        await sleep(50);
        other.end('done');
        assert.equal(sha(await atCloser), sha(Buffer.concat([answer, Buffer.from('done')])));
        await until(() => relay.sessionCount === 0, 'session end');
        assert.equal(relay.counters.get('sessions_ended_closed'), 1);
      });
    });
  }

  test(`${engine}: a peer reset mid-stream resets the other peer (not a clean end) and the session vanishes`, { skip }, async () => {
    await onEngine(engine, {}, async (relay) => {
      const [a, b] = await tcpPair(relay);
      a.write(randomBytes(256 * 1024));
      await once(b, 'data');
      a.resetAndDestroy();
      let sawEnd = false;
      b.on('end', () => {
        sawEnd = true;
      });
      const [error] = (await once(b, 'error')) as [NodeJS.ErrnoException];
      assert.equal(error.code, 'ECONNRESET');
      assert.equal(sawEnd, false, 'a truncated stream must not end with a FIN');
      await until(() => relay.sessionCount === 0, 'session end');
      assert.equal(relay.counters.get('sessions_ended_vanished'), 1);
      assert.equal(relay.counters.get('tcp_peers_vanished'), 1);
    });
  });

  test(`${engine}: each direction is held to the token bucket`, { skip }, async () => {
    const rate = 512 * 1024;
    const burst = 64 * 1024;
    // A fill or a socket chunk taken before the bucket says stop.
    const slack = 64 * 1024;
    await onEngine(engine, { bytesPerSecond: rate, burstBytes: burst }, async (relay) => {
      const [a, b] = await tcpPair(relay);
      const received: [number, number] = [0, 0];
      b.on('data', (chunk: Buffer) => (received[0] += chunk.length));
      a.on('data', (chunk: Buffer) => (received[1] += chunk.length));
      const started = performance.now();
      a.write(randomBytes(4 * MIB));
      b.write(randomBytes(4 * MIB));
      await sleep(600);
      const allowance = burst + (rate * (performance.now() - started)) / 1000 + slack;
      for (const direction of [0, 1]) {
        assert.ok(received[direction]! > 0, `direction ${direction} moved`);
        assert.ok(received[direction]! <= allowance, `direction ${direction}: ${received[direction]} bytes > allowance ${Math.round(allowance)}`);
      }
      a.destroy();
      b.destroy();
    });
  });

  test(`${engine}: traffic keeps a session alive; once silent it ends at the idle timeout with a FIN to both`, { skip }, async () => {
    // Traffic for 1.5 idle timeouts: well apart from the 100 ms ticks, so a loaded machine's timer
    // delays cannot make it look idle.
    await onEngine(engine, { idleTimeoutMs: 1000 }, async (relay) => {
      const [a, b] = await tcpPair(relay);
      const atB = readAll(b);
      const atA = readAll(a);
      for (let i = 0; i < 15; i++) {
        a.write(`tick ${i}\n`);
        await sleep(100);
      }
      assert.equal(relay.counters.get('sessions_ended_idle'), 0, 'a session with traffic every 100 ms is not idle');
      const [gotB] = await Promise.all([atB, atA]);
      assert.equal(gotB.toString().split('\n').filter(Boolean).length, 15);
      assert.equal(relay.counters.get('sessions_ended_idle'), 1);
    });
  });

  test(`${engine}: relay.close() ends a session mid-transfer and closes both peers`, { skip }, async () => {
    const relay = await startRelay({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, spliceEngine: engine });
    const [a, b] = await tcpPair(relay);
    const ends = [relayClosed(a), relayClosed(b)];
    b.resume();
    a.write(randomBytes(4 * MIB));
    await sleep(20);
    await relay.close();
    for (const end of await Promise.all(ends)) assert.match(end, /^(end|ECONNRESET|EPIPE)$/);
    a.destroy();
    b.destroy();
    assert.equal(relay.sessionCount, 0);
    assert.equal(relay.counters.get('sessions_ended_relay_closed'), 1);
  });

  test(`${engine}: bytes a peer sent before its partner attached arrive first and in order`, { skip }, async () => {
    await onEngine(engine, {}, async (relay) => {
      const { tokens, endpoints } = await relay.createSession();
      const early = net.connect({ host: endpoints.host, port: endpoints.tcpPort, allowHalfOpen: true });
      await once(early, 'connect');
      early.write(Buffer.concat([encodeTcpAttach(tokens[0]), Buffer.from('early-1|')]));
      await until(() => relay.counters.get('attach_ok') === 1, 'first attach');
      early.write('early-2|');
      await sleep(50);
      // The second peer sends bytes right behind its attach frame, in the same segment.
      const late = net.connect({ host: endpoints.host, port: endpoints.tcpPort, allowHalfOpen: true });
      await once(late, 'connect');
      const atLate = readAll(late);
      const atEarly = readAll(early);
      late.write(Buffer.concat([encodeTcpAttach(tokens[1]), Buffer.from('late-1|')]));
      await until(() => relay.activeSessionCount === 1, 'pairing');
      early.end('after');
      late.end('late-2');
      const [toLate, toEarly] = await Promise.all([atLate, atEarly]);
      for (const received of [toLate, toEarly]) assert.deepEqual(parseTcpReply(received.subarray(0, TCP_REPLY_LENGTH)), { kind: 'reply', status: 0 });
      assert.equal(toLate.subarray(TCP_REPLY_LENGTH).toString(), 'early-1|early-2|after');
      assert.equal(toEarly.subarray(TCP_REPLY_LENGTH).toString(), 'late-1|late-2');
    });
  });

  test(`${engine}: 40 concurrent sessions each carry their own bytes both ways`, { skip }, async () => {
    await onEngine(engine, { attachesPerSecond: 1000, attachBurst: 1000 }, async (relay) => {
      const pairs = await Promise.all(Array.from({ length: 40 }, () => tcpPair(relay)));
      await Promise.all(pairs.map(async ([a, b]) => {
        const fromA = randomBytes(256 * 1024);
        const fromB = randomBytes(128 * 1024);
        const [atA, atB] = [readAll(a), readAll(b)];
        a.end(fromA);
        b.end(fromB);
        assert.equal(sha(await atB), sha(fromA));
        assert.equal(sha(await atA), sha(fromB));
      }));
      await until(() => relay.sessionCount === 0, 'all sessions end');
      assert.equal(relay.counters.get('sessions_ended_closed'), 40);
    });
  });

  test(`${engine}: the hand-over keeps both connections open and their keepalive on`, { skip }, async () => {
    await onEngine(engine, {}, async (relay) => {
      const [a, b] = await tcpPair(relay);
      const events: string[] = [];
      for (const [name, socket] of [['a', a], ['b', b]] as const) {
        socket.on('end', () => events.push(`${name} end`));
        socket.on('close', () => events.push(`${name} close`));
      }
      // Node has closed its own descriptors by now (kernel engine): no FIN may have left.
      await sleep(200);
      assert.deepEqual(events, []);
      const relaySockets = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${relay.endpoints.tcpPort} )`], { encoding: 'utf8' })
        .split('\n').filter(Boolean);
      assert.equal(relaySockets.length, 2, relaySockets.join('\n'));
      for (const line of relaySockets) assert.match(line, /timer:\(keepalive,/, 'keepalive set before the hand-over stays on');
      const atB = readAll(b);
      a.end('still connected');
      assert.equal((await atB).toString(), 'still connected');
      b.destroy();
    });
  });
}
