import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BIRTHDAY_PROBES,
  BIRTHDAY_SOCKETS,
  BIRTHDAY_MAX_ROUNDS,
  classifyNat,
  planUdp,
  PREDICTION_WINDOW_CONE_PEER,
  PREDICTION_WINDOW_SEQUENTIAL_PEER,
  type PunchProfile,
  type UdpStrategy,
} from '../../../src/punch/udp/planner.js';
import { birthdaySuccessProbability, FULL_PORT_RANGE } from '../../../src/punch/predict.js';
import type { NatProfile } from '../../../src/discovery/profile.js';

const profiles = {
  open: { udp: { mapping: 'endpoint-independent', filtering: 'endpoint-independent', natPresent: false } },
  fullCone: { udp: { mapping: 'endpoint-independent', filtering: 'endpoint-independent', natPresent: true } },
  restricted: { udp: { mapping: 'endpoint-independent', filtering: 'address-dependent', natPresent: true } },
  portRestricted: { udp: { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', natPresent: true } },
  symmetric: { udp: { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', natPresent: true } },
  sequential: { udp: { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', natPresent: true, delta: 2 } },
  unknown: undefined,
} satisfies Record<string, PunchProfile | undefined>;
type Name = keyof typeof profiles;
const names = Object.keys(profiles) as Name[];

const kinds = (strategies: UdpStrategy[]) => strategies.map((s) => s.kind);

test('a discovery NatProfile is accepted by the planner as it is', () => {
  const natProfile = {} as NatProfile;
  const asPunchProfile: PunchProfile = natProfile;
  assert.equal(classifyNat(asPunchProfile), 'unknown');
});

test('NAT classes follow mapping behaviour and delta', () => {
  assert.equal(classifyNat(profiles.open), 'open');
  assert.equal(classifyNat(profiles.portRestricted), 'cone');
  assert.equal(classifyNat(profiles.sequential), 'sequential');
  assert.equal(classifyNat(profiles.symmetric), 'random');
  assert.equal(classifyNat(undefined), 'unknown');
});

test('cone-type pairs punch their server-reflexive endpoints', () => {
  for (const a of ['open', 'fullCone', 'restricted', 'portRestricted'] as const) {
    for (const b of ['open', 'fullCone', 'restricted', 'portRestricted'] as const) {
      assert.deepEqual(kinds(planUdp(profiles[a], profiles[b]).strategies), ['punch'], `${a} x ${b}`);
    }
  }
});

test('a symmetric NAT meets a lenient cone by plain punching (peer-reflexive answers)', () => {
  for (const cone of ['open', 'fullCone', 'restricted'] as const) {
    assert.deepEqual(kinds(planUdp(profiles.symmetric, profiles[cone]).strategies), ['punch']);
    assert.deepEqual(kinds(planUdp(profiles[cone], profiles.symmetric).strategies), ['punch']);
  }
});

test('random symmetric against port-restricted: birthday, many sockets on the symmetric side', () => {
  const symmetricSide = planUdp(profiles.symmetric, profiles.portRestricted).strategies;
  const coneSide = planUdp(profiles.portRestricted, profiles.symmetric).strategies;
  assert.deepEqual(symmetricSide, [
    { kind: 'birthday', role: 'sockets', sockets: BIRTHDAY_SOCKETS, probes: BIRTHDAY_PROBES, rounds: BIRTHDAY_MAX_ROUNDS },
  ]);
  assert.deepEqual(coneSide, [
    { kind: 'birthday', role: 'probes', sockets: BIRTHDAY_SOCKETS, probes: BIRTHDAY_PROBES, rounds: BIRTHDAY_MAX_ROUNDS },
  ]);
});

test('the birthday budget succeeds with high probability over the whole port space', () => {
  const size = FULL_PORT_RANGE.max - FULL_PORT_RANGE.min + 1;
  const oneRound = birthdaySuccessProbability(BIRTHDAY_SOCKETS, BIRTHDAY_PROBES, size);
  assert.ok(oneRound > 0.999, `one round succeeds with p = ${oneRound}`);
});

test('sequential against port-restricted: the sequential side announces a window, the cone probes it', () => {
  const [seq] = planUdp(profiles.sequential, profiles.portRestricted).strategies;
  const [cone] = planUdp(profiles.portRestricted, profiles.sequential).strategies;
  assert.deepEqual(seq, { kind: 'predict', announce: true, window: PREDICTION_WINDOW_CONE_PEER, probePredicted: false, target: 'srflx' });
  assert.deepEqual(cone, { kind: 'predict', announce: false, window: 0, probePredicted: true, target: 'srflx' });
});

test('sequential on both sides: both announce one port and probe the other side\'s', () => {
  const plan = planUdp(profiles.sequential, profiles.sequential);
  assert.deepEqual(plan.strategies, [
    { kind: 'predict', announce: true, window: PREDICTION_WINDOW_SEQUENTIAL_PEER, probePredicted: true, target: 'predicted' },
  ]);
  assert.equal(plan.noPathReason, undefined);
});

test('random symmetric on both sides, or random against sequential, has no direct path', () => {
  for (const [a, b] of [['symmetric', 'symmetric'], ['symmetric', 'sequential'], ['sequential', 'symmetric']] as const) {
    const plan = planUdp(profiles[a], profiles[b]);
    assert.deepEqual(plan.strategies, [], `${a} x ${b}`);
    assert.match(plan.noPathReason ?? '', /no direct UDP path/);
  }
});

test('same NAT tries host candidates first and is never without a path', () => {
  const plan = planUdp(profiles.symmetric, profiles.symmetric, { sameNat: true });
  assert.deepEqual(kinds(plan.strategies), ['lan']);
  assert.equal(plan.noPathReason, undefined);
  assert.deepEqual(kinds(planUdp(profiles.portRestricted, profiles.portRestricted, { sameNat: true }).strategies), ['lan', 'punch']);
});

test('the table is symmetric: every side-specific part has its counterpart on the other side', () => {
  for (const a of names) {
    for (const b of names) {
      const mine = planUdp(profiles[a], profiles[b]).strategies;
      const theirs = planUdp(profiles[b], profiles[a]).strategies;
      assert.deepEqual(kinds(mine), kinds(theirs), `${a} x ${b}`);
      mine.forEach((strategy, i) => {
        const other = theirs[i]!;
        if (strategy.kind === 'birthday' && other.kind === 'birthday') assert.notEqual(strategy.role, other.role);
        if (strategy.kind === 'predict' && other.kind === 'predict') {
          assert.equal(strategy.announce, other.probePredicted, `${a} x ${b}: an announcement needs a prober`);
        }
      });
    }
  }
});
