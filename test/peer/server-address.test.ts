import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServerAddress, toServerAddress } from '../../src/peer/index.js';

const invalid = (error: unknown): boolean => (error as { code?: string }).code === 'ERR_INVALID_ARGUMENT';

test('HOST alone means the default broker (8123) and STUN (3478) ports', () => {
  assert.deepEqual(parseServerAddress('broker.example'), { host: 'broker.example', brokerPort: 8123, stunPort: 3478 });
  assert.deepEqual(parseServerAddress('203.0.113.1'), { host: '203.0.113.1', brokerPort: 8123, stunPort: 3478 });
});

test('HOST:PORT names the broker port; the STUN port stays 3478', () => {
  assert.deepEqual(parseServerAddress('203.0.113.1:9000'), { host: '203.0.113.1', brokerPort: 9000, stunPort: 3478 });
});

test('IPv6 literals: bare (no port) or bracketed with an optional port', () => {
  assert.deepEqual(parseServerAddress('2001:db8::1'), { host: '2001:db8::1', brokerPort: 8123, stunPort: 3478 });
  assert.deepEqual(parseServerAddress('[2001:db8::1]'), { host: '2001:db8::1', brokerPort: 8123, stunPort: 3478 });
  assert.deepEqual(parseServerAddress('[::1]:9000'), { host: '::1', brokerPort: 9000, stunPort: 3478 });
});

test('bad ports, empty hosts and bad brackets are refused with ERR_INVALID_ARGUMENT', () => {
  for (const text of ['', 'host:', 'host:0', 'host:65536', 'host:12ab', ':8123', '[nope]:1', '[::1]:x']) {
    assert.throws(() => parseServerAddress(text), invalid, text);
  }
});

test('the object form fills in default ports and is copied, not kept', () => {
  const given = { host: 'h', stunPort: 5000 };
  const server = toServerAddress(given);
  assert.deepEqual(server, { host: 'h', brokerPort: 8123, stunPort: 5000 });
  assert.notEqual(server, given);
  assert.throws(() => toServerAddress({ host: '' }), invalid);
});
