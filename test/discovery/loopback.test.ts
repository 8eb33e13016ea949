import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortedError, InvalidArgumentError } from '../../src/errors.js';
import { startStunServer, udpBinding, type StunServer } from '../../src/stun/index.js';
import { compactProfile, discoverNat, NatProfileSchema, type DiscoveryStep, type NatProfile } from '../../src/discovery/index.js';

const A = '127.0.0.1';
const B = '127.0.0.2';
const EIM = 'endpoint-independent';

/** Loopback has no NAT and no firewall: every RFC 5780 test must see endpoint-independent behaviour. */
function assertOpenLoopback(profile: NatProfile): void {
  NatProfileSchema.parse(profile);
  const udp = profile.udp!;
  assert.deepEqual(
    { natPresent: udp.natPresent, mapping: udp.mapping, filtering: udp.filtering, rfc3489Type: udp.rfc3489Type, portPreserving: udp.portPreserving, hairpinning: udp.hairpinning },
    { natPresent: false, mapping: EIM, filtering: EIM, rfc3489Type: 'open-internet', portPreserving: true, hairpinning: 'supported' },
    JSON.stringify(udp.evidence, null, 1),
  );
  assert.deepEqual(udp.mapped, udp.local);
  const tcp = profile.tcp!;
  assert.deepEqual(
    { reachable: tcp.reachable, natPresent: tcp.natPresent, mapping: tcp.mapping, kind: tcp.kind, portPreserving: tcp.portPreserving },
    { reachable: true, natPresent: false, mapping: EIM, kind: 'cone', portPreserving: true },
    JSON.stringify(tcp.evidence, null, 1),
  );
  assert.equal(profile.altServer?.address, B);
}

describe('discoverNat against our STUN server on loopback', () => {
  let server: StunServer;
  let port: number;

  before(async () => {
    server = await startStunServer({ host: A, altHost: B, port: 0, altPort: 0, limits: { ratePerSecond: Infinity } });
    port = server.endpoints.port;
  });
  after(() => server.close());

  test('reports endpoint-independent mapping and filtering, and each probe as a step', async () => {
    const steps: DiscoveryStep[] = [];
    const profile = await discoverNat({ server: { host: A, port }, onStep: (step) => steps.push(step) });
    assertOpenLoopback(profile);
    const observed = [...profile.udp!.evidence.observations, ...profile.tcp!.evidence.observations].map((o) => o.test).sort();
    assert.deepEqual(steps.map((step) => step.test).sort(), observed);
    assert.ok(observed.includes('udp-filtering-2') && observed.includes('tcp-same-port-4') && observed.includes('udp-hairpin'));
  });

  test('--udp / --tcp style transport selection leaves the other part out', async () => {
    const udpOnly = await discoverNat({ server: { host: A, port }, transports: ['udp'] });
    assert.ok(udpOnly.udp && !udpOnly.tcp);
    const tcpOnly = await discoverNat({ server: { host: A, port }, transports: ['tcp'] });
    assert.ok(tcpOnly.tcp && !tcpOnly.udp);
    assert.equal(tcpOnly.tcp.kind, 'cone');
  });

  test('the profile survives a JSON round trip unchanged (it travels through the broker)', async () => {
    const profile = await discoverNat({ server: { host: A, port }, transports: ['udp'] });
    assert.deepEqual(NatProfileSchema.parse(JSON.parse(JSON.stringify(profile))), profile);
  });

  test('compactProfile keeps every verdict and note but drops the raw observations', async () => {
    const profile = await discoverNat({ server: { host: A, port } });
    const compact = NatProfileSchema.parse(JSON.parse(JSON.stringify(compactProfile(profile))));
    assert.deepEqual(compact.udp!.evidence, { observations: [], notes: profile.udp!.evidence.notes });
    assert.deepEqual({ ...compact.tcp!, evidence: null }, { ...profile.tcp!, evidence: null });
    assert.ok(JSON.stringify(compact).length < JSON.stringify(profile).length / 2);
    assert.ok(profile.udp!.evidence.observations.length > 0, 'the original is left alone');
  });

  test('with cachePath the second discovery is served from the cache file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ntcp-discovery-cache-'));
    try {
      const cachePath = join(dir, 'profile.json');
      const first = await discoverNat({ server: { host: A, port }, transports: ['udp'], cachePath });
      const steps: DiscoveryStep[] = [];
      const second = await discoverNat({ server: { host: A, port }, transports: ['udp'], cachePath, onStep: (step) => steps.push(step) });
      assert.deepEqual(second, first);
      assert.deepEqual(steps.map((step) => step.outcome), ['hit']);
      const other = await discoverNat({ server: { host: A, port }, transports: ['tcp'], cachePath });
      assert.ok(other.tcp && !other.udp, 'a cache without the requested transport is measured again');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an aborted discovery rejects with AbortedError', async () => {
    const controller = new AbortController();
    const running = discoverNat({ server: { host: A, port: 9 }, timeoutMs: 5000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(running, AbortedError);
  });

  test('bad options are typed errors', async () => {
    await assert.rejects(discoverNat({ server: { host: '' } }), InvalidArgumentError);
    await assert.rejects(discoverNat({ server: { host: A, port: 70000 } }), InvalidArgumentError);
    await assert.rejects(discoverNat({ server: { host: A }, transports: [] }), InvalidArgumentError);
    await assert.rejects(discoverNat({ server: { host: A }, timeoutMs: 0 }), InvalidArgumentError);
  });
});

describe('discoverNat when the server cannot run the behaviour tests', () => {
  test('no UDP answer at all is udp-blocked within the timeout, TCP still measured', async () => {
    const server = await startStunServer({ host: A, altHost: B, port: 0, altPort: 0, udp: false });
    try {
      const profile = await discoverNat({ server: { host: A, port: server.endpoints.port }, timeoutMs: 300 });
      assert.equal(profile.udp!.rfc3489Type, 'udp-blocked');
      assert.ok(profile.udp!.evidence.observations.every((o) => o.outcome === 'no-response' && /ERR_TIMEOUT/.test(o.error ?? '')));
      assert.equal(profile.tcp!.kind, 'cone');
    } finally {
      await server.close();
    }
  });

  test('a single-address server: mapping and filtering are unknown with the reason, not guessed', async () => {
    const server = await startStunServer({ host: A, port: 0, altPort: 0 });
    try {
      const profile = await discoverNat({ server: { host: A, port: server.endpoints.port }, transports: ['udp'], timeoutMs: 300 });
      const udp = profile.udp!;
      assert.equal(udp.mapping, 'unknown');
      assert.equal(udp.filtering, 'unknown');
      assert.equal(udp.rfc3489Type, 'unknown');
      assert.match(udp.evidence.notes.join('\n'), /no OTHER-ADDRESS/);
      assert.notEqual(udp.mapped, null);
    } finally {
      await server.close();
    }
  });

  test('altServer supplies the alternate address; filtering stays unknown when CHANGE-REQUEST is not honoured', async () => {
    const first = await startStunServer({ host: A, port: 0, altPort: 0 });
    const second = await startStunServer({ host: B, port: first.endpoints.port, altPort: first.endpoints.altPort });
    try {
      const profile = await discoverNat({
        server: { host: A, port: first.endpoints.port },
        altServer: { host: B, port: first.endpoints.altPort },
        transports: ['udp'],
        timeoutMs: 300,
      });
      const udp = profile.udp!;
      assert.equal(udp.mapping, EIM, JSON.stringify(udp.evidence, null, 1));
      assert.equal(udp.filtering, 'unknown');
      assert.match(udp.evidence.notes.join('\n'), /filtering: test II unusable/);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});

function installed(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

async function portFree(port: number): Promise<boolean> {
  const checks = [A, B].flatMap((host) => [
    new Promise<boolean>((resolve) => {
      const udp = dgram.createSocket('udp4');
      udp.once('error', () => resolve(false)).bind(port, host, () => udp.close(() => resolve(true)));
    }),
    new Promise<boolean>((resolve) => {
      const tcp = net.createServer();
      tcp.once('error', () => resolve(false)).listen(port, host, () => tcp.close(() => resolve(true)));
    }),
  ]);
  return (await Promise.all(checks)).every(Boolean);
}

const coturnMissing = installed('turnserver') ? false : 'coturn not installed (apt-get install coturn)';
if (coturnMissing) process.stderr.write(`\n*** discovery against coturn SKIPPED: ${coturnMissing} ***\n\n`);

describe('discoverNat against coturn (RFC 5780 on 127.0.0.1 + 127.0.0.2)', { skip: coturnMissing }, () => {
  let turnserver: ChildProcess | undefined;
  let workDir = '';
  let port = 0;
  let log = '';

  before(async () => {
    for (let attempt = 0; port === 0; attempt++) {
      const candidate = 20000 + 2 * Math.floor(Math.random() * 20000);
      if ((await portFree(candidate)) && (await portFree(candidate + 1))) port = candidate;
      if (attempt > 50) throw new Error('no free port pair for coturn');
    }
    workDir = mkdtempSync(join(tmpdir(), 'ntcp-discovery-coturn-'));
    // Two listening IPs plus an alternate port make coturn a full RFC 5780 server.
    turnserver = spawn('turnserver', [
      '-n', '--stun-only', '-L', A, '-L', B, '--listening-port', String(port), '--alt-listening-port', String(port + 1),
      '--no-tls', '--no-dtls', '--no-cli', '--log-file', 'stdout', '--simple-log',
      '--pidfile', join(workDir, 'turnserver.pid'), '--userdb', join(workDir, 'turndb'),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    turnserver.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    turnserver.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    // turnserver has no readiness signal: ask until it answers on both addresses
    for (let attempt = 0; ; attempt++) {
      try {
        await udpBinding({ server: { host: B, port: port + 1 }, rtoMs: 50, rc: 3, rm: 2 });
        return;
      } catch (error) {
        if (attempt >= 40 || turnserver.exitCode !== null) throw new Error(`turnserver did not come up:\n${log}`, { cause: error });
      }
    }
  });

  after(() => {
    if (turnserver?.pid !== undefined && turnserver.exitCode === null) process.kill(turnserver.pid, 'SIGTERM');
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  test('reports endpoint-independent mapping and filtering for loopback', async () => {
    assertOpenLoopback(await discoverNat({ server: { host: A, port } }));
  });
});
