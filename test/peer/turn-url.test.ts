import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { NtcpError } from '../../src/errors.js';
import { parseTurnUrl } from '../../src/peer/paths/turn-url.js';
import { turnSettings } from '../../src/peer/paths/turn-config.js';

function code(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof NtcpError, String(error));
    return error.code;
  }
  return undefined;
}

test('turn URLs give host, port (3478 by default) and the transport to the server (udp by default)', () => {
  assert.deepEqual(parseTurnUrl('turn:203.0.113.1:3479'), { host: '203.0.113.1', port: 3479, transport: 'udp' });
  assert.deepEqual(parseTurnUrl('turn:relay.example.org?transport=tcp'), { host: 'relay.example.org', port: 3478, transport: 'tcp' });
  assert.deepEqual(parseTurnUrl('TURN:[2001:db8::1]:5000?transport=UDP'), { host: '2001:db8::1', port: 5000, transport: 'udp' });
});

test('malformed turn URLs are ERR_TURN_URL', () => {
  for (const url of ['stun:1.2.3.4', 'turn:', 'turn:host:0', 'turn:host:70000', 'turn:host:12ab', 'turn:host?transport=sctp',
    'turn:host?foo=bar', 'turn:[not-v6]:3478', 'turns:host:5349', 'turn:a:b:c']) {
    assert.equal(code(() => parseTurnUrl(url)), 'ERR_TURN_URL', url);
  }
});

test('the turn option needs a URL and either username and password or a secret', () => {
  assert.equal(code(() => turnSettings({ url: 'turn:h', username: '', password: 'p' })), 'ERR_INVALID_ARGUMENT');
  assert.equal(code(() => turnSettings({ url: 'turn:h', secret: '' })), 'ERR_INVALID_ARGUMENT');
  assert.equal(code(() => turnSettings({ url: 'nope', username: 'u', password: 'p' })), 'ERR_TURN_URL');
  assert.deepEqual(turnSettings({ url: 'turn:h', username: 'u', password: 'p' }).credentials(), { username: 'u', password: 'p' });
  const rest = turnSettings({ url: 'turn:h', secret: 's', user: 'alice', ttlSeconds: 60 }).credentials();
  assert.match(rest.username, /^\d+:alice$/);
  assert.ok(Number(rest.username.split(':')[0]) > Date.now() / 1000, 'REST credentials expire in the future');
});

const run = promisify(execFile);

/** The built CLI's last JSON event on stderr for args that must fail before any packet is sent. */
async function cliError(args: string[]): Promise<{ code: number; event: { code?: string; message?: string } }> {
  const failure = await run(process.execPath, ['dist/cli/main.js', ...args, '--json']).then(() => undefined, (error: { code: number; stderr: string }) => error);
  assert.ok(failure, `expected ntcp ${args.join(' ')} to fail`);
  return { code: failure.code, event: JSON.parse(failure.stderr.trim().split('\n').at(-1)!) as { code?: string } };
}

test('ntcp connect/listen: --turn without credentials, credentials without --turn and a turns: URL exit 1 before any network', async () => {
  const base = ['--server', '203.0.113.1', '--id', 'x'];
  const noCredentials = await cliError(['connect', 'peer', ...base, '--turn', 'turn:203.0.113.1']);
  assert.deepEqual([noCredentials.code, noCredentials.event.code], [1, 'ERR_INVALID_ARGUMENT']);
  assert.match(String(noCredentials.event.message), /--turn-user and --turn-pass, or --turn-secret/);
  const noUrl = await cliError(['listen', ...base, '--turn-user', 'u', '--turn-pass', 'p']);
  assert.deepEqual([noUrl.code, noUrl.event.code], [1, 'ERR_INVALID_ARGUMENT']);
  const tls = await cliError(['listen', ...base, '--turn', 'turns:203.0.113.1', '--turn-secret', 's']);
  assert.deepEqual([tls.code, tls.event.code], [1, 'ERR_TURN_URL']);
});
