import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { NtcpProcess } from '../../src/cli/ntcp-process.js';
import { Lab, labUnavailableReason } from '../../src/lab/index.js';

// Relayed UDP for a site whose firewall drops every UDP packet (issue 7's UDP-blocked site):
// `ntcp server` (broker, STUN, relay) in the lab's server namespace, `ntcp listen --udp` /
// `ntcp connect --udp` in two sites behind real kernel NATs, one of them behind
// `firewall: { udp: 'block' }`. The blocked peer registers, and its UDP connections go through
// the relay with its side attached over TCP. Run from sources (tsx), one lab for the file.

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const STEP_TIMEOUT_MS = 30_000;

const unavailable = labUnavailableReason();
if (unavailable) console.error(`relay-udp-blocked-lab.test: SKIPPING the UDP-blocked relay lab tests: ${unavailable}`);
let lab: Lab | undefined;
let server = '';

before(async () => {
  if (unavailable) return;
  lab = await Lab.create({ sites: [{ name: 'f', nat: 'port-restricted', firewall: { udp: 'block' } }, { name: 'b', nat: 'port-restricted' }] });
  const [primary, alternate] = lab.serverAddresses;
  server = primary;
  const ntcpServer = new NtcpProcess(lab.spawn('server', [process.execPath, ...CLI, 'server', '--host', primary, '--alt-host', alternate, '--json']), 'server');
  await ntcpServer.waitFor((event) => event.msg === 'ready', 'ready', STEP_TIMEOUT_MS);
});

after(async () => {
  await lab?.destroy();
});

function ntcp(host: string, args: string[]): NtcpProcess {
  return new NtcpProcess(lab!.spawn(host, [process.execPath, ...CLI, ...args, '--server', server, '--json']), `${host} ${args[0]}`);
}

function failureReport(processes: NtcpProcess[]): string {
  return processes.map((process_) => `${process_.child.spawnargs.slice(-8).join(' ')}:\n${process_.stderr.join('\n')}`).join('\n');
}

for (const [listenerHost, diallerHost] of [['f1', 'b1'], ['b1', 'f1']] as const) {
  test(`UDP ${diallerHost === 'f1' ? 'from' : 'to'} the UDP-blocked site with --relay auto connects through the relay, data intact both ways`, async (t) => {
    if (unavailable) return t.skip(`needs root: ${unavailable}`);
    const id = `udp-${listenerHost}`;
    const listener = ntcp(listenerHost, ['listen', '--id', id, '--udp']);
    let dialler: NtcpProcess | undefined;
    try {
      await listener.waitForEvent(['listening'], STEP_TIMEOUT_MS);
      dialler = ntcp(diallerHost, ['connect', id, '--id', `dialler-${listenerHost}`, '--udp', '--relay', 'auto']);
      const connected = await dialler.waitForEvent(['connected', 'error'], STEP_TIMEOUT_MS);
      assert.equal(connected.event, 'connected', failureReport([dialler, listener]));
      assert.equal(connected.method, 'relay');
      assert.equal(connected.transport, 'udp');
      assert.equal((await listener.waitForEvent(['connected'], STEP_TIMEOUT_MS)).method, 'relay');
      // Several datagrams each way (the CLI cuts stdin at maxDatagramSize).
      const forth = `${randomBytes(2000).toString('hex')}\n`;
      const back = `${randomBytes(2000).toString('hex')}\n`;
      dialler.write(forth);
      await listener.waitForOutput(forth, STEP_TIMEOUT_MS);
      listener.write(back);
      await dialler.waitForOutput(back, STEP_TIMEOUT_MS);
      dialler.endInput();
      listener.endInput();
      assert.deepEqual(await Promise.all([dialler.exited, listener.exited]), [0, 0], failureReport([dialler, listener]));
    } finally {
      dialler?.child.kill();
      listener.child.kill();
    }
  });
}

test('UDP to the UDP-blocked site with --relay never fails at once with ERR_UDP_BLOCKED', async (t) => {
  if (unavailable) return t.skip(`needs root: ${unavailable}`);
  const listener = ntcp('f1', ['listen', '--id', 'udp-never', '--udp']);
  try {
    await listener.waitForEvent(['listening'], STEP_TIMEOUT_MS);
    const dialler = ntcp('b1', ['connect', 'udp-never', '--id', 'dialler-never', '--udp', '--relay', 'never']);
    const outcome = await dialler.waitForEvent(['connected', 'error'], STEP_TIMEOUT_MS);
    assert.equal(outcome.event, 'error', failureReport([dialler, listener]));
    assert.equal(outcome.code, 'ERR_UDP_BLOCKED');
    assert.notEqual(await dialler.exited, 0);
  } finally {
    listener.child.kill();
  }
});
