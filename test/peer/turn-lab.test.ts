import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NtcpProcess } from '../../src/cli/ntcp-process.js';
import { Lab, labUnavailableReason } from '../../src/lab/index.js';
import { coturnInstalled } from '../relay/support/coturn.js';

// `ntcp listen` / `ntcp connect --relay auto --turn ...` between two random symmetric NATs (no
// direct path): coturn runs in the lab's server namespace on the server's public address, next
// to `ntcp server`, and carries the connection. One lab, one coturn, both transports.

const CLI = 'dist/cli/main.js';
const STEP_TIMEOUT_MS = 20_000;
/** Not 3478: `ntcp server`'s STUN server has that port on the same address. */
const TURN_PORT = 3578;
const TURN_USER = 'lab-user';
const TURN_PASS = 'lab-pass';

const unavailable = labUnavailableReason() ?? (coturnInstalled() ? null : '`turnserver` is not installed (apt-get install coturn)');
if (unavailable) console.error(`turn-lab.test: SKIPPING the TURN lab tests: ${unavailable}`);
let lab: Lab | undefined;
let coturn: ChildProcess | undefined;
let coturnDir: string | undefined;
let server = '';

before(async () => {
  if (unavailable) return;
  lab = await Lab.create({ sites: [{ name: 's', nat: 'symmetric' }, { name: 't', nat: 'symmetric' }] });
  const [primary, alternate] = lab.serverAddresses;
  server = primary;
  coturnDir = mkdtempSync(join(tmpdir(), 'ntcp-turn-lab-'));
  coturn = lab.spawn('server', [
    'turnserver', '-n', `--listening-ip=${primary}`, `--listening-port=${TURN_PORT}`, `--relay-ip=${primary}`,
    '--min-port=40000', '--max-port=40099', '--no-tls', '--no-dtls', '--no-cli', '--lt-cred-mech', `--user=${TURN_USER}:${TURN_PASS}`,
    '--realm=lab', '--log-file=stdout', '--simple-log', `--pidfile=${join(coturnDir, 'pid')}`, `--userdb=${join(coturnDir, 'turndb')}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const ntcpServer = new NtcpProcess(lab.spawn('server', [process.execPath, CLI, 'server', '--host', primary, '--alt-host', alternate, '--json']), 'server');
  await Promise.all([coturnReady(coturn), ntcpServer.waitFor((event) => event.msg === 'ready', 'ready', STEP_TIMEOUT_MS)]);
});

after(async () => {
  coturn?.kill('SIGKILL');
  await lab?.destroy();
  if (coturnDir) rmSync(coturnDir, { recursive: true, force: true });
});

function coturnReady(child: ChildProcess): Promise<void> {
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`turnserver did not start in the lab:\n${output}`)), STEP_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!output.includes('Total General servers')) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`turnserver exited (${code}) in the lab:\n${output}`)));
  });
}

function ntcp(host: string, args: string[]): NtcpProcess {
  const turn = ['--turn', `turn:${server}:${TURN_PORT}`, '--turn-user', TURN_USER, '--turn-pass', TURN_PASS];
  return new NtcpProcess(lab!.spawn(host, [process.execPath, CLI, ...args, ...turn, '--server', server, '--json']), `${host} ${args[0]}`);
}

for (const transport of ['udp', 'tcp'] as const) {
  test(`${transport.toUpperCase()} between two random symmetric NATs: --relay auto --turn connects through coturn (method turn)`, async (t) => {
    if (unavailable) return t.skip(`needs root and coturn: ${unavailable}`);
    const udp = transport === 'udp' ? ['--udp'] : [];
    const listener = ntcp('t1', ['listen', '--id', `turn-${transport}`, ...udp]);
    let dialler: NtcpProcess | undefined;
    try {
      await listener.waitForEvent(['listening'], STEP_TIMEOUT_MS);
      dialler = ntcp('s1', ['connect', `turn-${transport}`, '--id', `turn-dialler-${transport}`, ...udp, '--relay', 'auto']);
      const connected = await dialler.waitForEvent(['connected', 'error'], STEP_TIMEOUT_MS);
      assert.equal(connected.event, 'connected', JSON.stringify(connected));
      assert.equal(connected.method, 'turn');
      assert.equal(connected.transport, transport);
      assert.equal((await listener.waitForEvent(['connected'], STEP_TIMEOUT_MS)).method, 'turn');
      dialler.write('through coturn\n');
      await listener.waitForOutput('through coturn\n', STEP_TIMEOUT_MS);
      listener.write('and back\n');
      await dialler.waitForOutput('and back\n', STEP_TIMEOUT_MS);
      dialler.endInput();
      listener.endInput();
      const codes = await Promise.all([dialler.exited, listener.exited]);
      assert.deepEqual(codes, [0, 0], `exit codes; dialler stderr:\n${dialler.stderr.join('\n')}\nlistener stderr:\n${listener.stderr.join('\n')}`);
    } finally {
      dialler?.child.kill();
      listener.child.kill();
    }
  });
}
