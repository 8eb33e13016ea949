import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { Lab, labUnavailableReason } from '../../src/lab/index.js';
import { NtcpProcess } from '../../src/cli/ntcp-process.js';

// `ntcp listen` / `ntcp connect` as people and scripts use them: argument errors without any
// network, then TCP sessions in a small lab (two port-restricted sites and `ntcp server`).

const run = promisify(execFile);
const CLI = 'dist/cli/main.js';
const STEP_TIMEOUT_MS = 20_000;

async function fails(args: string[]): Promise<{ code: number; stderr: string }> {
  const error = await run(process.execPath, [CLI, ...args]).then(() => undefined, (failure: { code: number; stderr: string }) => failure);
  assert.ok(error, `expected ${args.join(' ')} to fail`);
  return error;
}

test('a broker port out of range is refused before anything is sent (ERR_INVALID_ARGUMENT, exit 1)', async () => {
  const { code, stderr } = await fails(['listen', '--server', '203.0.113.1:99999', '--id', 'x', '--json']);
  assert.equal(code, 1);
  assert.equal(JSON.parse(stderr.trim().split('\n').at(-1)!).code, 'ERR_INVALID_ARGUMENT');
});

test('an unknown --relay mode and a missing --server are usage errors', async () => {
  const relay = await fails(['connect', 'peer', '--server', '203.0.113.1', '--id', 'x', '--relay', 'sometimes']);
  assert.notEqual(relay.code, 0);
  assert.match(relay.stderr, /--relay must be one of auto, never, force/);
  const server = await fails(['connect', 'peer', '--id', 'x']);
  assert.notEqual(server.code, 0);
  assert.match(server.stderr, /--server/);
});

const unavailable = labUnavailableReason();
let lab: Lab | undefined;
let server = '';

before(async () => {
  if (unavailable) return;
  lab = await Lab.create({
    sites: [{ name: 'a', nat: 'port-restricted', hosts: 2 }, { name: 'b', nat: 'port-restricted' }, { name: 's', nat: 'symmetric' }, { name: 't', nat: 'symmetric' }],
  });
  const [primary, alternate] = lab.serverAddresses;
  server = primary;
  const process_ = new NtcpProcess(lab.spawn('server', [process.execPath, CLI, 'server', '--host', primary, '--alt-host', alternate, '--json']), 'server');
  await process_.waitFor((event) => event.msg === 'ready', 'ready', STEP_TIMEOUT_MS);
});

after(async () => {
  await lab?.destroy();
});

function ntcp(host: string, args: string[]): NtcpProcess {
  return new NtcpProcess(lab!.spawn(host, [process.execPath, CLI, ...args, '--server', server, '--json']), `${host} ${args[0]}`);
}

test('TCP: the end of stdin half-closes; the other side still sends, then both exit 0 with JSON events', async (t) => {
  if (unavailable) return t.skip(`needs root: ${unavailable}`);
  const listener = ntcp('b1', ['listen', '--id', 'tcp-listener']);
  try {
    const registered = await listener.waitForEvent(['registered'], STEP_TIMEOUT_MS);
    assert.equal(registered.id, 'tcp-listener');
    await listener.waitForEvent(['listening'], STEP_TIMEOUT_MS);
    const dialler = ntcp('a1', ['connect', 'tcp-listener', '--id', 'tcp-dialler', '--relay', 'never']);
    const connected = await dialler.waitForEvent(['connected', 'error'], STEP_TIMEOUT_MS);
    assert.equal(connected.event, 'connected', JSON.stringify(connected));
    assert.equal(connected.transport, 'tcp');
    assert.equal(typeof connected.method, 'string');
    assert.equal(typeof connected.elapsedMs, 'number');
    assert.ok(Number.isInteger(connected.attempts) && Number(connected.attempts) >= 1, `TCP connects made: ${String(connected.attempts)}`);
    assert.match(String(connected.local), /^10\.\d+\.\d+\.\d+:\d+$/);
    assert.match(String(connected.remote), new RegExp(`^${lab!.publicAddress('b').replaceAll('.', '\\.')}:\\d+$`));
    dialler.write('ping\n');
    dialler.endInput();
    await listener.waitForOutput('ping\n', STEP_TIMEOUT_MS);
    // The dialler's direction is over; ours must still carry data.
    listener.write('pong\n');
    listener.endInput();
    assert.deepEqual(await Promise.all([dialler.exited, listener.exited]), [0, 0]);
    assert.equal(dialler.stdout, 'pong\n');
    assert.equal(listener.stdout, 'ping\n');
    const closed = await dialler.waitForEvent(['closed'], STEP_TIMEOUT_MS);
    assert.deepEqual([closed.bytesIn, closed.bytesOut], [5, 5]);
  } finally {
    listener.child.kill();
  }
});

test('connect to an id nobody registered exits 1 with an ERR_MATCH error event', async (t) => {
  if (unavailable) return t.skip(`needs root: ${unavailable}`);
  const dialler = ntcp('a2', ['connect', 'nobody', '--id', 'lonely-dialler', '--udp']);
  assert.equal(await dialler.exited, 1);
  const error = await dialler.waitForEvent(['error'], STEP_TIMEOUT_MS);
  assert.equal(error.code, 'ERR_MATCH');
  assert.match(String(error.message), /nobody/);
});

test('UDP with --keep: the listener serves two connections one after the other', async (t) => {
  if (unavailable) return t.skip(`needs root: ${unavailable}`);
  const listener = ntcp('b1', ['listen', '--id', 'keeper', '--udp', '--keep']);
  try {
    await listener.waitForEvent(['listening'], STEP_TIMEOUT_MS);
    for (const [index, host] of ['a1', 'a2'].entries()) {
      const dialler = ntcp(host, ['connect', 'keeper', '--id', `visitor-${index}`, '--udp', '--relay', 'never', '--timeout', String(STEP_TIMEOUT_MS)]);
      // Registering and then the whole connect timeout: a failure shows as the CLI's typed error.
      const outcome = await dialler.waitForEvent(['connected', 'error'], 2 * STEP_TIMEOUT_MS);
      assert.equal(outcome.event, 'connected', `visitor ${index}: ${JSON.stringify(outcome)}; listener: ${listener.stderr.slice(-3).join(' ')}`);
      dialler.write(`visit ${index}\n`);
      await listener.waitForOutput(`visit ${index}\n`, STEP_TIMEOUT_MS);
      dialler.endInput();
      assert.equal(await dialler.exited, 0);
    }
    await listener.waitFor((event) => event.event === 'closed' && listener.events.filter((e) => e.event === 'closed').length === 2, 'two closed events', STEP_TIMEOUT_MS);
    assert.equal(listener.child.exitCode, null, 'still listening');
  } finally {
    listener.child.kill();
  }
});

for (const transport of ['udp', 'tcp'] as const) {
  test(`${transport.toUpperCase()} between two random symmetric NATs: --relay auto connects through the built-in relay`, async (t) => {
    if (unavailable) return t.skip(`needs root: ${unavailable}`);
    const udp = transport === 'udp' ? ['--udp'] : [];
    const listener = ntcp('t1', ['listen', '--id', `hard-${transport}`, ...udp]);
    try {
      await listener.waitForEvent(['listening'], STEP_TIMEOUT_MS);
      const dialler = ntcp('s1', ['connect', `hard-${transport}`, '--id', `hard-dialler-${transport}`, ...udp, '--relay', 'auto']);
      const connected = await dialler.waitForEvent(['connected', 'error'], STEP_TIMEOUT_MS);
      assert.equal(connected.event, 'connected', JSON.stringify(connected));
      assert.equal(connected.method, 'relay');
      assert.equal((await listener.waitForEvent(['connected'], STEP_TIMEOUT_MS)).method, 'relay');
      dialler.write('over the relay\n');
      await listener.waitForOutput('over the relay\n', STEP_TIMEOUT_MS);
      listener.write('and back\n');
      await dialler.waitForOutput('and back\n', STEP_TIMEOUT_MS);
      dialler.endInput();
      listener.endInput();
      assert.deepEqual(await Promise.all([dialler.exited, listener.exited]), [0, 0]);
    } finally {
      listener.child.kill();
    }
  });
}
