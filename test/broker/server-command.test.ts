import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { BrokerClient, queryBroker } from '../../src/broker/index.js';
import { udpBinding } from '../../src/stun/index.js';

/** A server that never gets ready fails the test instead of hanging the suite. */
const TIMEOUT_MS = 60_000;

test('ntcp server runs STUN and the broker together and shuts down cleanly on SIGTERM', { timeout: TIMEOUT_MS }, async () => {
  const child = spawn(process.execPath, [
    '--import', 'tsx', 'src/cli/main.ts', 'server', '--host', '127.0.0.1', '--port', '0', '--alt-port', '0', '--broker-port', '0', '--json',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const events: Array<Record<string, any>> = [];
  const ready = new Promise<Record<string, any>>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const event = JSON.parse(line) as Record<string, any>;
      events.push(event);
      if (event.msg === 'ready') resolve(event);
    });
    child.once('exit', (code) => reject(new Error(`ntcp server exited early (${code})`)));
  });
  try {
    const { stun, broker } = await ready;
    const brokerPort = Number(String(broker).split(':').at(-1));
    const stunPort = Number(String(stun.udp[0]).split(':').at(-1));
    const binding = await udpBinding({ server: { host: '127.0.0.1', port: stunPort }, timeoutMs: 2000 });
    assert.equal(binding.mapped.address, '127.0.0.1');
    const peer = await BrokerClient.connect({ host: '127.0.0.1', port: brokerPort, id: 'cli-peer', reconnect: false });
    assert.equal((await queryBroker({ host: '127.0.0.1', port: brokerPort })).counts.idle, 1);
    const dropped = new Promise((resolve) => peer.once('closed', resolve));
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    await dropped;
    assert.ok(events.some((event) => event.msg === 'stopped' && event.broker.registrations === 1));
  } finally {
    child.kill('SIGKILL');
  }
});
