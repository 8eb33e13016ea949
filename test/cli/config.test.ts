import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError, loadConfig, type NtcpConfig, parseConfig, resolvePeerSettings, resolveServerSettings } from '../../src/cli/config.js';
import { NtcpError } from '../../src/errors.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ntcp-config-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configError(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_CONFIG');
    return error;
  }
  assert.fail('expected ERR_CONFIG');
}

const SAMPLE: NtcpConfig = {
  server: { host: '203.0.113.1', altHost: '203.0.113.2', port: 3478, altPort: 3479, brokerPort: 8123, relay: { enabled: true, port: 3480, limits: { maxSessions: 100, idleTimeoutMs: 60000, bytesPerSecond: 1048576 } }, limits: { maxPeers: 1000 }, queryToken: 's3cret' },
  peer: { server: '203.0.113.1:8123', stunPort: 3478, id: 'alice', transport: 'udp', relay: 'never', turn: { url: 'turn:203.0.113.1:3578', user: 'u', password: 'p' }, timeouts: { connectMs: 10000, probeMs: 500 } },
};

test('a file with every key loads as written', async () => {
  const file = join(dir, 'full.json');
  await writeFile(file, JSON.stringify(SAMPLE));
  assert.deepEqual(await loadConfig(file), SAMPLE);
});

test('an unknown key is refused with its dotted path and the file name', () => {
  const error = configError(() => parseConfig(JSON.stringify({ server: { host: 'h', brokerPrt: 1 } }), 'ntcp.json'));
  assert.equal(error.key, 'server.brokerPrt');
  assert.equal(error.file, 'ntcp.json');
  assert.match(error.message, /ntcp\.json: server\.brokerPrt: unknown key/);
  assert.equal(configError(() => parseConfig('{"stun": {}}', 'f')).key, 'stun');
});

test('a value of the wrong type or range names its key', () => {
  assert.equal(configError(() => parseConfig('{"server": {"port": "3478"}}', 'f')).key, 'server.port');
  assert.equal(configError(() => parseConfig('{"server": {"brokerPort": 70000}}', 'f')).key, 'server.brokerPort');
  assert.equal(configError(() => parseConfig('{"peer": {"relay": "sometimes"}}', 'f')).key, 'peer.relay');
  assert.equal(configError(() => parseConfig('{"peer": {"timeouts": {"connectMs": -1}}}', 'f')).key, 'peer.timeouts.connectMs');
  assert.equal(configError(() => parseConfig('{"server": {"relay": {"enabled": "no"}}}', 'f')).key, 'server.relay.enabled');
});

test('text that is not JSON, or not an object, is refused', () => {
  const error = configError(() => parseConfig('{ server: ', 'broken.json'));
  assert.equal(error.key, undefined);
  assert.ok(error.cause instanceof SyntaxError);
  configError(() => parseConfig('[]', 'f'));
});

test('a missing file rejects with ERR_CONFIG naming it, the cause chained', async () => {
  const file = join(dir, 'absent.json');
  const error = await loadConfig(file).then(() => undefined, (failure: unknown) => failure);
  assert.ok(error instanceof ConfigError);
  assert.equal(error.file, file);
  assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOENT');
});

test('NTCP_CONFIG names the file when --config is not given; neither gives the empty config', async () => {
  const file = join(dir, 'env.json');
  await writeFile(file, '{"peer": {"id": "from-env"}}');
  assert.equal((await loadConfig(undefined, { NTCP_CONFIG: file })).peer?.id, 'from-env');
  assert.deepEqual(await loadConfig(undefined, {}), {});
  const other = join(dir, 'flag.json');
  await writeFile(other, '{"peer": {"id": "from-flag"}}');
  assert.equal((await loadConfig(other, { NTCP_CONFIG: file })).peer?.id, 'from-flag');
});

test('server: flags override the file, the file overrides the embedded defaults', () => {
  const settings = resolveServerSettings({ host: '203.0.113.1', port: 4000, relay: { enabled: false, port: 4002 } }, { port: 5000 });
  assert.equal(settings.host, '203.0.113.1');
  assert.equal(settings.port, 5000);
  assert.equal(settings.altPort, 3479);
  assert.equal(settings.brokerPort, 8123);
  assert.equal(settings.relay, false);
  assert.equal(settings.relayPort, 4002);
  assert.deepEqual(resolveServerSettings({ host: 'h', relay: { limits: { maxSessions: 5 } } }, {}).relayLimits, { maxSessions: 5 });
  assert.equal(resolveServerSettings({ host: 'h', relay: { enabled: false } }, { relay: true }).relay, true);
});

test('server: no file needs only --host; without a host anywhere it is a typed error', () => {
  assert.deepEqual(resolveServerSettings(undefined, { host: '127.0.0.1' }), { host: '127.0.0.1', port: 3478, altPort: 3479, brokerPort: 8123, relay: true, relayPort: 3480 });
  assert.throws(() => resolveServerSettings({}, {}), (error: unknown) => error instanceof NtcpError && error.code === 'ERR_INVALID_ARGUMENT' && /--host/.test(error.message));
});

test('peer: the file fills what the flags leave out; --udp and --turn flags win', () => {
  const settings = resolvePeerSettings(SAMPLE.peer, { id: 'bob', turn: 'turn:127.0.0.1' });
  assert.equal(settings.id, 'bob');
  assert.equal(settings.server, '203.0.113.1:8123');
  assert.equal(settings.udp, true);
  assert.equal(settings.relay, 'never');
  assert.equal(settings.timeout, 10000);
  assert.equal(settings.probeTimeout, 500);
  assert.equal(settings.turn, 'turn:127.0.0.1');
  assert.equal(settings.turnUser, 'u');
  assert.equal(resolvePeerSettings({ server: 's', id: 'a', transport: 'tcp' }, {}).udp, false);
  assert.throws(() => resolvePeerSettings({ id: 'a' }, {}), /--server/);
  assert.throws(() => resolvePeerSettings(undefined, { server: 's' }), /--id/);
});
