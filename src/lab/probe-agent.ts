/**
 * The lab's own probe: a tiny process run inside a lab host (one per host, started once) that
 * takes JSON-line commands on stdin and answers JSON lines on stdout. On the server it runs UDP
 * and TCP echo services that report the source address they observe; on other hosts it sends the
 * probes. Independent of the STUN code on purpose: the lab must be verifiable on its own.
 *
 * Echo wire format (UDP datagram or one TCP line): request JSON `{ replyFrom?, connectBack? }`,
 * answer JSON `{ observed: { address, port }, via: { address, port } }`.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { createInterface } from 'node:readline';

export interface Endpoint {
  address: string;
  port: number;
}

export type AgentCommand =
  | { id: number; op: 'serve'; endpoints: Endpoint[] }
  /** One UDP socket (local port `port`, 0 = any) asks each target in turn for the observed source. */
  | { id: number; op: 'udp-map'; port: number; targets: Endpoint[]; timeoutMs: number }
  /** Sends one request to `target` asking for answers from each of `replyFrom`; reports which arrived. */
  | { id: number; op: 'udp-filter'; port: number; target: Endpoint; replyFrom: Endpoint[]; waitMs: number }
  /** TCP connections from one local port (SO_REUSEADDR) to each target in turn, kept open until all answered. */
  | { id: number; op: 'tcp-map'; port: number; targets: Endpoint[]; timeoutMs: number }
  /** Connects to `target` from `port`, listens on that port too, asks the server to connect back from each address. */
  | { id: number; op: 'tcp-filter'; port: number; target: Endpoint; connectBackFrom: string[]; waitMs: number }
  /** Binds a UDP port and reports the datagrams that arrive within `waitMs`. */
  | { id: number; op: 'udp-listen'; port: number; waitMs: number }
  /** Listens on a TCP port and reports the connections accepted within `waitMs`. */
  | { id: number; op: 'tcp-listen'; port: number; waitMs: number }
  /** Sends `count` datagrams from `port` to `target`. */
  | { id: number; op: 'udp-send'; port: number; target: Endpoint; count: number }
  /** UDP round trips to an echo service: round-trip times in ms of the answers that came back. */
  | { id: number; op: 'udp-rtt'; target: Endpoint; count: number; intervalMs: number; timeoutMs: number }
  /** One TCP connect attempt: 'connected', 'refused' (RST) or 'timeout' (dropped). */
  | { id: number; op: 'tcp-connect'; target: Endpoint; port?: number; timeoutMs: number };

export type ConnectOutcome = 'connected' | 'refused' | 'timeout' | 'error';

interface EchoRequest {
  replyFrom?: Endpoint;
  connectBack?: { fromAddress: string; timeoutMs: number };
  seq?: number;
}

interface EchoAnswer {
  observed: Endpoint;
  via: Endpoint;
  seq?: number;
  connectBack?: ConnectOutcome;
}

const MAX_LINE_BYTES = 64 * 1024;
const UDP_RETRIES = 3;

const sockets: Array<{ close(): void }> = [];

function write(message: object): void {
  process.stdout.write(JSON.stringify(message) + '\n');
}

function key(endpoint: Endpoint): string {
  return `${endpoint.address}:${endpoint.port}`;
}

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    process.stderr.write(`probe-agent: ignoring malformed message (${(error as Error).message})\n`);
    return undefined;
  }
}

function bindUdp(port: number, address?: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    socket.once('error', reject);
    socket.bind({ port, ...(address ? { address } : {}) }, () => {
      socket.removeListener('error', reject);
      socket.on('error', (error) => process.stderr.write(`probe-agent: udp ${error.message}\n`));
      resolve(socket);
    });
  });
}

function connectTcp(target: Endpoint, options: { localPort?: number; localAddress?: string; timeoutMs: number }): Promise<{ outcome: ConnectOutcome; socket?: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect({
      host: target.address,
      port: target.port,
      ...(options.localPort ? { localPort: options.localPort } : {}),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ outcome: 'timeout' });
    }, options.timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ outcome: 'connected', socket });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ outcome: error.code === 'ECONNREFUSED' ? 'refused' : 'error' });
    });
  });
}

/** Sends one request line on a connected socket and reads one answer line. */
function tcpAsk(socket: net.Socket, request: EchoRequest, timeoutMs: number): Promise<EchoAnswer | undefined> {
  return new Promise((resolve) => {
    let buffer = '';
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const newline = buffer.indexOf('\n');
      if (newline >= 0) done(parseJson<EchoAnswer>(buffer.slice(0, newline)));
      else if (buffer.length > MAX_LINE_BYTES) done(undefined);
    };
    const done = (answer: EchoAnswer | undefined) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      resolve(answer);
    };
    socket.on('data', onData);
    socket.write(JSON.stringify(request) + '\n');
  });
}

// --- server side -------------------------------------------------------------------------------

async function serve(endpoints: Endpoint[]): Promise<object> {
  const udp = new Map<string, dgram.Socket>();
  for (const endpoint of endpoints) {
    const socket = await bindUdp(endpoint.port, endpoint.address);
    udp.set(key(endpoint), socket);
    sockets.push(socket);
    socket.on('message', (data, rinfo) => {
      const request = parseJson<EchoRequest>(data.toString()) ?? {};
      const via = request.replyFrom && udp.has(key(request.replyFrom)) ? request.replyFrom : endpoint;
      const answer: EchoAnswer = { observed: { address: rinfo.address, port: rinfo.port }, via, ...(request.seq !== undefined ? { seq: request.seq } : {}) };
      udp.get(key(via))!.send(JSON.stringify(answer), rinfo.port, rinfo.address);
    });
  }
  for (const endpoint of endpoints) {
    const server = net.createServer((socket) => serveTcp(socket, endpoint));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: endpoint.address, port: endpoint.port }, () => resolve());
    });
    sockets.push(server);
  }
  return { serving: endpoints };
}

function serveTcp(socket: net.Socket, endpoint: Endpoint): void {
  socket.on('error', () => socket.destroy());
  let buffer = '';
  socket.on('data', async (chunk) => {
    buffer += chunk.toString();
    if (buffer.length > MAX_LINE_BYTES) return void socket.destroy();
    const newline = buffer.indexOf('\n');
    if (newline < 0) return;
    const request = parseJson<EchoRequest>(buffer.slice(0, newline)) ?? {};
    buffer = buffer.slice(newline + 1);
    const observed = { address: socket.remoteAddress!.replace(/^::ffff:/, ''), port: socket.remotePort! };
    const answer: EchoAnswer = { observed, via: endpoint, ...(request.seq !== undefined ? { seq: request.seq } : {}) };
    if (request.connectBack) {
      const back = await connectTcp(observed, { localAddress: request.connectBack.fromAddress, timeoutMs: request.connectBack.timeoutMs });
      back.socket?.destroy();
      answer.connectBack = back.outcome;
    }
    if (!socket.destroyed) socket.write(JSON.stringify(answer) + '\n');
  });
}

// --- client side -------------------------------------------------------------------------------

async function udpMap(port: number, targets: Endpoint[], timeoutMs: number): Promise<object> {
  const socket = await bindUdp(port);
  try {
    const observed: Array<Endpoint | null> = [];
    for (const [seq, target] of targets.entries()) {
      observed.push(await udpAsk(socket, target, { seq }, timeoutMs));
    }
    return { local: socket.address().port, observed };
  } finally {
    socket.close();
  }
}

function udpAsk(socket: dgram.Socket, target: Endpoint, request: EchoRequest, timeoutMs: number): Promise<Endpoint | null> {
  return new Promise((resolve) => {
    const payload = JSON.stringify(request);
    let attempts = 0;
    const send = () => {
      attempts += 1;
      socket.send(payload, target.port, target.address);
    };
    const retry = setInterval(() => (attempts < UDP_RETRIES ? send() : undefined), timeoutMs / UDP_RETRIES);
    const timer = setTimeout(() => done(null), timeoutMs);
    const onMessage = (data: Buffer) => {
      const answer = parseJson<EchoAnswer>(data.toString());
      if (answer && answer.seq === request.seq) done(answer.observed);
    };
    const done = (result: Endpoint | null) => {
      clearInterval(retry);
      clearTimeout(timer);
      socket.removeListener('message', onMessage);
      resolve(result);
    };
    socket.on('message', onMessage);
    send();
  });
}

async function udpFilter(port: number, target: Endpoint, replyFrom: Endpoint[], waitMs: number): Promise<object> {
  const socket = await bindUdp(port);
  const arrived = new Set<string>();
  socket.on('message', (data, rinfo) => {
    if (parseJson<EchoAnswer>(data.toString())) arrived.add(`${rinfo.address}:${rinfo.port}`);
  });
  // The first request (answered by the target itself) opens the mapping before the others ask.
  const opened = await udpAsk(socket, target, { seq: -1 }, waitMs);
  for (const from of replyFrom) {
    for (let i = 0; i < UDP_RETRIES; i++) socket.send(JSON.stringify({ replyFrom: from }), target.port, target.address);
  }
  await delay(waitMs);
  socket.close();
  return { opened, arrived: replyFrom.map((from) => arrived.has(key(from))) };
}

async function tcpMap(port: number, targets: Endpoint[], timeoutMs: number): Promise<object> {
  const open: net.Socket[] = [];
  let local = port;
  try {
    const observed: Array<Endpoint | null> = [];
    for (const target of targets) {
      const { socket } = await connectTcp(target, { ...(local ? { localPort: local } : {}), timeoutMs });
      if (!socket) {
        observed.push(null);
        continue;
      }
      open.push(socket);
      local = socket.localPort!;
      observed.push((await tcpAsk(socket, {}, timeoutMs))?.observed ?? null);
    }
    return { local, observed };
  } finally {
    for (const socket of open) socket.destroy();
  }
}

async function tcpFilter(port: number, target: Endpoint, connectBackFrom: string[], waitMs: number): Promise<object> {
  const { socket, outcome } = await connectTcp(target, { ...(port ? { localPort: port } : {}), timeoutMs: waitMs });
  if (!socket) return { opened: null, outcome };
  // Linux lets a listener share the port of a connected socket when both set SO_REUSEADDR
  // (libuv sets it on every TCP bind) and the connected one was bound first: STUNT's trick.
  const { server, accepted } = await recordingListener(socket.localPort!).catch((error: unknown) => {
    socket.destroy();
    throw error;
  });
  try {
    const opened = (await tcpAsk(socket, {}, waitMs))?.observed ?? null;
    const results: Array<{ from: string; outcome: ConnectOutcome | 'no-answer'; accepted: boolean }> = [];
    for (const fromAddress of connectBackFrom) {
      const answer = await tcpAsk(socket, { connectBack: { fromAddress, timeoutMs: waitMs } }, waitMs * 2);
      // By source, not by count: an accept from the previous connect-back may be reported only now.
      results.push({ from: fromAddress, outcome: answer?.connectBack ?? 'no-answer', accepted: accepted.some((from) => from.address === fromAddress) });
    }
    return { opened, results };
  } finally {
    server.close();
    socket.destroy();
  }
}

async function udpListen(port: number, waitMs: number): Promise<object> {
  const socket = await bindUdp(port);
  const received: Array<{ from: Endpoint; data: string }> = [];
  socket.on('message', (data, rinfo) => received.push({ from: { address: rinfo.address, port: rinfo.port }, data: data.toString() }));
  write({ listening: socket.address().port });
  await delay(waitMs);
  socket.close();
  return { received };
}

/** A TCP listener that notes where each connection came from and closes it at once. */
async function recordingListener(port: number): Promise<{ server: net.Server; accepted: Endpoint[] }> {
  const accepted: Endpoint[] = [];
  const server = net.createServer((incoming) => {
    accepted.push({ address: incoming.remoteAddress!.replace(/^::ffff:/, ''), port: incoming.remotePort! });
    incoming.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '0.0.0.0', port }, () => resolve());
  });
  return { server, accepted };
}

async function tcpListen(port: number, waitMs: number): Promise<object> {
  const { server, accepted } = await recordingListener(port);
  write({ listening: port });
  await delay(waitMs);
  server.close();
  return { accepted };
}

async function udpSend(port: number, target: Endpoint, count: number): Promise<object> {
  const socket = await bindUdp(port);
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => socket.send(JSON.stringify({ seq: i }), target.port, target.address, () => resolve()));
  }
  const local = socket.address().port;
  socket.close();
  return { local };
}

async function udpRtt(target: Endpoint, count: number, intervalMs: number, timeoutMs: number): Promise<object> {
  const socket = await bindUdp(0);
  const sent = new Map<number, number>();
  const rtts: number[] = [];
  socket.on('message', (data) => {
    const answer = parseJson<EchoAnswer>(data.toString());
    const at = answer?.seq !== undefined ? sent.get(answer.seq) : undefined;
    if (at !== undefined) {
      rtts.push(performance.now() - at);
      sent.delete(answer!.seq!);
    }
  });
  for (let seq = 0; seq < count; seq++) {
    sent.set(seq, performance.now());
    socket.send(JSON.stringify({ seq }), target.port, target.address);
    await delay(intervalMs);
  }
  await delay(timeoutMs);
  socket.close();
  return { sent: count, rtts };
}

async function tcpConnect(target: Endpoint, port: number | undefined, timeoutMs: number): Promise<object> {
  const { outcome, socket } = await connectTcp(target, { ...(port ? { localPort: port } : {}), timeoutMs });
  socket?.destroy();
  return { outcome };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function handle(command: AgentCommand): Promise<object> {
  switch (command.op) {
    case 'serve':
      return serve(command.endpoints);
    case 'udp-map':
      return udpMap(command.port, command.targets, command.timeoutMs);
    case 'udp-filter':
      return udpFilter(command.port, command.target, command.replyFrom, command.waitMs);
    case 'tcp-map':
      return tcpMap(command.port, command.targets, command.timeoutMs);
    case 'tcp-filter':
      return tcpFilter(command.port, command.target, command.connectBackFrom, command.waitMs);
    case 'udp-listen':
      return udpListen(command.port, command.waitMs);
    case 'tcp-listen':
      return tcpListen(command.port, command.waitMs);
    case 'udp-send':
      return udpSend(command.port, command.target, command.count);
    case 'udp-rtt':
      return udpRtt(command.target, command.count, command.intervalMs, command.timeoutMs);
    case 'tcp-connect':
      return tcpConnect(command.target, command.port, command.timeoutMs);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  const command = parseJson<AgentCommand>(line);
  if (!command) return;
  handle(command).then(
    (result) => write({ id: command.id, ok: true, result }),
    (error: Error) => write({ id: command.id, ok: false, error: error.message }),
  );
});
lines.on('close', () => {
  for (const socket of sockets) socket.close();
  process.exit(0);
});
write({ ready: true });
