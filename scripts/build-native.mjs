// `npm install` / `npm ci` run this: builds the kernel splice addon (native/splice.c, binding.gyp)
// with node-gyp when it can. It never fails the install: without the addon the relay uses its
// JavaScript splice, and this prints one line saying why. NTCP_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_TIMEOUT_MS = 180_000;
const say = (line) => console.log(`ntcp: ${line}`);

/** npm's own node-gyp: npm names it for scripts; else it sits beside the npm that runs us. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  for (const npm of ['/usr/lib/node_modules/npm', join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm')]) {
    candidates.push(join(npm, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  return candidates.find((candidate) => candidate && existsSync(candidate));
}

/** Node's own headers, so node-gyp never downloads them (the build machine may be offline). */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = realpathSync(join(dirname(process.execPath), '..'));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function build() {
  if (process.env.NTCP_SKIP_NATIVE === '1') return 'skipped (NTCP_SKIP_NATIVE=1)';
  if (process.platform !== 'linux') return `skipped: splice(2) is Linux only (this is ${process.platform})`;
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) return 'not built: node-gyp not found (install npm with its node-gyp)';
  const nodeDir = findNodeDir();
  const args = [nodeGyp, 'rebuild', '--release', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
  const result = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS });
  if (result.status === 0 && existsSync(join(root, 'build', 'Release', 'ntcp_splice.node'))) return 'built build/Release/ntcp_splice.node';
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  const firstError = output.split('\n').find((line) => /error|not found|ENOENT/i.test(line))?.trim();
  const why = result.error?.message ?? firstError ?? `node-gyp exited with ${result.status}`;
  return `not built (${why}); needs python3, make and g++`;
}

const outcome = build();
say(`kernel splice addon ${outcome}${outcome.startsWith("built") ? "" : "; the relay uses its JavaScript splice instead"}`);
