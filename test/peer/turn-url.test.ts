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
  assert.deepEqual(parseTurnUrl('turn:203.0.113.1:3479'), { host: '203.0.113.1', port: 3479, transport: 'udp', secure: false });
  assert.deepEqual(parseTurnUrl('turn:relay.example.org?transport=tcp'), { host: 'relay.example.org', port: 3478, transport: 'tcp', secure: false });
  assert.deepEqual(parseTurnUrl('TURN:[2001:db8::1]:5000?transport=UDP'), { host: '2001:db8::1', port: 5000, transport: 'udp', secure: false });
});

test('turns URLs are TLS over TCP, on port 5349 by default (RFC 7065 §3)', () => {
  assert.deepEqual(parseTurnUrl('turns:relay.example.org'), { host: 'relay.example.org', port: 5349, transport: 'tcp', secure: true });
  assert.deepEqual(parseTurnUrl('TURNS:203.0.113.1:443?transport=tcp'), { host: '203.0.113.1', port: 443, transport: 'tcp', secure: true });
  assert.deepEqual(parseTurnUrl('turns:[2001:db8::1]'), { host: '2001:db8::1', port: 5349, transport: 'tcp', secure: true });
});

test('turns: with transport=udp (DTLS) is ERR_TURN_URL and says DTLS is not supported', () => {
  assert.throws(() => parseTurnUrl('turns:relay.example.org?transport=udp'), { code: 'ERR_TURN_URL', message: /DTLS .* not supported/ });
});

test('malformed turn URLs are ERR_TURN_URL', () => {
  for (const url of ['stun:1.2.3.4', 'turn:', 'turn:host:0', 'turn:host:70000', 'turn:host:12ab', 'turn:host?transport=sctp',
    'turn:host?foo=bar', 'turn:[not-v6]:3478', 'turn:a:b:c', 'turns:', 'turns:host:0', 'turns:host?transport=sctp', 'turnss:host']) {
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

test('the turn option takes a CA and rejectUnauthorized for turns: only, and does not keep the caller\'s array', () => {
  const ca = ['-----BEGIN CERTIFICATE-----'];
  const settings = turnSettings({ url: 'turns:h', username: 'u', password: 'p', ca, rejectUnauthorized: false });
  assert.deepEqual(settings.tls, { ca, rejectUnauthorized: false });
  assert.notEqual(settings.tls?.ca, ca);
  assert.deepEqual(turnSettings({ url: 'turns:h', secret: 's' }).tls, {}, 'turns: verifies against the system CAs by default');
  assert.equal(turnSettings({ url: 'turn:h', secret: 's' }).tls, undefined);
  assert.equal(code(() => turnSettings({ url: 'turn:h', username: 'u', password: 'p', ca: 'pem' })), 'ERR_INVALID_ARGUMENT');
  assert.equal(code(() => turnSettings({ url: 'turn:h', secret: 's', rejectUnauthorized: false })), 'ERR_INVALID_ARGUMENT');
  assert.equal(code(() => turnSettings({ url: 'turns:h', secret: 's', ca: [] })), 'ERR_INVALID_ARGUMENT');
});

const run = promisify(execFile);

/** The built CLI's last JSON event on stderr for args that must fail before any packet is sent. */
async function cliError(args: string[]): Promise<{ code: number; event: { code?: string; message?: string } }> {
  const failure = await run(process.execPath, ['dist/cli/main.js', ...args, '--json']).then(() => undefined, (error: { code: number; stderr: string }) => error);
  assert.ok(failure, `expected ntcp ${args.join(' ')} to fail`);
  return { code: failure.code, event: JSON.parse(failure.stderr.trim().split('\n').at(-1)!) as { code?: string } };
}

test('ntcp connect/listen: bad --turn flags exit 1 before any network', async () => {
  const base = ['--server', '203.0.113.1', '--id', 'x'];
  const [noCredentials, noUrl, dtls, missingCa] = await Promise.all([
    cliError(['connect', 'peer', ...base, '--turn', 'turn:203.0.113.1']),
    cliError(['listen', ...base, '--turn-user', 'u', '--turn-pass', 'p']),
    cliError(['listen', ...base, '--turn', 'turns:203.0.113.1?transport=udp', '--turn-secret', 's']),
    cliError(['listen', ...base, '--turn', 'turns:203.0.113.1', '--turn-secret', 's', '--turn-ca', '/nonexistent/ca.pem']),
  ]);
  assert.deepEqual([noCredentials.code, noCredentials.event.code], [1, 'ERR_INVALID_ARGUMENT']);
  assert.match(String(noCredentials.event.message), /--turn-user and --turn-pass, or --turn-secret/);
  assert.deepEqual([noUrl.code, noUrl.event.code], [1, 'ERR_INVALID_ARGUMENT']);
  assert.deepEqual([dtls.code, dtls.event.code], [1, 'ERR_TURN_URL']);
  assert.deepEqual([missingCa.code, missingCa.event.code], [1, 'ERR_INVALID_ARGUMENT']);
  assert.match(String(missingCa.event.message), /--turn-ca file/);
});
