// One side of bench:connect, run inside a lab host through the Peer API (one registration, many
// connects, so each figure is a connect and nothing else). stdout: one JSON object per line.
//   listen:  {event:'ready'}; echoes every byte of every incoming connection (peer RTT probes)
//   connect: {event:'ready'}, {event:'broker-rtt', ms[]}, then per connect {event:'connect', i, ok,
//            ms, method, attempts, timeline, rttMs[] | code, message}, then {event:'done'}
//   listen also prints {event:'incoming', attempts, timeline} per verified incoming connection
// argv: listen|connect SERVER ID [PEER_ID COUNT TIMEOUT_MS] [--debug] [--fresh-port]
import net from 'node:net';
import { parseServerAddress, Peer, pathOf } from '../src/peer/index.js';
import { NtcpError } from '../src/errors.js';
import { createLogger, silentLogger } from '../src/observe/logger.js';

const [role, server, id, peerId, countText, timeoutText] = process.argv.slice(2);
const debug = process.argv.includes('--debug');
/** No ready TCP punching port: each connect probes a fresh port first (the flow before it). */
const freshPort = process.argv.includes('--fresh-port');
/** Round trips sampled per measurement; the minimum is the path's RTT without queueing. */
const RTT_SAMPLES = 5;
/** Between connects: lets the previous connection's sockets and NAT state settle. */
const PAUSE_MS = 200;

function emit(event: object): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function echoRtts(socket: net.Socket): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const rtts: number[] = [];
    let sentAt = performance.now();
    socket.on('data', () => {
      rtts.push(performance.now() - sentAt);
      if (rtts.length === RTT_SAMPLES) return resolve(rtts);
      sentAt = performance.now();
      socket.write('p');
    });
    socket.once('error', reject);
    socket.write('p');
  });
}

function brokerRtts(host: string, port: number): Promise<number[]> {
  const once = (): Promise<number> => new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const socket = net.connect({ host, port }, () => {
      resolve(performance.now() - startedAt);
      socket.destroy();
    });
    socket.once('error', reject);
  });
  return (async () => {
    const rtts: number[] = [];
    for (let i = 0; i < RTT_SAMPLES; i += 1) rtts.push(await once());
    return rtts;
  })();
}

const logger = debug ? createLogger({ level: 'debug' }) : silentLogger;
const peer = await Peer.register({ server: server!, id: id!, transports: ['tcp'], relay: 'never', tcpPunchPort: !freshPort }, { logger });
emit({ event: 'ready', nat: peer.profile.tcp?.kind ?? null });

if (role === 'listen') {
  peer.on('connection', (incoming) => {
    if (incoming.transport !== 'tcp') return;
    emit({ event: 'incoming', attempts: incoming.path.attempts, timeline: incoming.path.timeline });
    incoming.socket.on('data', (chunk) => incoming.socket.write(chunk));
    incoming.socket.on('error', (error) => logger.debug({ error: error.message }, 'echo socket failed'));
  });
} else {
  const address = parseServerAddress(server!);
  emit({ event: 'broker-rtt', ms: await brokerRtts(address.host, address.brokerPort) });
  for (let i = 0; i < Number(countText); i += 1) {
    const startedAt = performance.now();
    try {
      const socket = await peer.connect(peerId!, { transport: 'tcp', relay: 'never', timeoutMs: Number(timeoutText) });
      const ms = performance.now() - startedAt;
      const rttMs = await echoRtts(socket);
      const path = pathOf(socket);
      emit({ event: 'connect', i, ok: true, ms, method: path?.method, attempts: path?.attempts, timeline: path?.timeline, rttMs });
      socket.destroy();
    } catch (error) {
      emit({ event: 'connect', i, ok: false, ms: performance.now() - startedAt, code: error instanceof NtcpError ? error.code : 'ERR_FAIL', message: String(error) });
    }
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  }
  emit({ event: 'done' });
  await peer.close();
  process.exit(0);
}
