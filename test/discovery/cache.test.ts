import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/observe/logger.js';
import { PROFILE_CACHE_VERSION, readCachedProfile, writeCachedProfile, type NatProfile } from '../../src/discovery/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ntcp-profile-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const key = { server: '203.0.113.1:3478', localAddress: '10.1.0.10' };
const profile: NatProfile = {
  version: 1,
  server: { host: '203.0.113.1', port: 3478 },
  altServer: { family: 'IPv4', address: '203.0.113.2', port: 3479 },
  measuredAt: '2026-01-01T00:00:00.000Z',
  durationMs: 812,
  local: { address: '10.1.0.10', interfaces: ['10.1.0.10'] },
  udp: {
    local: { family: 'IPv4', address: '10.1.0.10', port: 40000 },
    mapped: { family: 'IPv4', address: '203.0.113.10', port: 40000 },
    natPresent: true,
    mapping: 'endpoint-independent',
    filtering: 'address-and-port-dependent',
    hairpinning: 'supported',
    portPreserving: true,
    rfc3489Type: 'port-restricted-cone',
    evidence: { observations: [], notes: [] },
  },
};
const read = (path: string, overrides: Partial<Parameters<typeof readCachedProfile>[2]> = {}, k = key) =>
  readCachedProfile(path, k, { transports: ['udp'], logger: silentLogger, ...overrides });

describe('NAT profile cache (XSTUNT fingerprint.dat)', () => {
  test('a profile written is read back while version, server and local address match', async () => {
    const path = join(dir, 'match.json');
    await writeCachedProfile(path, key, profile);
    assert.deepEqual(await read(path), profile);
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).version, PROFILE_CACHE_VERSION);
  });

  test('another server or another local address drops the file', async () => {
    for (const other of [{ ...key, server: '198.51.100.1:3478' }, { ...key, localAddress: '10.9.0.10' }]) {
      const path = join(dir, 'mismatch.json');
      await writeCachedProfile(path, key, profile);
      assert.equal(await read(path, {}, other), undefined);
      assert.equal(existsSync(path), false, 'a mismatching cache is deleted');
    }
  });

  test('another file version, an old file, or a corrupt one is dropped', async () => {
    const path = join(dir, 'stale.json');
    await writeCachedProfile(path, key, profile);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...file, version: PROFILE_CACHE_VERSION + 1 }));
    assert.equal(await read(path), undefined);
    assert.equal(existsSync(path), false);

    await writeCachedProfile(path, key, profile, Date.now() - 10_000);
    assert.equal(await read(path, { maxAgeMs: 5_000 }), undefined);
    assert.equal(existsSync(path), false);

    writeFileSync(path, '{ not json');
    assert.equal(await read(path), undefined);
    assert.equal(existsSync(path), false);

    writeFileSync(path, JSON.stringify({ ...file, profile: { ...profile, udp: { ...profile.udp, mapping: 'sideways' } } }));
    assert.equal(await read(path), undefined);
  });

  test('a profile without a requested transport is not a hit', async () => {
    const path = join(dir, 'transports.json');
    await writeCachedProfile(path, key, profile);
    assert.equal(await read(path, { transports: ['udp', 'tcp'] }), undefined);
  });

  test('no file is simply a miss', async () => {
    assert.equal(await read(join(dir, 'absent.json')), undefined);
  });
});
