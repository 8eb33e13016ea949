import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Lab, labUnavailableReason } from '../../src/lab/index.js';
import { VERIFY_SITES, formatVerifyTable, verifyLab, type VerifyRow } from '../../src/lab/verify.js';

// One lab with a site per behaviour (VERIFY_SITES), built once and probed once; each test reads its rows.
const unavailable = labUnavailableReason();
let lab: Lab | undefined;
let rows: VerifyRow[] = [];

before(async () => {
  if (unavailable) return;
  lab = await Lab.create({ sites: VERIFY_SITES });
  rows = await verifyLab(lab);
  process.stdout.write(formatVerifyTable(rows));
});

after(async () => {
  await lab?.destroy();
});

function check(t: { skip(message: string): void }, subject: string, expected: string): void {
  if (unavailable) return t.skip(`needs root: ${unavailable}`);
  const found = rows.find((row) => row.subject === subject);
  assert.ok(found, `no verify row "${subject}"`);
  assert.equal(found.expected, expected);
  assert.deepEqual(found.problems, [], `${subject}: observed ${found.observed}`);
  assert.ok(found.ok);
}

for (const transport of ['udp', 'tcp']) {
  test(`full-cone over ${transport}: one port-preserving mapping, any endpoint gets in`, (t) => check(t, `full1 ${transport}`, 'EIM(pp)/EIF'));
  test(`restricted-cone over ${transport}: only addresses the host talked to get in`, (t) => check(t, `rest1 ${transport}`, 'EIM(pp)/ADF'));
  test(`port-restricted over ${transport}: only the exact endpoint gets in`, (t) => check(t, `port1 ${transport}`, 'EIM(pp)/APDF'));
  test(`symmetric over ${transport}: a random port per destination`, (t) => check(t, `sym1 ${transport}`, 'APDM(random)/APDF'));
  test(`symmetric-seq:2 over ${transport}: consecutive mappings exactly 2 apart`, (t) => check(t, `seq1 ${transport}`, 'APDM(seq+2)/APDF'));
  test(`EIM with hashed ports over ${transport}: stable mapping, port not preserved`, (t) => check(t, `hash1 ${transport}`, 'EIM(other)/EIF'));
  test(`address-dependent mapping over ${transport}: one port per destination address`, (t) => check(t, `adm1 ${transport}`, 'ADM(other)/ADF'));
  test(`NAT behind a CGN over ${transport}: the outer NAT's behaviour and address show`, (t) => check(t, `home1 ${transport}`, 'APDM(seq+3)/APDF'));
  test(`a host without NAT over ${transport} sees its own address`, (t) => check(t, `pub1 ${transport}`, 'no NAT'));
}

test('a firewall that blocks UDP: nothing comes back over UDP, TCP still goes through the NAT', (t) => {
  check(t, 'fw1 udp', 'blocked');
  check(t, 'fw1 tcp', 'EIM(pp)/APDF');
});

test('two hosts behind one NAT share the public address and reach each other privately', (t) => {
  check(t, 'full same-nat', 'one public address, private path ok');
  check(t, 'rst same-nat', 'one public address, private path ok');
});

for (const transport of ['udp', 'tcp']) {
  test(`hairpinning on over ${transport}: a host reaches its neighbour through the public mapping`, (t) => check(t, `port ${transport} hairpin on`, 'arrives from 203.0.113.12'));
  test(`hairpinning off over ${transport}: nothing arrives through the public mapping`, (t) => check(t, `rst ${transport} hairpin off`, 'nothing arrives'));
}
test('unsolicited inbound SYN is dropped by default', (t) => check(t, 'port unsolicited-syn', 'dropped'));
test('unsolicited inbound SYN is answered with RST when configured', (t) => check(t, 'rst unsolicited-syn', 'RST'));

test('every verify row passes', (t) => {
  if (unavailable) return t.skip(`needs root: ${unavailable}`);
  assert.ok(rows.length >= 27, `only ${rows.length} rows`);
  assert.deepEqual(rows.filter((row) => !row.ok), []);
});
