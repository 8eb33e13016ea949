import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { parseHostPort } from '../../src/cli/commands/stun.js';

const run = promisify(execFile);
const CLI = [process.execPath, '--import', 'tsx', 'src/cli/main.ts'] as const;

test('HOST[:PORT] parsing accepts names, IPv4, bracketed and bare IPv6', () => {
  assert.deepEqual(parseHostPort('stun.example.org', 3478), { host: 'stun.example.org', port: 3478 });
  assert.deepEqual(parseHostPort('127.0.0.1:5000', 3478), { host: '127.0.0.1', port: 5000 });
  assert.deepEqual(parseHostPort('[::1]:5000', 3478), { host: '::1', port: 5000 });
  assert.deepEqual(parseHostPort('::1', 3478), { host: '::1', port: 3478 });
  assert.throws(() => parseHostPort('host:99999', 3478), (error) => (error as { code?: string }).code === 'ERR_INVALID_ARGUMENT');
});

test('`ntcp stun-server --json` logs its endpoints; `ntcp stun --json` gets the mapped address from it', async () => {
  const server = spawn(CLI[0], [...CLI.slice(1), 'stun-server', '--host', '127.0.0.1', '--alt-host', '127.0.0.2', '--port', '0', '--alt-port', '0', '--json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const lines = createInterface({ input: server.stderr! });
    let started: { udp: string[]; rfc5780: boolean } | undefined;
    for await (const line of lines) {
      started = JSON.parse(line);
      break;
    }
    assert.equal(started?.rfc5780, true);
    const target = started!.udp[0]!;
    for (const extra of [[], ['--tcp']]) {
      const { stdout } = await run(CLI[0], [...CLI.slice(1), 'stun', target, '--json', ...extra]);
      const result = JSON.parse(stdout);
      assert.equal(result.mapped.address, '127.0.0.1');
      assert.equal(result.otherAddress.address, '127.0.0.2');
    }
  } finally {
    server.kill('SIGINT');
    await once(server, 'exit');
  }
});

test('`ntcp stun` against a silent port fails with ERR_TIMEOUT and exit code 1', async () => {
  await assert.rejects(
    run(CLI[0], [...CLI.slice(1), 'stun', '127.0.0.1:9', '--rto', '10', '--rc', '2', '--rm', '2']),
    (error: { code?: number; stderr?: string }) => error.code === 1 && /ERR_TIMEOUT/.test(error.stderr ?? ''),
  );
});

test('`ntcp demo --loopback` queries its own STUN server over UDP and TCP and exits 0', async () => {
  const { stdout } = await run(CLI[0], [...CLI.slice(1), 'demo', '--loopback'], { timeout: 30_000 });
  assert.match(stdout, /over UDP the server sees us as 127\.0\.0\.1:\d+/);
  assert.match(stdout, /over TCP the server sees us as 127\.0\.0\.1:\d+/);
  assert.match(stdout, /replied from 127\.0\.0\.2:\d+/);
  assert.match(stdout, /shut down cleanly/);
});

test('`ntcp stun-server` refuses a fractional worker count with the shared option error', async () => {
  await assert.rejects(
    run(CLI[0], [...CLI.slice(1), 'stun-server', '--host', '127.0.0.1', '--port', '0', '--workers', '1.5']),
    (error: { code?: number; stderr?: string }) => error.code !== 0 && /positive integer, got 1\.5/.test(error.stderr ?? ''),
  );
});
