import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { queryBroker } from '../../src/broker/index.js';
import { brokerTlsClientOption, brokerTlsServerOption } from '../../src/cli/broker-tls-flags.js';
import { parseConfig, resolvePeerSettings, resolveServerSettings } from '../../src/cli/config.js';
import { NtcpProcess } from '../../src/cli/ntcp-process.js';
import { makeTestCertificates, opensslSkipReason, type TestCertificates } from '../support/tls-certs.js';

// `ntcp server --broker-tls-cert/--broker-tls-key` and `ntcp listen --broker-tls --broker-ca`, run
// from the sources on loopback with a throwaway CA.

const STEP_TIMEOUT_MS = 15_000;
const skip = opensslSkipReason('CLI broker TLS tests');
let certs: TestCertificates;
let caFile = '';
const children: NtcpProcess[] = [];

before(() => {
  if (skip) return;
  certs = makeTestCertificates();
  caFile = join(certs.certFile, '..', 'ca-for-peers.pem');
  writeFileSync(caFile, certs.ca);
});

after(async () => {
  for (const child of children) {
    child.child.kill('SIGKILL');
    await child.exited;
  }
  certs?.remove();
});

function ntcp(args: string[], label: string): NtcpProcess {
  const child = new NtcpProcess(spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--json'], { stdio: ['pipe', 'pipe', 'pipe'] }), label);
  children.push(child);
  return child;
}

async function usageError(args: string[]): Promise<{ code: string; message: string }> {
  const child = ntcp(args, args[0]!);
  assert.equal(await child.exited, 1, child.stderr.join('\n'));
  return JSON.parse(child.stderr.at(-1)!) as { code: string; message: string };
}

test('ntcp server with --broker-tls-cert/--broker-tls-key serves TLS and ntcp listen --broker-tls --broker-ca registers with it', { skip, timeout: 60_000 }, async () => {
  const server = ntcp(['server', '--host', '127.0.0.1', '--port', '0', '--alt-port', '0', '--broker-port', '0', '--no-relay',
    '--broker-tls-cert', certs.certFile, '--broker-tls-key', certs.keyFile], 'server');
  const ready = await server.waitFor((event) => event.msg === 'ready', 'ready', STEP_TIMEOUT_MS);
  assert.equal(ready.brokerTls, true);
  const brokerPort = Number(String(ready.broker).split(':').at(-1));
  const stunPort = Number(String((ready.stun as { udp: string[] }).udp[0]).split(':').at(-1));
  const listener = ntcp(['listen', '--server', `127.0.0.1:${brokerPort}`, '--stun-port', String(stunPort), '--id', 'cli-tls-listener',
    '--probe-timeout', '300', '--broker-tls', '--broker-ca', caFile], 'listen');
  const registered = await listener.waitForEvent(['registered', 'error'], STEP_TIMEOUT_MS);
  assert.equal(registered.event, 'registered', JSON.stringify(registered));
  const reply = await queryBroker({ host: '127.0.0.1', port: brokerPort, id: 'cli-tls-listener', tls: { ca: certs.ca } });
  assert.equal(reply.peers[0]?.id, 'cli-tls-listener');
});

test('ntcp server with an unreadable --broker-tls-cert exits 1 with ERR_INVALID_ARGUMENT naming the flag', { skip, timeout: 60_000 }, async () => {
  const missing = await usageError(['server', '--host', '127.0.0.1', '--broker-tls-cert', join(certs.certFile, '..', 'nope.pem'), '--broker-tls-key', certs.keyFile]);
  assert.equal(missing.code, 'ERR_INVALID_ARGUMENT');
  assert.match(missing.message, /--broker-tls-cert/);
});

test('a certificate without its key, and --broker-ca without --broker-tls, are ERR_INVALID_ARGUMENT', { skip }, () => {
  assert.throws(() => brokerTlsServerOption({ brokerTlsCert: certs.certFile }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => brokerTlsClientOption({ brokerCa: caFile }), { code: 'ERR_INVALID_ARGUMENT', message: /--broker-ca needs --broker-tls/ });
  assert.deepEqual(brokerTlsClientOption({ brokerTls: true, brokerCa: caFile }), { tls: { ca: certs.ca } });
  assert.deepEqual(brokerTlsClientOption({ brokerTls: true }), { tls: true });
  assert.deepEqual(brokerTlsClientOption({}), {});
});

test('the config file: server.brokerTls names the PEM files, peer.brokerTls and peer.brokerCa the client side; flags win', () => {
  const config = parseConfig(JSON.stringify({
    server: { host: '127.0.0.1', brokerTls: { cert: 'cert.pem', key: 'key.pem' } },
    peer: { server: 'broker.example', id: 'a', brokerTls: true, brokerCa: 'ca.pem' },
  }), 'ntcp.json');
  const server = resolveServerSettings(config.server, { brokerTlsCert: 'other.pem' });
  assert.deepEqual([server.brokerTlsCert, server.brokerTlsKey], ['other.pem', 'key.pem']);
  const peer = resolvePeerSettings(config.peer, {});
  assert.deepEqual([peer.brokerTls, peer.brokerCa], [true, 'ca.pem']);
  assert.throws(() => parseConfig(JSON.stringify({ server: { brokerTls: { cert: 'cert.pem' } } }), 'ntcp.json'), { code: 'ERR_CONFIG' });
});
