import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  birthdaySuccessProbability,
  estimateDelta,
  FULL_PORT_RANGE,
  portDifference,
  predictPorts,
  samplePorts,
  stepPort,
} from '../../src/punch/predict.js';

const LAB_RANGE = { min: 20000, max: 59999 };

test('predictPorts lists the next mappings of a delta-N NAT, nearest first', () => {
  assert.deepEqual(predictPorts({ lastPort: 20010, delta: 2, window: 3 }), [20012, 20014, 20016]);
  assert.deepEqual(predictPorts({ lastPort: 20010, delta: 2, window: 2, skip: 1 }), [20014, 20016]);
});

test('predictPorts wraps inside the NAT port range like the allocator does', () => {
  assert.deepEqual(predictPorts({ lastPort: 59998, delta: 1, window: 3, range: LAB_RANGE }), [59999, 20000, 20001]);
});

test('predictPorts predicts nothing without a usable delta', () => {
  assert.deepEqual(predictPorts({ lastPort: 30000, delta: 0 }), []);
  assert.deepEqual(predictPorts({ lastPort: 30000, delta: 1.5 }), []);
});

test('estimateDelta finds the step of successive fresh mappings, also across a wrap', () => {
  assert.equal(estimateDelta([30000, 30003, 30006, 30009]), 3);
  assert.equal(estimateDelta([59998, 20000, 20002], LAB_RANGE), 2);
  assert.equal(estimateDelta([40000, 39998, 39996]), -2);
});

test('estimateDelta tolerates one interleaved mapping but gives up on random ports', () => {
  assert.equal(estimateDelta([30000, 30002, 30006, 30008, 30010]), 2);
  assert.equal(estimateDelta([31234, 52011, 20877, 44410]), undefined);
  assert.equal(estimateDelta([30000]), undefined);
});

test('stepPort and portDifference are inverse inside a range', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1024, max: 65535 }), fc.integer({ min: -30000, max: 30000 }), (port, steps) => {
      const moved = stepPort(port, steps);
      assert.ok(moved >= FULL_PORT_RANGE.min && moved <= FULL_PORT_RANGE.max);
      assert.equal(portDifference(port, moved), steps);
    }),
  );
});

test('samplePorts draws distinct ports inside the range', () => {
  const ports = samplePorts(500, LAB_RANGE);
  assert.equal(new Set(ports).size, 500);
  assert.ok(ports.every((port) => port >= LAB_RANGE.min && port <= LAB_RANGE.max));
  assert.equal(samplePorts(10, { min: 5000, max: 5003 }).length, 4);
});

test('birthdaySuccessProbability follows the birthday bound', () => {
  assert.equal(birthdaySuccessProbability(0, 100, 1000), 0);
  assert.equal(birthdaySuccessProbability(600, 500, 1000), 1);
  assert.ok(Math.abs(birthdaySuccessProbability(1, 1, 1000) - 0.001) < 1e-12);
  const p = birthdaySuccessProbability(256, 2048, 64512);
  assert.ok(p > 0.999 && p < 1, `p = ${p}`);
});
