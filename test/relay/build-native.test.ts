// scripts/build-native.mjs is npm's install script: it must build the addon from a clean tree and
// must never fail an install, saying in one line why it did not build. Run in temporary copies so
// the project's own build/ is left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

function inCopy(env: NodeJS.ProcessEnv, check: (output: string, status: number | null, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ntcp-native-'));
  try {
    for (const path of ['binding.gyp', 'native/splice.c', 'scripts/build-native.mjs']) cpSync(join(root, path), join(dir, path), { recursive: true });
    const result = spawnSync(process.execPath, [join(dir, 'scripts', 'build-native.mjs')], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
    check(`${result.stdout}${result.stderr}`, result.status, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('without a working compiler the install step still succeeds and says why in one line', () => {
  inCopy({ CC: '/bin/false', CXX: '/bin/false' }, (output, status, dir) => {
    assert.equal(status, 0);
    const lines = output.trim().split('\n');
    assert.equal(lines.length, 1, output);
    assert.match(lines[0]!, /^ntcp: kernel splice addon not built \(.+\); needs python3, make and g\+\+; the relay uses its JavaScript splice instead$/);
    assert.equal(existsSync(join(dir, 'build', 'Release', 'ntcp_splice.node')), false);
  });
});

test('NTCP_SKIP_NATIVE=1 skips the build', () => {
  inCopy({ NTCP_SKIP_NATIVE: '1' }, (output, status) => {
    assert.equal(status, 0);
    assert.match(output, /^ntcp: kernel splice addon skipped \(NTCP_SKIP_NATIVE=1\)/);
  });
});

const toolchainMissing = ['g++', 'make', 'python3'].find((tool) => spawnSync(tool, ['--version']).status !== 0);
const cannotBuild = process.platform !== 'linux' ? 'splice(2) is Linux only' : toolchainMissing && `SKIPPED: ${toolchainMissing} is not installed`;

test('a clean tree builds the addon', { skip: cannotBuild || false }, () => {
  inCopy({}, (output, status, dir) => {
    assert.equal(status, 0);
    assert.match(output, /^ntcp: kernel splice addon built build\/Release\/ntcp_splice\.node/);
    assert.ok(existsSync(join(dir, 'build', 'Release', 'ntcp_splice.node')));
  });
});
