import assert from 'node:assert/strict';
import { test } from 'node:test';
import { natViewOf, planTcp, stageOffsets, type TcpNatView } from '../../../src/punch/tcp/planner.js';
import type { NatProfile } from '../../../src/discovery/profile.js';

const cone = (publicAddress: string, filtering: TcpNatView['filtering'] = 'port'): TcpNatView => ({ public: false, mapping: 'cone', filtering, publicAddress });
const delta = (publicAddress: string, step: number): TcpNatView => ({ public: false, mapping: 'delta', delta: step, filtering: 'port', publicAddress });
const random = (publicAddress: string): TcpNatView => ({ public: false, mapping: 'random', filtering: 'port', publicAddress });
const open = (publicAddress: string): TcpNatView => ({ public: true, mapping: 'cone', filtering: 'open', publicAddress });

test('a public responder is dialled directly by the initiator', () => {
  const plan = planTcp(cone('198.51.100.1'), open('203.0.113.9'));
  assert.deepEqual(plan.stages.map((s) => [s.method, s.lead]), [['tcp-direct', 'responder']]);
});

test('a public initiator behind no NAT is reached by reversal: the NATed responder dials it', () => {
  const plan = planTcp(open('203.0.113.9'), delta('198.51.100.1', 2));
  assert.deepEqual(plan.stages.map((s) => [s.method, s.lead]), [['tcp-reversal', 'initiator']]);
});

test('two cone NATs: synchronised simultaneous open first, STUNT #2 second', () => {
  const plan = planTcp(cone('198.51.100.1'), cone('198.51.100.2'));
  assert.deepEqual(plan.stages.map((s) => s.technique), ['simultaneous-open', 'asymmetric']);
  assert.deepEqual(plan.stages.map((s) => s.method), ['tcp-simultaneous-open', 'tcp-stunt2']);
});

test('same public address tries the LAN first, with the responder listening on its host address', () => {
  const plan = planTcp(cone('198.51.100.1'), cone('198.51.100.1'));
  assert.equal(plan.stages[0]?.method, 'lan');
  assert.equal(plan.stages[0]?.hostCandidates, true);
  assert.equal(plan.stages[0]?.lead, 'responder');
  assert.ok(plan.stages.length > 1, 'hairpin strategies follow when the LAN dial fails');
});

test('a sequential NAT is predicted and the cone side opens the hole so the sequential side dials once', () => {
  const plan = planTcp(delta('198.51.100.1', 2), cone('198.51.100.2'));
  assert.equal(plan.stages[0]?.method, 'tcp-predict');
  assert.equal(plan.stages[0]?.technique, 'asymmetric');
  assert.equal(plan.stages[0]?.lead, 'responder');
  assert.equal(plan.stages[0]?.predict, true);
  const mirrored = planTcp(cone('198.51.100.2'), delta('198.51.100.1', 1));
  assert.equal(mirrored.stages[0]?.lead, 'initiator');
});

test('two sequential NATs are predicted from both sides', () => {
  const plan = planTcp(delta('198.51.100.1', 1), delta('198.51.100.2', 2));
  assert.ok(plan.stages.length >= 1);
  assert.ok(plan.stages.every((s) => s.method === 'tcp-predict' && s.predict === true));
});

test('random against random, and random against sequential, have no plan and say why', () => {
  const both = planTcp(random('198.51.100.1'), random('198.51.100.2'));
  assert.deepEqual(both.stages, []);
  assert.match(both.impossible ?? '', /both NATs map TCP ports randomly/);
  const sequential = planTcp(random('198.51.100.1'), delta('198.51.100.2', 1));
  assert.deepEqual(sequential.stages, []);
  assert.match(sequential.impossible ?? '', /not endpoint-independent/);
});

test('random against a port-restricted cone: a birthday attempt led by the random side', () => {
  const plan = planTcp(cone('198.51.100.2', 'port'), random('198.51.100.1'));
  assert.deepEqual(plan.stages.map((s) => [s.technique, s.method, s.lead, s.birthday]), [['asymmetric', 'tcp-predict', 'responder', true]]);
});

test('random against an address-filtering cone: the cone side opens and listens, the random side dials', () => {
  const plan = planTcp(random('198.51.100.1'), cone('198.51.100.2', 'address'));
  assert.deepEqual(plan.stages.map((s) => [s.technique, s.lead]), [['asymmetric', 'responder']]);
});

test('unknown profiles still get the cone strategies', () => {
  const unknown: TcpNatView = { public: false, mapping: 'unknown', filtering: 'unknown' };
  assert.deepEqual(planTcp(unknown, unknown).stages.map((s) => s.technique), ['simultaneous-open', 'asymmetric']);
});

test('both peers derive the same plan and consecutive stage slots', () => {
  const a = cone('198.51.100.1');
  const b = delta('198.51.100.2', 1);
  assert.deepEqual(planTcp(a, b), planTcp({ ...a }, { ...b }));
  const plan = planTcp(a, b);
  const offsets = stageOffsets(plan);
  assert.equal(offsets[0], 0);
  assert.equal(offsets[1], plan.stages[0]!.durationMs);
});

function profile(tcp: Partial<NonNullable<NatProfile['tcp']>>, filtering: 'endpoint-independent' | 'address-and-port-dependent' = 'address-and-port-dependent'): NatProfile {
  return {
    version: 1,
    server: { host: '203.0.113.1', port: 3478 },
    altServer: null,
    measuredAt: '2026-01-01T00:00:00Z',
    durationMs: 1,
    local: { address: '10.0.0.2', interfaces: ['10.0.0.2'] },
    udp: { filtering } as NonNullable<NatProfile['udp']>,
    tcp: {
      reachable: true,
      local: { family: 'IPv4', address: '10.0.0.2', port: 4000 },
      mapped: { family: 'IPv4', address: '198.51.100.7', port: 4000 },
      natPresent: true,
      mapping: 'endpoint-independent',
      portPreserving: true,
      kind: 'cone',
      evidence: { observations: [], notes: [] },
      ...tcp,
    },
  };
}

test('natViewOf reads the TCP fingerprint, the public address and (from UDP) the filtering', () => {
  assert.deepEqual(natViewOf(profile({})), { public: false, mapping: 'cone', filtering: 'port', publicAddress: '198.51.100.7' });
  assert.deepEqual(natViewOf(profile({ kind: 'delta-symmetric', delta: 2 })), {
    public: false, mapping: 'delta', delta: 2, filtering: 'port', publicAddress: '198.51.100.7',
  });
  const publicHost = natViewOf(profile({ natPresent: false, mapped: { family: 'IPv4', address: '10.0.0.2', port: 4000 } }));
  assert.equal(publicHost.public, true);
  assert.deepEqual(natViewOf(undefined, '198.51.100.3'), { public: false, mapping: 'unknown', filtering: 'unknown', publicAddress: '198.51.100.3' });
});
