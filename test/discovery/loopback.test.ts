import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortedError, InvalidArgumentError } from '../../src/errors.js';
import { startStunServer, udpBinding, type StunServer } from '../../src/stun/index.js';
import { compactProfile, discoverNat, NatProfileSchema, type DiscoveryStep, type NatProfile } from '../../src/discovery/index.js';
import { coturnSkipReason, startStunCoturn, type Coturn } from '../support/coturn.js';

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
  test('no UDP answer at all is udp-blocked after the silence window of test I (longer than the per-probe timeout), TCP still measured', async () => {
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

const coturnMissing = coturnSkipReason('discovery against coturn');

describe('discoverNat against coturn (RFC 5780 on 127.0.0.1 + 127.0.0.2)', { skip: coturnMissing }, () => {
  let coturn: Coturn;
  let port = 0;

  before(async () => {
    coturn = await startStunCoturn([A, B]);
    port = coturn.port;
  });

  after(() => coturn?.stop());

  test('reports endpoint-independent mapping and filtering for loopback', async () => {
    assertOpenLoopback(await discoverNat({ server: { host: A, port } }));
  });
});
