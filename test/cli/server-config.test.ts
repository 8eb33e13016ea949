import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { queryBroker } from '../../src/broker/index.js';
import { udpBinding } from '../../src/stun/index.js';

/** A server that never gets ready fails the test instead of hanging the suite. */
const TIMEOUT_MS = 60_000;

/** Ports the kernel just handed out and took back: free for the server a moment later. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, async () => {
    const server = net.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server;
  }));
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

test('ntcp server --config listens on the ports the file names; a flag overrides the file', { timeout: TIMEOUT_MS }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ntcp-server-config-'));
  const [stunPort, altPort, brokerPort, relayPort, flagAltPort] = await freePorts(5) as [number, number, number, number, number];
  const file = join(dir, 'ntcp.json');
  await writeFile(file, JSON.stringify({ server: { host: '127.0.0.1', port: stunPort, altPort, brokerPort, relay: { port: relayPort, limits: { maxSessions: 10 } } } }));
  const child = spawn(process.execPath, [
    '--import', 'tsx', 'src/cli/main.ts', 'server', '--config', file, '--alt-port', String(flagAltPort), '--json',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ready = new Promise<Record<string, any>>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const event = JSON.parse(line) as Record<string, any>;
      if (event.msg === 'ready') resolve(event);
    });
    child.once('exit', (code) => reject(new Error(`ntcp server exited early (${code})`)));
  });
  try {
    const event = await ready;
    assert.equal(event.broker, `127.0.0.1:${brokerPort}`);
    assert.deepEqual(event.stun.udp, [`127.0.0.1:${stunPort}`, `127.0.0.1:${flagAltPort}`]);
    assert.deepEqual(event.relay, { tcp: `127.0.0.1:${relayPort}`, udp: `127.0.0.1:${relayPort}` });
    const binding = await udpBinding({ server: { host: '127.0.0.1', port: stunPort }, timeoutMs: 2000 });
    assert.equal(binding.mapped.address, '127.0.0.1');
    assert.equal((await queryBroker({ host: '127.0.0.1', port: brokerPort })).counts.idle, 0);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  } finally {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('ntcp server --config with an unknown key exits 1 with ERR_CONFIG naming the key', { timeout: TIMEOUT_MS }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ntcp-server-config-'));
  const file = join(dir, 'bad.json');
  await writeFile(file, JSON.stringify({ server: { host: '127.0.0.1', stunPort: 3478 } }));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', '--config', file, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    const error = JSON.parse(stderr.trim().split('\n').at(-1)!) as { code: string; message: string };
    assert.equal(error.code, 'ERR_CONFIG');
    assert.match(error.message, /server\.stunPort: unknown key/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--no-relay on the command line turns off the relay the file enables', { timeout: TIMEOUT_MS }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ntcp-server-config-'));
  const file = join(dir, 'ntcp.json');
  await writeFile(file, JSON.stringify({ server: { host: '127.0.0.1', port: 0, altPort: 0, brokerPort: 0, relay: { enabled: true, port: 0 } } }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', '--config', file, '--no-relay', '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const ready = await new Promise<Record<string, any>>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on('line', (line) => {
        const event = JSON.parse(line) as Record<string, any>;
        if (event.msg === 'ready') resolve(event);
      });
      child.once('exit', (code) => reject(new Error(`ntcp server exited early (${code})`)));
    });
    assert.equal(ready.relay, 'off');
  } finally {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
