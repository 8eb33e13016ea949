// One load-generating process of `npm run bench:broker` (forked by bench/broker.ts): holds its
// share of broker clients or bare TCP connections and drives closed-loop request traffic.
import net from 'node:net';
import { once } from 'node:events';
import { BrokerClient } from '../src/broker/index.js';
import { encodeFrame, FrameDecoder } from '../src/broker/framing.js';

export type WorkerCommand =
  | { cmd: 'hold-bare'; port: number; count: number; sources: string[] }
  | { cmd: 'release-bare' }
  | { cmd: 'register'; port: number; ids: string[]; sources: string[]; profile: Record<string, unknown> }
  | { cmd: 'coordinate'; seconds: number; pairs: number }
  | { cmd: 'echo'; port: number; seconds: number; pairs: number; request: object }
  | { cmd: 'exit' };

const CONNECT_CONCURRENCY = 256;

let bare: net.Socket[] = [];
let clients: BrokerClient[] = [];

function reply(message: object): void {
  process.send!(message);
}

async function inBatches<T>(count: number, run: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, async () => {
    while (next < count) {
      const index = next++;
      results[index] = await run(index);
    }
  }));
  return results;
}

async function holdBare(command: Extract<WorkerCommand, { cmd: 'hold-bare' }>): Promise<void> {
  bare = await inBatches(command.count, async (index) => {
    const socket = net.connect({ host: '127.0.0.1', port: command.port, localAddress: command.sources[index % command.sources.length] });
    await once(socket, 'connect');
    return socket;
  });
}

async function register(command: Extract<WorkerCommand, { cmd: 'register' }>): Promise<void> {
  clients = await inBatches(command.ids.length, (index) => BrokerClient.connect({
    host: '127.0.0.1', port: command.port, id: command.ids[index]!, profile: command.profile,
    privateAddresses: [{ address: '192.168.1.23', port: 40000 + (index % 20000) }],
    localAddress: command.sources[index % command.sources.length], reconnect: false, connectTimeoutMs: 60_000,
  }));
}

/** Closed loop per pair: connect request -> coordination (both sides) -> done. */
async function coordinate(command: Extract<WorkerCommand, { cmd: 'coordinate' }>): Promise<{ completed: number; incoming: number; errors: number; seconds: number; cpuUs: number }> {
  let incoming = 0;
  const onIncoming = (): void => { incoming += 1; };
  const pairs = Math.min(command.pairs, Math.floor(clients.length / 2));
  for (let i = 0; i < pairs; i++) clients[2 * i + 1]!.on('coordination', onIncoming);
  let completed = 0;
  let errors = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + command.seconds * 1000;
  await Promise.all(Array.from({ length: pairs }, async (_, i) => {
    const initiator = clients[2 * i]!;
    const responder = clients[2 * i + 1]!;
    while (performance.now() < deadline) {
      try {
        const coordination = await initiator.requestConnect(responder.id, { transport: 'udp', timeoutMs: 10_000 });
        initiator.done(coordination.connectionId, 'connected', 'bench');
        completed += 1;
      } catch {
        errors += 1;
      }
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  for (let i = 0; i < pairs; i++) clients[2 * i + 1]!.off('coordination', onIncoming);
  return { completed, incoming, errors, seconds, cpuUs: cpu.user + cpu.system };
}

/** The reference: the same request frame echoed by a bare framed TCP server, closed loop. */
async function echo(command: Extract<WorkerCommand, { cmd: 'echo' }>): Promise<{ completed: number; seconds: number }> {
  const frame = encodeFrame(command.request);
  let completed = 0;
  const started = performance.now();
  const deadline = started + command.seconds * 1000;
  await Promise.all(Array.from({ length: command.pairs }, async () => {
    const socket = net.connect({ host: '127.0.0.1', port: command.port, noDelay: true });
    await once(socket, 'connect');
    const decoder = new FrameDecoder(1 << 20);
    let wake: (() => void) | undefined;
    socket.on('data', (chunk: Buffer) => {
      if (decoder.push(chunk).length > 0) wake?.();
    });
    while (performance.now() < deadline) {
      const answered = new Promise<void>((resolve) => { wake = resolve; });
      socket.write(frame);
      await answered;
      completed += 1;
    }
    socket.destroy();
  }));
  return { completed, seconds: (performance.now() - started) / 1000 };
}

process.on('message', (command: WorkerCommand) => {
  const run = async (): Promise<object> => {
    switch (command.cmd) {
      case 'hold-bare':
        await holdBare(command);
        return { held: bare.length };
      case 'release-bare':
        for (const socket of bare) socket.destroy();
        bare = [];
        return {};
      case 'register':
        await register(command);
        return { registered: clients.length };
      case 'coordinate':
        return coordinate(command);
      case 'echo':
        return echo(command);
      case 'exit':
        for (const client of clients) client.removeAllListeners();
        process.exit(0);
    }
  };
  run().then((result) => reply({ ok: true, ...result }), (error: unknown) => reply({ ok: false, error: String(error) }));
});
