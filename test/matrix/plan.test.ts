import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cellText, countIntactLines, udpLines, directPathExpected, judge, onlyPairs, PairQueue, pathExpectation, planMatrix, SitePool, type MatrixPair, type PairResult,
} from '../../src/lab/matrix/index.js';

const RST_PORT_RESTRICTED = { preset: 'port-restricted', inboundSyn: 'rst' } as const;

test('a side without NAT, or both sides behind one NAT, always has a direct path', () => {
  assert.equal(pathExpectation('none', 'symmetric', 'tcp'), 'direct');
  assert.equal(pathExpectation('symmetric', 'none', 'tcp'), 'direct');
  assert.equal(pathExpectation('symmetric', 'symmetric', 'tcp', { sameNat: true }), 'direct');
});

test('predictable mappings on both sides (cone or sequential) connect directly', () => {
  for (const a of ['full-cone', 'restricted-cone', 'port-restricted', 'symmetric-seq:1', 'symmetric-seq:2'] as const) {
    for (const b of ['full-cone', 'port-restricted', 'symmetric-seq:1', 'symmetric-seq:2'] as const) {
      assert.equal(pathExpectation(a, b, 'tcp'), 'direct', `${a} <-> ${b}`);
    }
  }
  assert.equal(pathExpectation(RST_PORT_RESTRICTED, 'symmetric-seq:2', 'tcp'), 'direct');
});

test('UDP reaches a random mapper through a leniently filtering cone directly, through a port-filtering cone by birthday', () => {
  assert.equal(pathExpectation('symmetric', 'full-cone', 'udp'), 'direct');
  assert.equal(pathExpectation('restricted-cone', 'symmetric', 'udp'), 'direct');
  assert.equal(pathExpectation('symmetric', 'port-restricted', 'udp'), 'birthday');
});

test('TCP reaches a random mapper through any cone by birthday only (TCP filtering is not measured)', () => {
  assert.equal(pathExpectation('symmetric', 'full-cone', 'tcp'), 'birthday');
  assert.equal(pathExpectation('restricted-cone', 'symmetric', 'tcp'), 'birthday');
  assert.equal(pathExpectation(RST_PORT_RESTRICTED, 'symmetric', 'tcp'), 'birthday');
});

test('a random mapper against a sequential or random one has no direct path, in both directions', () => {
  for (const other of ['symmetric', 'symmetric-seq:1', 'symmetric-seq:2'] as const) {
    assert.equal(pathExpectation('symmetric', other, 'tcp'), 'none');
    assert.equal(pathExpectation(other, 'symmetric', 'udp'), 'none');
    assert.equal(directPathExpected('symmetric', other, 'tcp'), false);
  }
  assert.equal(directPathExpected('symmetric', 'port-restricted', 'tcp'), true);
});

test('a UDP-blocking firewall leaves no UDP path between sites, keeps the LAN, and does not touch TCP', () => {
  assert.equal(pathExpectation('port-restricted', 'full-cone', 'udp', { udpBlocked: true }), 'none');
  assert.equal(pathExpectation('none', 'port-restricted', 'udp', { udpBlocked: true }), 'none', 'even towards a public host');
  assert.equal(pathExpectation('port-restricted', 'port-restricted', 'udp', { udpBlocked: true, sameNat: true }), 'direct',
    'the firewall filters what the router forwards: two hosts behind it still share a LAN');
  assert.equal(pathExpectation('port-restricted', 'port-restricted', 'tcp', { udpBlocked: true, sameNat: true }), 'direct');
  assert.equal(pathExpectation('port-restricted', 'symmetric-seq:1', 'tcp', { udpBlocked: true }), 'direct');
  assert.equal(pathExpectation('port-restricted', 'symmetric', 'tcp', { udpBlocked: true }), 'birthday');
});

test('the udp-blocked preset: its sites drop UDP; TCP pairs expect what port-restricted ones do, UDP pairs no path (relay only)', () => {
  const presets = ['none', 'full-cone', 'port-restricted', 'symmetric', 'symmetric-seq:1', 'udp-blocked'];
  const plan = planMatrix({ transports: ['tcp', 'udp'], variants: [{ variant: 'plain', presets }] });
  const blocked = plan.sites.filter((site) => site.firewall?.udp === 'block');
  assert.deepEqual(blocked.map((site) => site.name), ['uza', 'uzb']);
  assert.ok(blocked.every((site) => site.nat === 'port-restricted'));
  const expect = (id: string): string => plan.pairs.find((pair) => pair.id === id)!.expect;
  for (const other of ['n', 'f', 'p', 's', 'k']) {
    assert.equal(expect(`tcp-plain-u${other}`), expect(`tcp-plain-p${other}`), `tcp udp-blocked -> ${other}`);
    assert.equal(expect(`tcp-plain-${other}u`), expect(`tcp-plain-${other}p`), `tcp ${other} -> udp-blocked`);
    assert.equal(expect(`udp-plain-u${other}`), 'none', `udp udp-blocked -> ${other}`);
    assert.equal(expect(`udp-plain-${other}u`), 'none', `udp ${other} -> udp-blocked`);
  }
  assert.equal(expect('udp-plain-uu'), 'none');
  assert.equal(expect('udp-plain-usame'), 'direct', 'over the LAN');
  assert.equal(expect('tcp-plain-usame'), 'direct');
  assert.equal(expect('udp-plain-ps'), 'birthday', 'other pairs keep their expectations');
});

test('the plan holds every ordered pair per transport and variant, with unique ids and distinct sites', () => {
  const plan = planMatrix({ transports: ['tcp', 'udp'], variants: [{ variant: 'plain' }, { variant: 'delay20', presets: ['full-cone', 'symmetric'], sameNat: false }] });
  assert.equal(plan.pairs.length, 2 * (9 * 9 + 9) + 2 * 4);
  assert.equal(new Set(plan.pairs.map((pair) => pair.id)).size, plan.pairs.length);
  assert.equal(plan.sites.length, 9 * 2 + 2 * 2);
  assert.equal(new Set(plan.sites.map((site) => site.name)).size, plan.sites.length);
  assert.ok(plan.sites.filter((site) => site.name.endsWith('da') || site.name.endsWith('db')).every((site) => site.delayMs === 20));
  const ss = plan.pairs.find((pair) => pair.id === 'udp-plain-ss')!;
  assert.equal(ss.expect, 'none');
  assert.equal(plan.pairs.find((pair) => pair.id === 'tcp-plain-ssame')!.expect, 'direct');
});

test('a rerun of a few cells keeps only those pairs and the sites they draw from; an unknown id is refused', () => {
  const plan = planMatrix({ transports: ['tcp', 'udp'], variants: [{ variant: 'plain' }, { variant: 'loss1' }] });
  const few = onlyPairs(plan, ['tcp-plain-xf', 'udp-loss1-kx', 'udp-plain-usame']);
  assert.deepEqual(few.pairs.map((pair) => pair.id), ['tcp-plain-xf', 'udp-plain-usame', 'udp-loss1-kx']);
  assert.deepEqual([...few.sitesFor.keys()].sort(), ['loss1/port-restricted-rst', 'loss1/symmetric-seq:1', 'plain/full-cone', 'plain/port-restricted-rst', 'plain/udp-blocked']);
  assert.deepEqual(few.sites.map((site) => site.name).sort(), ['fza', 'fzb', 'kla', 'klb', 'uza', 'uzb', 'xla', 'xlb', 'xza', 'xzb']);
  assert.throws(() => onlyPairs(plan, ['tcp-plain-xf', 'tcp-delay20-xf']), { code: 'ERR_INVALID_ARGUMENT', message: /tcp-delay20-xf/ });
});

test('the site pool never hands a site to two pairs at once and gives a diagonal pair two sites', () => {
  const plan = planMatrix({ transports: ['tcp'], variants: [{ variant: 'plain', presets: ['symmetric-seq:1', 'full-cone'] }] });
  const pool = new SitePool(plan.sitesFor);
  const pair = (id: string): MatrixPair => plan.pairs.find((p) => p.id === id)!;
  const diagonal = pool.take(pair('tcp-plain-kk'))!;
  assert.equal(diagonal.length, 2);
  assert.notEqual(diagonal[0], diagonal[1]);
  assert.equal(pool.take(pair('tcp-plain-kf')), undefined, 'both sequential sites are busy');
  const cone = pool.take(pair('tcp-plain-ff'))!;
  assert.equal(pool.take(pair('tcp-plain-fsame')), undefined);
  pool.release(diagonal);
  const next = pool.take(pair('tcp-plain-kf'));
  assert.equal(next, undefined, 'the cone sites are still busy');
  pool.release(cone);
  assert.deepEqual(pool.take(pair('tcp-plain-kf'))?.length, 2);
});

test('only a TCP pair of two RST-answering NATs with no path delay runs alone', () => {
  const plan = planMatrix({
    transports: ['tcp', 'udp'],
    variants: [{ variant: 'plain', presets: ['port-restricted-rst', 'port-restricted'] }, { variant: 'delay20', presets: ['port-restricted-rst'] }],
  });
  const alone = plan.pairs.filter((pair) => pair.runsAlone).map((pair) => pair.id);
  assert.deepEqual(alone, ['tcp-plain-xx']);
});

test('the pair queue starts a pair that runs alone only when nothing runs, and nothing beside it', () => {
  const plan = planMatrix({ transports: ['tcp'], variants: [{ variant: 'plain', presets: ['port-restricted-rst', 'full-cone'], sameNat: false }] });
  const drain = (queue: PairQueue, finish: boolean): Array<{ pair: MatrixPair; sites: string[] }> => {
    const started = [];
    for (let next = queue.next(); next !== undefined; next = queue.next()) {
      started.push(next);
      if (finish) queue.done(next.pair, next.sites);
    }
    return started;
  };
  // In plan order xx comes first: it starts, and nothing beside it although sites are free.
  const inOrder = new PairQueue(plan.pairs, new SitePool(plan.sitesFor));
  const xx = inOrder.next()!;
  assert.equal(xx.pair.id, 'tcp-plain-xx');
  assert.equal(inOrder.next(), undefined);
  inOrder.done(xx.pair, xx.sites);
  assert.equal(drain(inOrder, true).length, plan.pairs.length - 1);
  assert.ok(inOrder.finished);
  // Last in order: it waits while the others run, and starts once they are done.
  const reversed = new PairQueue([...plan.pairs].reverse(), new SitePool(plan.sitesFor));
  const beside = drain(reversed, false);
  assert.ok(beside.length > 0 && beside.every(({ pair }) => !pair.runsAlone), beside.map(({ pair }) => pair.id).join(','));
  for (const { pair, sites } of beside) reversed.done(pair, sites);
  const rest = drain(reversed, true).map(({ pair }) => pair.id);
  assert.ok(rest.includes('tcp-plain-xx'));
  assert.ok(reversed.finished);
});

function result(pair: Partial<MatrixPair>, fields: Partial<PairResult>): Omit<PairResult, 'asExpected'> {
  const full: MatrixPair = { id: 'x', transport: 'tcp', variant: 'plain', connect: 'a', listen: 'b', sameNat: false, expect: 'direct', runsAlone: false, ...pair };
  return { pair: full, hosts: ['a1', 'b1'], connected: false, wallMs: 1, ...fields };
}

const delivered = { connected: true, method: 'tcp-simultaneous-open', dataOk: true, exitCodes: [0, 0] as [number, number] };

test('judging: direct pairs need verified data both ways and clean exits, without the relay', () => {
  assert.equal(judge(result({}, delivered), 'never'), true);
  assert.equal(judge(result({}, { ...delivered, dataOk: false }), 'never'), false);
  assert.equal(judge(result({}, { ...delivered, exitCodes: [0, 1] }), 'never'), false);
  assert.equal(judge(result({}, { code: 'ERR_PUNCH_FAILED' }), 'never'), false);
  assert.equal(judge(result({}, { ...delivered, method: 'relay' }), 'auto'), false, 'a direct pair must not take the relay');
});

test('judging: two hosts behind one NAT must connect over the LAN, not through the NAT', () => {
  const sameNat = { sameNat: true, listen: 'same-nat', connect: 'port-restricted' };
  assert.equal(judge(result(sameNat, { ...delivered, method: 'lan' }), 'never'), true);
  assert.equal(judge(result(sameNat, { ...delivered, method: 'udp-punch' }), 'never'), false);
  assert.equal(judge(result({ ...sameNat, connect: 'none' }, { ...delivered, method: 'tcp-direct' }), 'never'), true, 'public hosts have no LAN');
});

test('judging: pairs without a path must fail with a typed no-path error, or connect through the relay when it is on', () => {
  assert.equal(judge(result({ expect: 'none' }, { code: 'ERR_PUNCH_FAILED' }), 'never'), true);
  assert.equal(judge(result({ expect: 'none' }, { code: 'ERR_TIMEOUT' }), 'never'), true);
  assert.equal(judge(result({ expect: 'none' }, { code: 'ERR_HARNESS_TIMEOUT' }), 'never'), false);
  assert.equal(judge(result({ expect: 'none' }, delivered), 'never'), false);
  assert.equal(judge(result({ expect: 'none' }, { ...delivered, method: 'relay' }), 'auto'), true);
  assert.equal(judge(result({ expect: 'none' }, { code: 'ERR_PUNCH_FAILED' }), 'auto'), false);
  assert.equal(judge(result({ expect: 'none' }, { code: 'ERR_UDP_BLOCKED' }), 'never'), true, 'a side whose network drops UDP');
  assert.equal(judge(result({ expect: 'birthday' }, { code: 'ERR_PUNCH_FAILED' }), 'never'), true);
  assert.equal(judge(result({ expect: 'birthday' }, delivered), 'never'), true);
});

test('cells show method and ms, or the error code, and mark the unexpected', () => {
  assert.equal(cellText({ ...result({}, { ...delivered, elapsedMs: 95 }), asExpected: true }), 'simopen 95');
  assert.equal(cellText({ ...result({ expect: 'none' }, { code: 'ERR_PUNCH_FAILED' }), asExpected: true }), 'PUNCH_FAILED');
  assert.equal(cellText({ ...result({}, { code: 'ERR_TIMEOUT' }), asExpected: false }), '!TIMEOUT');
});

test('UDP lines are counted only when they arrive intact', () => {
  const sent = udpLines('c', 4);
  assert.equal(countIntactLines(sent, 'c', 4), 4);
  assert.equal(countIntactLines(Buffer.concat([sent.subarray(0, 250), sent.subarray(420)]), 'c', 4), 2, 'a lost datagram breaks the lines it cut');
  assert.equal(countIntactLines(sent, 'l', 4), 0, "the other side's lines do not count");
  assert.equal(countIntactLines(Buffer.from(sent.toString().replace('c:1:', 'c:9:')), 'c', 4), 3);
});
