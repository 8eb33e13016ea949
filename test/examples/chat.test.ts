import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { startStunServer, type StunServer } from '../../src/stun/index.js';

// examples/chat.ts as a user runs it: two processes on loopback against what `ntcp server` runs
// (STUN on 127.0.0.1/127.0.0.2 and the broker), offering only 127.0.0.1 as their host address.

const TIMEOUT_MS = 60_000;
let stun: StunServer;
let broker: Broker;

before(async () => {
  stun = await startStunServer({ host: '127.0.0.1', altHost: '127.0.0.2', port: 0, altPort: 0 });
  broker = await startBroker({ host: '127.0.0.1', port: 0 });
});

after(async () => {
  await broker.close();
  await stun.close();
});

/** A running chat.ts: its output so far and a way to wait for a line in it. */
class Chat {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [
      '--import', 'tsx', 'examples/chat.ts', '--server', `127.0.0.1:${broker.port}`,
      '--stun-port', String(stun.endpoints.port), '--host-address', '127.0.0.1', ...args,
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    this.child.stderr!.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    this.exited = once(this.child, 'close').then(([code]) => code as number | null);
  }

  async waitFor(text: string): Promise<void> {
    while (!this.output.includes(text)) {
      const exitedEarly = await Promise.race([once(this.child.stdout!, 'data').then(() => false), once(this.child.stderr!, 'data').then(() => false), this.exited.then(() => true)]);
      if (exitedEarly && !this.output.includes(text)) assert.fail(`chat exited without printing ${JSON.stringify(text)}:\n${this.output}`);
    }
  }
}

for (const transport of ['tcp', 'udp'] as const) {
  test(`two chat.ts instances exchange a line each way over ${transport} and both exit 0`, { timeout: TIMEOUT_MS }, async () => {
    const extra = transport === 'udp' ? ['--udp'] : [];
    const bob = new Chat(['--id', `bob-${transport}`, ...extra]);
    let alice: Chat | undefined;
    try {
      await bob.waitFor('waiting for a');
      alice = new Chat(['--id', `alice-${transport}`, ...extra, `bob-${transport}`]);
      await Promise.all([alice.waitFor(`connected to bob-${transport} over ${transport}`), bob.waitFor(`connected to alice-${transport} over ${transport}`)]);
      alice.child.stdin!.write('hello bob\n');
      await bob.waitFor(`<alice-${transport}> hello bob`);
      bob.child.stdin!.write('hi alice\n');
      await alice.waitFor(`<bob-${transport}> hi alice`);
      alice.child.stdin!.end();
      assert.equal(await alice.exited, 0, alice.output);
      assert.equal(await bob.exited, 0, bob.output);
      assert.match(bob.output, /chat over/);
    } finally {
      bob.child.kill('SIGKILL');
      alice?.child.kill('SIGKILL');
    }
  });
}

test('chat.ts dialling an id nobody registered fails with ERR_MATCH and exits 1', { timeout: TIMEOUT_MS }, async () => {
  const alice = new Chat(['--id', 'alice-alone', 'nobody']);
  try {
    assert.equal(await alice.exited, 1);
    assert.match(alice.output, /nobody is not registered there \(ERR_MATCH\)/);
  } finally {
    alice.child.kill('SIGKILL');
  }
});
