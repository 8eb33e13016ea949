import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startStunServer, tcpBinding, udpBinding, type StunServer } from '../../src/stun/index.js';
import { coturnSkipReason, startStunCoturn, type Coturn } from '../support/coturn.js';

const run = promisify(execFile);
const A = '127.0.0.1';
const B = '127.0.0.2';

const skip = coturnSkipReason('coturn interop tests', ['turnserver', 'turnutils_stunclient', 'turnutils_natdiscovery']);

describe('our client against coturn turnserver (stun-only)', { skip }, () => {
  let coturn: Coturn;
  let port = 0;

  before(async () => {
    coturn = await startStunCoturn([A]);
    port = coturn.port;
  });

  after(() => coturn?.stop());

  test('UDP Binding returns our socket as the mapped address', async () => {
    const result = await udpBinding({ server: { host: A, port }, rtoMs: 100 });
    assert.deepEqual(result.mapped, { family: 'IPv4', address: A, port: result.local.port });
    assert.deepEqual(result.server, { family: 'IPv4', address: A, port });
  });

  test('TCP Binding returns our connection as the mapped address', async () => {
    const result = await tcpBinding({ server: { host: A, port }, timeoutMs: 5000 });
    assert.deepEqual(result.mapped, result.local);
    assert.equal(result.mapped.address, A);
  });
});

describe('coturn clients against our server on 127.0.0.1 + 127.0.0.2', { skip }, () => {
  let server: StunServer;

  before(async () => {
    server = await startStunServer({ host: A, altHost: B, port: 0, altPort: 0 });
  });
  after(() => server?.close());

  test('turnutils_stunclient (RFC 5780 mode) gets reflexive address, RESPONSE-ORIGIN and OTHER-ADDRESS', async () => {
    const { stdout } = await run('turnutils_stunclient', ['-f', '-p', String(server.endpoints.port), A], { timeout: 20_000 });
    assert.match(stdout, /UDP reflexive addr: 127\.0\.0\.1:\d+/);
    assert.match(stdout, new RegExp(`Response origin: : 127\\.0\\.0\\.1:${server.endpoints.port}`));
    assert.match(stdout, new RegExp(`Other addr: : 127\\.0\\.0\\.2:${server.endpoints.altPort}`));
    // the CHANGE-REQUEST probes came back from the alternate address and port
    assert.match(stdout, new RegExp(`Response origin: : 127\\.0\\.0\\.2:${server.endpoints.altPort}`));
  });

  test('turnutils_natdiscovery reports endpoint-independent mapping and filtering on loopback', async () => {
    const { stdout } = await run('turnutils_natdiscovery', ['-m', '-f', '-p', String(server.endpoints.port), A], { timeout: 30_000 });
    assert.match(stdout, /NAT with Endpoint Independent Mapping!/);
    assert.match(stdout, /NAT with Endpoint Independent Filtering!/);
    assert.ok(server.counters.get('udp.responses') >= 4);
  });
});
