import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Lab, labUnavailableReason, type NatSpec, type SiteFirewall } from '../../src/lab/index.js';
import { NatProfileSchema, type NatProfile } from '../../src/discovery/index.js';

/**
 * `ntcp probe --json` (the built CLI) from a host behind every lab preset, against our STUN
 * server on the lab server's two addresses: the profile must name exactly the configured NAT.
 */

const TIMEOUT_MS = 1000;
const LIFETIME_S = 2;
/** Checks at 1, 2 and 4 s of idle time bracket a 2 s mapping timeout. */
const LIFETIME_MAX_MS = 4000;
const CLI = [process.execPath, 'dist/cli/main.js'];
/** A server that never comes up fails the suite instead of hanging it. */
const READY_TIMEOUT_MS = 30_000;

interface Expected {
  nat: NatSpec;
  behind?: string;
  firewall?: SiteFirewall;
  udp:
    | { blocked: true }
    | { mapping: string; filtering: string; rfc3489Type: string; portPreserving: boolean; delta?: number; natPresent: boolean; hairpinning?: string };
  tcp: { mapping: string; kind: string; portPreserving: boolean; delta?: number; natPresent: boolean };
}

const EIM = 'endpoint-independent';
const APD = 'address-and-port-dependent';
const cone = { mapping: EIM, kind: 'cone', portPreserving: true, natPresent: true };

const SITES: Record<string, Expected> = {
  open: {
    nat: 'none',
    udp: { mapping: EIM, filtering: EIM, rfc3489Type: 'open-internet', portPreserving: true, natPresent: false },
    tcp: { ...cone, natPresent: false },
  },
  full: { nat: 'full-cone', udp: { mapping: EIM, filtering: EIM, rfc3489Type: 'full-cone', portPreserving: true, natPresent: true }, tcp: cone },
  restr: {
    nat: 'restricted-cone',
    udp: { mapping: EIM, filtering: 'address-dependent', rfc3489Type: 'restricted-cone', portPreserving: true, natPresent: true },
    tcp: cone,
  },
  port: {
    nat: 'port-restricted',
    udp: { mapping: EIM, filtering: APD, rfc3489Type: 'port-restricted-cone', portPreserving: true, natPresent: true },
    tcp: cone,
  },
  sym: {
    nat: 'symmetric',
    udp: { mapping: APD, filtering: APD, rfc3489Type: 'symmetric', portPreserving: false, natPresent: true },
    tcp: { mapping: APD, kind: 'random-symmetric', portPreserving: false, natPresent: true },
  },
  seqa: {
    nat: 'symmetric-seq:1',
    udp: { mapping: APD, filtering: APD, rfc3489Type: 'symmetric', portPreserving: false, delta: 1, natPresent: true },
    tcp: { mapping: APD, kind: 'delta-symmetric', portPreserving: false, delta: 1, natPresent: true },
  },
  seqb: {
    nat: 'symmetric-seq:2',
    udp: { mapping: APD, filtering: APD, rfc3489Type: 'symmetric', portPreserving: false, delta: 2, natPresent: true },
    tcp: { mapping: APD, kind: 'delta-symmetric', portPreserving: false, delta: 2, natPresent: true },
  },
  // Double NAT: a full-cone home router behind a port-restricted carrier-grade NAT filters like the outer one.
  home: {
    nat: 'full-cone',
    behind: 'cgn',
    udp: { mapping: EIM, filtering: APD, rfc3489Type: 'port-restricted-cone', portPreserving: true, natPresent: true },
    tcp: cone,
  },
  // A port-restricted router whose firewall drops all UDP.
  fw: { nat: 'port-restricted', firewall: { udp: 'block' }, udp: { blocked: true }, tcp: cone },
  // Beyond the presets: a cone that does not keep ports, an address-dependent mapping, no hairpinning.
  hash: {
    nat: { preset: 'full-cone', portAllocation: 'hash' },
    udp: { mapping: EIM, filtering: EIM, rfc3489Type: 'full-cone', portPreserving: false, natPresent: true },
    tcp: { ...cone, portPreserving: false },
  },
  adm: {
    nat: { preset: 'port-restricted', mapping: 'address-dependent' },
    udp: { mapping: 'address-dependent', filtering: APD, rfc3489Type: 'symmetric', portPreserving: false, natPresent: true },
    tcp: { mapping: 'address-dependent', kind: 'random-symmetric', portPreserving: false, natPresent: true },
  },
  nohp: {
    nat: { preset: 'port-restricted', hairpin: false },
    udp: { mapping: EIM, filtering: APD, rfc3489Type: 'port-restricted-cone', portPreserving: true, natPresent: true, hairpinning: 'unsupported' },
    tcp: cone,
  },
  // Idle UDP mappings die after LIFETIME_S: probed with --lifetime.
  life: {
    nat: { preset: 'port-restricted', udpTimeoutS: LIFETIME_S },
    udp: { mapping: EIM, filtering: APD, rfc3489Type: 'port-restricted-cone', portPreserving: true, natPresent: true },
    tcp: cone,
  },
};

/**
 * Sites probed from two hosts at once: a sequential NAT's port counter is shared by its hosts, so
 * each probe's slow mapping series is interleaved by the other's (CI: udp-delay20-mk registered
 * as random); the delta must still come out exact.
 */
const CONCURRENT_SITES = ['seqa', 'seqb'];

const skipReason = labUnavailableReason();

describe('ntcp probe in the NAT lab', { skip: skipReason ? `needs root: ${skipReason}` : false }, () => {
  let lab: Lab;
  let server: ChildProcess;
  const profiles = new Map<string, NatProfile>();

  before(async () => {
    lab = await Lab.create({
      sites: [
        { name: 'cgn', nat: 'port-restricted', hosts: 0 },
        ...Object.entries(SITES).map(([name, site]) => ({
          name, nat: site.nat, hosts: CONCURRENT_SITES.includes(name) ? 2 : 1, ...(site.behind ? { behind: site.behind } : {}), ...(site.firewall ? { firewall: site.firewall } : {}),
        })),
      ],
    });
    const [primary, alternate] = lab.addresses('server');
    server = lab.spawn('server', [...CLI, 'stun-server', '--host', primary!, '--alt-host', alternate!], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let log = '';
      server.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('listening')) resolve();
      });
      server.once('exit', (code) => reject(new Error(`stun-server exited with ${code}: ${log}`)));
      setTimeout(() => reject(new Error(`stun-server not listening after ${READY_TIMEOUT_MS} ms: ${log}`)), READY_TIMEOUT_MS).unref();
    });
    // Every host probes at once: one lab, one server, concurrent probes.
    const probes = [...Object.keys(SITES).map((site) => [site, `${site}1`]), ...CONCURRENT_SITES.map((site) => [`${site}@2`, `${site}2`])];
    await Promise.all(
      probes.map(async ([key, host]) => {
        const lifetime = key === 'life' ? ['--lifetime', String(LIFETIME_MAX_MS)] : [];
        const argv = [...CLI, 'probe', '--server', `${primary}:3478`, '--json', '--timeout', String(TIMEOUT_MS), ...lifetime];
        const result = await lab.exec(host!, argv, { timeoutMs: 30_000 });
        assert.equal(result.code, 0, `probe from ${host} failed: ${result.stderr}`);
        profiles.set(key!, NatProfileSchema.parse(JSON.parse(result.stdout)));
      }),
    );
  });

  after(async () => {
    await lab?.destroy();
  });

  for (const [site, expected] of Object.entries(SITES)) {
    test(`${site} (${typeof expected.nat === 'string' ? expected.nat : 'custom'}${expected.behind ? ` behind ${expected.behind}` : ''}): UDP profile`, (t) => {
      const { udp: udpPart, tcp: tcpPart, durationMs } = profiles.get(site)!;
      const udp = udpPart!;
      t.diagnostic(
        `observed in ${durationMs} ms: udp ${udp.rfc3489Type} mapping=${udp.mapping} filtering=${udp.filtering} pp=${udp.portPreserving} delta=${udp.delta ?? '-'} hairpin=${udp.hairpinning}` +
          ` | tcp ${tcpPart!.kind} mapping=${tcpPart!.mapping} pp=${tcpPart!.portPreserving} delta=${tcpPart!.delta ?? '-'}`,
      );
      const context = JSON.stringify(udp.evidence.notes, null, 1);
      if ('blocked' in expected.udp) {
        assert.equal(udp.rfc3489Type, 'udp-blocked', context);
        assert.equal(udp.mapped, null);
        assert.ok(udp.evidence.observations.every((observation) => observation.outcome === 'no-response'), context);
        return;
      }
      const { delta, hairpinning = 'supported', ...rest } = expected.udp;
      assert.deepEqual(
        { mapping: udp.mapping, filtering: udp.filtering, rfc3489Type: udp.rfc3489Type, portPreserving: udp.portPreserving, natPresent: udp.natPresent },
        rest,
        context,
      );
      assert.equal(udp.delta, delta, context);
      assert.equal(udp.hairpinning, hairpinning, context);
      if (udp.natPresent) assert.equal(udp.mapped!.address, lab.publicAddress(site));
    });

    if (CONCURRENT_SITES.includes(site)) {
      test(`${site}: a second host probing at the same moment behind the same NAT measures the same UDP and TCP delta`, (t) => {
        const [first, second] = [profiles.get(site)!, profiles.get(`${site}@2`)!];
        const context = JSON.stringify({ first: first.udp!.evidence.notes, second: second.udp!.evidence.notes }, null, 1);
        t.diagnostic(`udp deltas ${first.udp!.delta ?? '-'} and ${second.udp!.delta ?? '-'}, tcp deltas ${first.tcp!.delta ?? '-'} and ${second.tcp!.delta ?? '-'}`);
        const want = 'delta' in expected.udp ? expected.udp.delta : undefined;
        assert.ok(want !== undefined);
        assert.equal(first.udp!.delta, want, context);
        assert.equal(second.udp!.delta, want, context);
        assert.equal(second.tcp!.delta, expected.tcp.delta, JSON.stringify(second.tcp!.evidence.notes, null, 1));
      });
    }

    if (site === 'life') {
      test(`${site}: the configured ${LIFETIME_S} s UDP mapping timeout lies within the measured lifetime bounds`, () => {
        const udp = profiles.get(site)!.udp!;
        const lifetime = udp.mappingLifetime;
        assert.ok(lifetime, JSON.stringify(udp.evidence.notes));
        assert.ok(lifetime.aliveMs >= 1000 && lifetime.aliveMs <= LIFETIME_S * 1000, JSON.stringify(lifetime));
        assert.ok(lifetime.expiredMs !== null && lifetime.expiredMs >= LIFETIME_S * 1000, JSON.stringify(lifetime));
      });
    } else {
      test(`${site}: no mapping lifetime unless asked for`, () => assert.equal(profiles.get(site)!.udp!.mappingLifetime, undefined));
    }

    test(`${site}: TCP fingerprint`, () => {
      const tcp = profiles.get(site)!.tcp!;
      const context = JSON.stringify(tcp.evidence, null, 1);
      assert.equal(tcp.reachable, true, context);
      const { delta, ...rest } = expected.tcp;
      assert.deepEqual({ mapping: tcp.mapping, kind: tcp.kind, portPreserving: tcp.portPreserving, natPresent: tcp.natPresent }, rest, context);
      assert.equal(tcp.delta, delta, context);
    });
  }
});
