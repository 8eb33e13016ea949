import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TransportAddress } from '../../src/codec/index.js';
import { classifyMapping } from '../../src/discovery/classify-mapping.js';
import { classifyFiltering } from '../../src/discovery/classify-filtering.js';
import { classifyPortAllocation, classifyPortPreservation, newMappingPorts } from '../../src/discovery/classify-ports.js';
import { classifyTcpFingerprint } from '../../src/discovery/classify-tcp.js';
import { rfc3489Type } from '../../src/discovery/rfc3489-type.js';
import { classifyLifetime, lifetimeCheckpoints } from '../../src/discovery/classify-lifetime.js';

const at = (port: number, address = '198.51.100.7'): TransportAddress => ({ family: 'IPv4', address, port });

describe('RFC 5780 section 4.3 mapping', () => {
  test('the same mapped address towards every destination is endpoint-independent', () => {
    const verdict = classifyMapping({ primary: at(4000), altAddress: at(4000), altBoth: at(4000), altPort: at(4000) });
    assert.equal(verdict.value, 'endpoint-independent');
  });

  test('test II alone decides endpoint-independence (RFC flow skips test III)', () => {
    assert.equal(classifyMapping({ primary: at(4000), altAddress: at(4000) }).value, 'endpoint-independent');
  });

  test('a new mapping per server address, kept across its ports, is address-dependent', () => {
    const verdict = classifyMapping({ primary: at(4000), altAddress: at(4001), altBoth: at(4001), altPort: at(4000) });
    assert.equal(verdict.value, 'address-dependent');
  });

  test('a new mapping per address and port is address-and-port-dependent', () => {
    const verdict = classifyMapping({ primary: at(4000), altAddress: at(4002), altBoth: at(4004), altPort: at(4006) });
    assert.equal(verdict.value, 'address-and-port-dependent');
  });

  test('a different public IP counts as a different mapping', () => {
    const verdict = classifyMapping({ primary: at(4000), altAddress: at(4000, '198.51.100.8'), altBoth: at(4000, '198.51.100.9') });
    assert.equal(verdict.value, 'address-and-port-dependent');
  });

  test('no answer to test I or II is unknown, with a reason', () => {
    for (const samples of [{}, { primary: at(4000) }]) {
      const verdict = classifyMapping(samples);
      assert.equal(verdict.value, 'unknown');
      assert.match(verdict.notes.join(), /no answer/);
    }
  });

  test('test II changed the mapping but test III unanswered: unknown, not guessed', () => {
    assert.equal(classifyMapping({ primary: at(4000), altAddress: at(4001) }).value, 'unknown');
  });

  test('contradicting samples are reported as inconsistent', () => {
    const cases = [
      { primary: at(4000), altAddress: at(4000), altBoth: at(4009) },
      { primary: at(4000), altAddress: at(4001), altBoth: at(4001), altPort: at(4005) },
      { primary: at(4000), altAddress: at(4001), altBoth: at(4002), altPort: at(4000) },
    ];
    for (const samples of cases) {
      const verdict = classifyMapping(samples);
      assert.equal(verdict.value, 'unknown', JSON.stringify(samples));
      assert.match(verdict.notes.join(), /inconsistent/);
    }
  });
});

describe('RFC 5780 section 4.4 filtering', () => {
  test('a response from the other address and port means endpoint-independent', () => {
    assert.equal(classifyFiltering({ changeBoth: 'response', changePort: 'response' }).value, 'endpoint-independent');
    assert.equal(classifyFiltering({ changeBoth: 'response', changePort: 'not-run' }).value, 'endpoint-independent');
  });

  test('only the other port of the same address gets through: address-dependent', () => {
    assert.equal(classifyFiltering({ changeBoth: 'no-response', changePort: 'response' }).value, 'address-dependent');
  });

  test('neither gets through: address-and-port-dependent', () => {
    assert.equal(classifyFiltering({ changeBoth: 'no-response', changePort: 'no-response' }).value, 'address-and-port-dependent');
  });

  test('a server that ignored CHANGE-REQUEST or failed gives unknown, not a filtering verdict', () => {
    for (const changeBoth of ['wrong-origin', 'error', 'not-run'] as const) {
      assert.equal(classifyFiltering({ changeBoth, changePort: 'response' }).value, 'unknown');
    }
    assert.equal(classifyFiltering({ changeBoth: 'no-response', changePort: 'wrong-origin' }).value, 'unknown');
  });

  test('other address passes but other port does not: inconsistent, unknown', () => {
    const verdict = classifyFiltering({ changeBoth: 'response', changePort: 'no-response' });
    assert.equal(verdict.value, 'unknown');
    assert.match(verdict.notes.join(), /inconsistent/);
  });
});

describe('RFC 3489 names', () => {
  const nat = { udpBlocked: false, natPresent: true } as const;
  test('cone names follow the filtering of an endpoint-independent mapping', () => {
    assert.equal(rfc3489Type({ ...nat, mapping: 'endpoint-independent', filtering: 'endpoint-independent' }), 'full-cone');
    assert.equal(rfc3489Type({ ...nat, mapping: 'endpoint-independent', filtering: 'address-dependent' }), 'restricted-cone');
    assert.equal(rfc3489Type({ ...nat, mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' }), 'port-restricted-cone');
    assert.equal(rfc3489Type({ ...nat, mapping: 'endpoint-independent', filtering: 'unknown' }), 'unknown');
  });

  test('any endpoint-dependent mapping is symmetric', () => {
    assert.equal(rfc3489Type({ ...nat, mapping: 'address-dependent', filtering: 'endpoint-independent' }), 'symmetric');
    assert.equal(rfc3489Type({ ...nat, mapping: 'address-and-port-dependent', filtering: 'unknown' }), 'symmetric');
  });

  test('no NAT is open internet or a symmetric UDP firewall', () => {
    const open = { udpBlocked: false, natPresent: false, mapping: 'endpoint-independent' } as const;
    assert.equal(rfc3489Type({ ...open, filtering: 'endpoint-independent' }), 'open-internet');
    assert.equal(rfc3489Type({ ...open, filtering: 'address-and-port-dependent' }), 'symmetric-udp-firewall');
  });

  test('blocked UDP wins over everything', () => {
    assert.equal(rfc3489Type({ udpBlocked: true, natPresent: 'unknown', mapping: 'unknown', filtering: 'unknown' }), 'udp-blocked');
  });
});

describe('port preservation', () => {
  test('all kept, none kept, some kept', () => {
    assert.equal(classifyPortPreservation([{ localPort: 5000, mappedPort: 5000 }, { localPort: 5001, mappedPort: 5001 }]).value, true);
    assert.equal(classifyPortPreservation([{ localPort: 5000, mappedPort: 1024 }, { localPort: 5001, mappedPort: 1025 }]).value, false);
    assert.equal(classifyPortPreservation([{ localPort: 5000, mappedPort: 5000 }, { localPort: 5001, mappedPort: 1025 }]).value, 'unknown');
    assert.equal(classifyPortPreservation([]).value, 'unknown');
  });
});

describe('port allocation (delta-N)', () => {
  test('a constant difference is a delta, in either direction', () => {
    assert.deepEqual(classifyPortAllocation([20000, 20001, 20002, 20003]).value, { kind: 'sequential', delta: 1 });
    assert.deepEqual(classifyPortAllocation([20000, 20002, 20004, 20006, 20008]).value, { kind: 'sequential', delta: 2 });
    assert.deepEqual(classifyPortAllocation([30000, 29997, 29994, 29991]).value, { kind: 'sequential', delta: -3 });
  });

  test('another host taking a port in between does not change the delta', () => {
    const verdict = classifyPortAllocation([20000, 20002, 20006, 20008, 20010]);
    assert.deepEqual(verdict.value, { kind: 'sequential', delta: 2 });
    assert.match(verdict.notes.join(), /other traffic/);
  });

  test('too few samples, a tie, or small scattered steps are unknown', () => {
    assert.equal(classifyPortAllocation([20000, 20001, 20002]).value.kind, 'unknown');
    assert.equal(classifyPortAllocation([20000, 20002, 20005, 20007, 20010]).value.kind, 'unknown');
    assert.equal(classifyPortAllocation([20000, 20001, 20004, 20006, 20011]).value.kind, 'unknown');
    assert.equal(classifyPortAllocation([20000, 20001, 20001, 20002]).value.kind, 'unknown');
  });

  test('large unrelated jumps are random', () => {
    assert.deepEqual(classifyPortAllocation([40211, 3377, 61002, 18431, 52280]).value, { kind: 'random' });
  });

  test('property: any delta survives noise in a minority of the gaps', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1024, max: 40000 }),
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 5, maxLength: 9 }).filter((steps) => steps.filter((s) => s === 1).length * 2 > steps.length && steps.filter((s) => s === 1).length >= 2),
        (base, delta, steps) => {
          const ports = [base];
          for (const step of steps) ports.push(ports.at(-1)! + step * delta);
          assert.deepEqual(classifyPortAllocation(ports).value, { kind: 'sequential', delta });
        },
      ),
    );
  });

  test('reused mappings are not counted as allocations', () => {
    const series = [at(4000), at(4001), at(4001), at(4000), at(4002)].map((mapped) => ({ localPort: 5000, mapped }));
    assert.deepEqual(newMappingPorts(series), [4000, 4001, 4002]);
  });
});

describe('TCP fingerprint (XSTUNT XAnalyzeNature)', () => {
  const samePortSeries = (ports: number[], localPort = 5000) => ports.map((port) => ({ localPort, mapped: at(port) }));

  test('one public port for one local port towards all four combinations is cone', () => {
    const verdict = classifyTcpFingerprint({
      natPresent: true,
      samePort: { primary: at(5000), altAddress: at(5000), altBoth: at(5000), altPort: at(5000) },
      series: [...samePortSeries([5000, 5000, 5000, 5000]), { localPort: 41000, mapped: at(41000) }],
    });
    assert.deepEqual(verdict.value, { mapping: 'endpoint-independent', portPreserving: true, kind: 'cone' });
  });

  test('consecutive connects stepping by N are delta-N symmetric, not port preserving', () => {
    const verdict = classifyTcpFingerprint({
      natPresent: true,
      samePort: { primary: at(10000), altAddress: at(10002), altBoth: at(10004), altPort: at(10006) },
      series: [...samePortSeries([10000, 10002, 10004, 10006]), { localPort: 41000, mapped: at(10008) }, { localPort: 41500, mapped: at(10010) }],
    });
    assert.deepEqual(verdict.value, { mapping: 'address-and-port-dependent', portPreserving: false, kind: 'delta-symmetric', delta: 2 });
  });

  test('random public ports are random symmetric', () => {
    const verdict = classifyTcpFingerprint({
      natPresent: true,
      samePort: { primary: at(40211), altAddress: at(3377), altBoth: at(61002), altPort: at(18431) },
      series: [...samePortSeries([40211, 3377, 61002, 18431]), { localPort: 41000, mapped: at(52280) }],
    });
    assert.equal(verdict.value.kind, 'random-symmetric');
    assert.equal(verdict.value.delta, undefined);
  });

  test('missing combinations leave the kind unknown', () => {
    const verdict = classifyTcpFingerprint({ natPresent: true, samePort: { primary: at(5000) }, series: samePortSeries([5000]) });
    assert.equal(verdict.value.kind, 'unknown');
  });

  test('no NAT is cone and port preserving', () => {
    const verdict = classifyTcpFingerprint({
      natPresent: false,
      samePort: { primary: at(5000), altAddress: at(5000), altBoth: at(5000), altPort: at(5000) },
      series: samePortSeries([5000, 5000, 5000, 5000]),
    });
    assert.equal(verdict.value.kind, 'cone');
    assert.equal(verdict.value.portPreserving, true);
  });
});

describe('mapping lifetime (RFC 5780 section 4.6)', () => {
  test('checkpoints double from the first up to the maximum', () => {
    assert.deepEqual(lifetimeCheckpoints(1000, 4000), [1000, 2000, 4000]);
    assert.deepEqual(lifetimeCheckpoints(1000, 5000), [1000, 2000, 4000, 5000]);
    assert.deepEqual(lifetimeCheckpoints(1000, 500), [500]);
  });

  test('bounds come from the last alive and the first gone check', () => {
    const checks = [
      { idleMs: 4000, alive: false },
      { idleMs: 1000, alive: true },
      { idleMs: 2000, alive: false },
    ];
    assert.deepEqual(classifyLifetime(checks).value, { aliveMs: 1000, expiredMs: 2000 });
    assert.deepEqual(classifyLifetime([{ idleMs: 1000, alive: true }, { idleMs: 2000, alive: true }]).value, { aliveMs: 2000, expiredMs: null });
    assert.deepEqual(classifyLifetime([{ idleMs: 1000, alive: false }]).value, { aliveMs: 0, expiredMs: 1000 });
  });

  test('a mapping alive after a shorter one was gone is inconsistent; failed checks are ignored', () => {
    const verdict = classifyLifetime([{ idleMs: 1000, alive: false }, { idleMs: 2000, alive: true }]);
    assert.equal(verdict.value, undefined);
    assert.match(verdict.notes.join(), /inconsistent/);
    assert.deepEqual(classifyLifetime([{ idleMs: 1000, alive: true }, { idleMs: 2000, alive: undefined }]).value, { aliveMs: 1000, expiredMs: null });
    assert.equal(classifyLifetime([{ idleMs: 1000, alive: undefined }]).value, undefined);
  });
});
