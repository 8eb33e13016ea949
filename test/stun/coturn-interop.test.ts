import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startStunServer, tcpBinding, udpBinding, type StunServer } from '../../src/stun/index.js';

const run = promisify(execFile);
const A = '127.0.0.1';
const B = '127.0.0.2';

function installed(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}
const COTURN_MISSING = ['turnserver', 'turnutils_stunclient', 'turnutils_natdiscovery'].filter((tool) => !installed(tool));
if (COTURN_MISSING.length > 0) {
  process.stderr.write(`\n*** coturn interop tests SKIPPED: not installed: ${COTURN_MISSING.join(', ')} (apt-get install coturn) ***\n\n`);
}
const skip = COTURN_MISSING.length > 0 ? `coturn not installed (${COTURN_MISSING.join(', ')})` : false;

async function portFree(port: number): Promise<boolean> {
  const udp = dgram.createSocket('udp4');
  const tcp = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => udp.once('error', reject).bind(port, A, () => resolve()));
    await new Promise<void>((resolve, reject) => tcp.once('error', reject).listen(port, A, () => resolve()));
    return true;
  } catch {
    return false;
  } finally {
    udp.close();
    tcp.close();
  }
}

/** A port P with P and P+1 free on UDP and TCP (coturn's alternate port is P+1). */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 20000);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error('no free port pair found');
}

describe('our client against coturn turnserver (stun-only)', { skip }, () => {
  let turnserver: ChildProcess | undefined;
  let port = 0;
  let workDir = '';
  let log = '';

  before(async () => {
    port = await freePortPair();
    workDir = mkdtempSync(join(tmpdir(), 'ntcp-coturn-'));
    // -n: no config file from /etc; every setting is on the command line; logs go to stdout
    turnserver = spawn('turnserver', [
      '-n', '--stun-only', '--listening-ip', A, '--listening-port', String(port),
      '--no-tls', '--no-dtls', '--no-cli', '--log-file', 'stdout', '--simple-log',
      '--pidfile', join(workDir, 'turnserver.pid'), '--userdb', join(workDir, 'turndb'),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    turnserver.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    turnserver.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    // turnserver has no readiness signal: probe until it answers
    for (let attempt = 0; ; attempt++) {
      try {
        await udpBinding({ server: { host: A, port }, rtoMs: 50, rc: 3, rm: 2 });
        return;
      } catch (error) {
        if (attempt >= 40 || turnserver.exitCode !== null) throw new Error(`turnserver did not come up:\n${log}`, { cause: error });
      }
    }
  });

  after(() => {
    if (turnserver?.pid !== undefined && turnserver.exitCode === null) process.kill(turnserver.pid, 'SIGTERM');
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

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
