import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startStunServer, type StunServer } from '../../src/stun/index.js';
import { NatProfileSchema } from '../../src/discovery/index.js';

const run = promisify(execFile);
// The built CLI, as users run it (`npm test` builds dist/ first).
const CLI = ['dist/cli/main.js', 'probe'];

describe('ntcp probe', () => {
  let server: StunServer;
  let target: string;

  before(async () => {
    server = await startStunServer({ host: '127.0.0.1', altHost: '127.0.0.2', port: 0, altPort: 0 });
    target = `127.0.0.1:${server.endpoints.port}`;
  });
  after(() => server.close());

  test('prints a human summary on stdout and the steps on stderr while it runs', async () => {
    const { stdout, stderr } = await run(process.execPath, [...CLI, '--server', target]);
    assert.match(stdout, /UDP\s+open-internet \(RFC 3489\)/);
    assert.match(stdout, /filtering\s+endpoint-independent/);
    assert.match(stdout, /TCP\s+cone/);
    assert.match(stderr, /udp-mapping-1\s+response ->/);
    assert.match(stderr, /tcp-fresh-3\s+response ->/);
  });

  test('--json prints exactly one JSON profile; --udp leaves TCP out', async () => {
    const { stdout, stderr } = await run(process.execPath, [...CLI, '--server', target, '--json', '--udp']);
    assert.equal(stdout.trim().split('\n').length, 1);
    const profile = NatProfileSchema.parse(JSON.parse(stdout));
    assert.equal(profile.udp?.mapping, 'endpoint-independent');
    assert.equal(profile.tcp, undefined);
    assert.equal(stderr, '');
  });

  test('--tcp with --udp is a usage error (exit 2)', async () => {
    await assert.rejects(run(process.execPath, [...CLI, '--server', target, '--tcp', '--udp']), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr ?? '', /exclude each other/);
      return true;
    });
  });
});
