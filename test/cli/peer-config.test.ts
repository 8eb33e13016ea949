import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { startStunServer, type StunServer } from '../../src/stun/index.js';

// `ntcp connect` reading its `peer` section on loopback: the file's server, STUN port and id are
// the ones used (the broker registers them), a flag wins over the file, NTCP_CONFIG names the file.

const TIMEOUT_MS = 60_000;
let stun: StunServer;
let broker: Broker;
let dir: string;

before(async () => {
  stun = await startStunServer({ host: '127.0.0.1', altHost: '127.0.0.2', port: 0, altPort: 0 });
  broker = await startBroker({ host: '127.0.0.1', port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'ntcp-peer-config-'));
});

after(async () => {
  await broker.close();
  await stun.close();
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; events: Array<Record<string, any>> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--json'], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NTCP_CONFIG: '', ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const [code] = await once(child, 'close');
  return { code: code as number | null, events: stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>) };
}

async function peerFile(name: string, peer: Record<string, unknown>): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify({ peer: { server: `127.0.0.1:${broker.port}`, stunPort: stun.endpoints.port, timeouts: { probeMs: 300 }, ...peer } }));
  return file;
}

test('ntcp connect --config registers with the file\'s server and id; --id on the command line wins', { timeout: TIMEOUT_MS }, async () => {
  const file = await peerFile('alice.json', { id: 'file-alice', relay: 'never' });
  const fromFile = await run(['connect', 'nobody', '--config', file]);
  assert.equal(fromFile.code, 1);
  assert.equal(fromFile.events[0]?.event, 'registered');
  assert.equal(fromFile.events[0]?.id, 'file-alice');
  assert.equal(fromFile.events.at(-1)?.code, 'ERR_MATCH');
  const overridden = await run(['connect', 'nobody', '--config', file, '--id', 'flag-alice']);
  assert.equal(overridden.events[0]?.id, 'flag-alice');
});

test('NTCP_CONFIG names the file when --config is absent', { timeout: TIMEOUT_MS }, async () => {
  const file = await peerFile('env.json', { id: 'env-alice' });
  const { events } = await run(['connect', 'nobody'], { NTCP_CONFIG: file });
  assert.equal(events[0]?.id, 'env-alice');
});

test('a bad peer section stops ntcp listen with ERR_CONFIG before it registers', { timeout: TIMEOUT_MS }, async () => {
  const file = await peerFile('bad.json', { id: 'x', transport: 'sctp' });
  const { code, events } = await run(['listen', '--config', file]);
  assert.equal(code, 1);
  assert.deepEqual(events.map((event) => event.event), ['error']);
  assert.equal(events[0]?.code, 'ERR_CONFIG');
  assert.match(events[0]?.message, /peer\.transport/);
});
