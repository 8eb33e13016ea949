import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab, LabUnknownHostError, labUnavailableReason } from '../../src/lab/index.js';
import { ProbeAgent } from '../../src/lab/probe.js';
import { ECHO_PORTS } from '../../src/lab/verify.js';
import { namespacesWithPrefix } from './helpers.js';

const unavailable = labUnavailableReason();
const skip = unavailable ? `needs root: ${unavailable}` : false;

test('two labs side by side do not collide, and destroy leaves no namespace behind', { skip }, async () => {
  const [first, second] = await Promise.all([Lab.create(), Lab.create()]);
  try {
    assert.notEqual(first.prefix, second.prefix);
    assert.equal(first.address('a1'), second.address('a1'));
    for (const lab of [first, second]) {
      const ping = await lab.exec('a1', ['ping', '-c1', '-W2', lab.serverAddresses[0]]);
      assert.equal(ping.code, 0, ping.stderr);
    }
  } finally {
    await Promise.all([first.destroy(), second.destroy()]);
  }
  assert.deepEqual(namespacesWithPrefix(first.prefix), []);
  assert.deepEqual(namespacesWithPrefix(second.prefix), []);
});

test('hosts have no route out of the lab', { skip }, async () => {
  const lab = await Lab.create({ sites: [{ name: 'a' }] });
  try {
    const routes = await lab.exec('a1', ['ip', 'route', 'get', '8.8.8.8']);
    assert.equal(routes.code, 0);
    assert.match(routes.stdout, /via 10\.1\.0\.1/, 'only the lab router');
    const router = await lab.exec('a', ['ip', 'route', 'get', '8.8.8.8']);
    assert.notEqual(router.code, 0, 'the router knows no way to the real internet');
    assert.throws(() => lab.address('zz9'), LabUnknownHostError);
  } finally {
    await lab.destroy();
  }
});

test('configured delay is the round trip a host measures to the server', { skip }, async () => {
  const delayMs = 40;
  const lab = await Lab.create({ sites: [{ name: 'a', delayMs }, { name: 'b', delayMs: 0, lossPercent: 30 }] });
  const [server, a1, b1] = await Promise.all(['server', 'a1', 'b1'].map((host) => ProbeAgent.start(lab, host)));
  try {
    const [address] = lab.serverAddresses;
    await server!.request({ op: 'serve', endpoints: [{ address, port: ECHO_PORTS[0] }] });
    const target = { address, port: ECHO_PORTS[0] };
    // Warm up until the path answers (ARP resolution across the shaped link takes a round trip or a retry).
    for (let attempt = 0; attempt < 10; attempt++) {
      const warm = await a1!.request<{ rtts: number[] }>({ op: 'udp-rtt', target, count: 3, intervalMs: 10, timeoutMs: 300 });
      if (warm.rtts.length === 3 && warm.rtts.every((rtt) => rtt < delayMs * 1.5)) break;
    }
    const { rtts } = await a1!.request<{ rtts: number[] }>({ op: 'udp-rtt', target, count: 20, intervalMs: 10, timeoutMs: delayMs * 4 });
    const sorted = [...rtts].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    process.stdout.write(`delay ${delayMs} ms configured, UDP echo RTT median ${median.toFixed(2)} ms (min ${sorted[0]!.toFixed(2)}, max ${sorted.at(-1)!.toFixed(2)})\n`);
    assert.equal(rtts.length, 20);
    assert.ok(sorted[0]! >= delayMs, `no echo may be faster than the configured delay (min ${sorted[0]})`);
    // The floor, not the median: CPU contention on a shared machine only ever adds to a round
    // trip, so the fastest echo is what the link itself costs (the median is printed above).
    assert.ok(sorted[0]! - delayMs < 5, `fastest RTT ${sorted[0]} ms should be within a few ms of ${delayMs} ms`);

    for (let attempt = 0; attempt < 10; attempt++) {
      const warm = await b1!.request<{ rtts: number[] }>({ op: 'udp-rtt', target, count: 5, intervalMs: 10, timeoutMs: 300 });
      if (warm.rtts.length > 0) break;
    }
    const lossy = await b1!.request<{ sent: number; rtts: number[] }>({ op: 'udp-rtt', target, count: 200, intervalMs: 1, timeoutMs: 300 });
    const lost = 1 - lossy.rtts.length / lossy.sent;
    process.stdout.write(`loss 30% per direction configured, round-trip loss measured ${(lost * 100).toFixed(1)}% (expected ~51%)\n`);
    assert.ok(lost > 0.3 && lost < 0.72, `round-trip loss ${lost}`);
  } finally {
    await Promise.all([server, a1, b1].map((agent) => agent?.close()));
    await lab.destroy();
  }
  assert.deepEqual(namespacesWithPrefix(lab.prefix), []);
});
