import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyPortAllocation } from '../../src/discovery/classify-ports.js';
import { combineAllocations } from '../../src/discovery/classify-delta.js';
import { classifyTcpFingerprint } from '../../src/discovery/classify-tcp.js';
import type { TransportAddress } from '../../src/codec/index.js';

/** The verdict for a slow series and a back-to-back burst of new mappings, as the UDP probe joins them. */
const joined = (series: number[], burst: number[]) => combineAllocations(classifyPortAllocation(series), classifyPortAllocation(burst));
const run = (start: number, delta: number, count: number) => Array.from({ length: count }, (_, i) => start + i * delta);

describe('delta classification with interleaved mappings (series + burst)', () => {
  // Series seen in the lab with three probes at once behind one sequential NAT (CI: udp-delay20-mk).
  test('a series broken by other hosts\' mappings reads sequential from the burst', () => {
    assert.equal(classifyPortAllocation([20000, 20008, 20018, 20024, 20030, 20036]).value.kind, 'unknown');
    const seq2 = joined([20000, 20008, 20018, 20024, 20030, 20036], run(20040, 2, 5));
    assert.deepEqual(seq2.value, { kind: 'sequential', delta: 2 });
    assert.match(seq2.notes.join('\n'), /series was interleaved/);
    assert.deepEqual(joined([20000, 20002, 20005, 20008, 20011, 20014], run(20015, 1, 5)).value, { kind: 'sequential', delta: 1 });
    assert.deepEqual(joined([20049, 20051, 20054, 20055, 20057, 20058], run(20060, 1, 5)).value, { kind: 'sequential', delta: 1 });
  });

  test('probes in lockstep inflate the series\' delta; the burst\'s delta holds', () => {
    assert.deepEqual(classifyPortAllocation([20010, 20016, 20022, 20028, 20034, 20040]).value, { kind: 'sequential', delta: 6 });
    const verdict = joined([20010, 20016, 20022, 20028, 20034, 20040], run(20050, 2, 5));
    assert.deepEqual(verdict.value, { kind: 'sequential', delta: 2 });
    assert.match(verdict.notes.join('\n'), /delta 6 was inflated/);
  });

  test('one mapping interleaved into the burst itself still gives the delta', () => {
    assert.deepEqual(joined([20000, 20008, 20018, 20024], [20040, 20044, 20046, 20048, 20050]).value, { kind: 'sequential', delta: 2 });
    assert.deepEqual(joined([20000, 20008, 20018, 20024], [20040, 20041, 20042, 20044, 20045]).value, { kind: 'sequential', delta: 1 });
  });

  test('an inconclusive burst (an answer lost, or interleaved twice) leaves a sequential series standing', () => {
    const verdict = joined(run(20000, 2, 6), [20040, 20044]);
    assert.deepEqual(verdict.value, { kind: 'sequential', delta: 2 });
    assert.match(verdict.notes.join('\n'), /burst was inconclusive/);
    assert.deepEqual(joined(run(20000, 2, 6), [20040, 20042, 20045, 20047, 20050]).value, { kind: 'sequential', delta: 2 });
  });

  test('random needs one side random and neither sequential; nothing conclusive is unknown', () => {
    assert.deepEqual(joined([40211, 3377, 61002, 18431, 52280], [23001, 51234, 30077, 44410, 28650]).value, { kind: 'random' });
    assert.deepEqual(joined([40211, 3377, 61002, 18431, 52280], [20000, 20002]).value, { kind: 'random' });
    assert.deepEqual(joined([20000, 20002, 20005, 20007, 20010], [20020, 20022, 20025, 20027, 20030]).value, { kind: 'unknown' });
  });

  test('every note says which measurement it came from', () => {
    const { notes } = joined(run(20000, 2, 6), run(20040, 2, 5));
    assert.ok(notes.some((note) => note.startsWith('series allocation:')), notes.join('\n'));
    assert.ok(notes.some((note) => note.startsWith('burst allocation:')), notes.join('\n'));
  });

  test('property: any delta survives any series when at most one foreign mapping lands in the burst', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1024, max: 40000 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: -1, max: 3 }),
        fc.array(fc.integer({ min: 1024, max: 65535 }), { minLength: 0, maxLength: 7 }),
        (base, delta, interleavedAt, series) => {
          const burst = [base];
          for (let i = 0; i < 4; i++) burst.push(burst.at(-1)! + (i === interleavedAt ? 2 : 1) * delta);
          assert.deepEqual(joined(series, burst).value, { kind: 'sequential', delta });
        },
      ),
    );
  });

  test('the TCP fingerprint takes its delta from the burst when other connections interleaved the series', () => {
    const at = (port: number): TransportAddress => ({ family: 'IPv4', address: '198.51.100.7', port });
    const samePort = { primary: at(20000), altAddress: at(20004), altBoth: at(20006), altPort: at(20008) };
    // Lab, two hosts probing at once behind symmetric-seq:1: deltas 4,2,2,3,1,1.
    const series = [20000, 20004, 20006, 20008, 20011, 20012, 20013].map((port, i) => ({ localPort: 40000 + i, mapped: at(port) }));
    const input = { natPresent: true, samePort, series };
    assert.equal(classifyTcpFingerprint(input).value.kind, 'unknown');
    assert.deepEqual(
      { kind: classifyTcpFingerprint({ ...input, burst: run(20020, 1, 5) }).value.kind, delta: classifyTcpFingerprint({ ...input, burst: run(20020, 1, 5) }).value.delta },
      { kind: 'delta-symmetric', delta: 1 },
    );
  });
});
