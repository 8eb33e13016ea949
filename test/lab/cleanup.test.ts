import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Lab, ProbeAgent, ECHO_PORTS, labUnavailableReason } from '../../src/lab/index.js';
import { namespacesWithPrefix } from './helpers.js';

const unavailable = labUnavailableReason();
const skip = unavailable ? `needs root: ${unavailable}` : false;

/** PIDs whose command line mentions `text` (the forwarder names its namespaces there). */
function processesNaming(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') return false;
        throw error;
      }
    })
    .map(Number);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`a process killed with ${signal} leaves no lab namespace and no forwarder behind`, { skip }, async () => {
    const fixture = fileURLToPath(new URL('./fixtures/hold-lab.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [prefix] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    assert.ok(namespacesWithPrefix(prefix).length > 0, 'the lab is up');
    child.kill(signal);
    const [code, received] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(received ?? code, received ? signal : code, 'the process still ends on the signal');
    assert.deepEqual(namespacesWithPrefix(prefix), []);
    assert.deepEqual(processesNaming(`${prefix}-`), [], 'no process (forwarder) still names the lab');
  });
}

test('an idle UDP mapping is forgotten after udpTimeoutS, and TCP timeouts are set per router', { skip }, async () => {
  const lab = await Lab.create({ sites: [{ name: 'a', nat: { preset: 'symmetric-seq:1', udpTimeoutS: 2, tcpTimeoutS: 77 } }] });
  const agents = await Promise.all(['server', 'a1'].map((host) => ProbeAgent.start(lab, host)));
  try {
    const [server, a1] = agents as [ProbeAgent, ProbeAgent];
    const target = { address: lab.serverAddresses[0], port: ECHO_PORTS[0] };
    await server.request({ op: 'serve', endpoints: [target] });
    const mappedPort = async () => {
      const result = await a1.request<{ observed: Array<{ port: number } | null> }>({ op: 'udp-map', port: 43000, targets: [target], timeoutMs: 1000 });
      assert.ok(result.observed[0]);
      return result.observed[0].port;
    };
    const first = await mappedPort();
    assert.equal(await mappedPort(), first, 'a live mapping is reused');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.notEqual(await mappedPort(), first, 'after the timeout a new mapping is made');
    const tcp = await lab.exec('a', ['cat', '/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established']);
    assert.equal(tcp.stdout.trim(), '77');
  } finally {
    await Promise.all(agents.map((agent) => agent.close()));
    await lab.destroy();
  }
});
