import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tlsClientOptions } from '../../src/util/tls-client-options.js';

test('a DNS host is sent as SNI and verified by default', () => {
  assert.deepEqual(tlsClientOptions('broker.example', {}), { servername: 'broker.example', rejectUnauthorized: true });
});

test('an IP host sends no SNI (RFC 6066 §3), IPv4 and IPv6 alike', () => {
  for (const host of ['127.0.0.1', '2001:db8::1']) assert.equal('servername' in tlsClientOptions(host, {}), false, host);
});

test('an explicit servername wins over an IP host; the CA and rejectUnauthorized pass through', () => {
  assert.deepEqual(
    tlsClientOptions('192.0.2.1', { servername: 'broker.example', ca: 'PEM', rejectUnauthorized: false }),
    { servername: 'broker.example', ca: 'PEM', rejectUnauthorized: false },
  );
});
