/**
 * A two-person chat through NATs: the ntcp counterpart of NTCP's solipsisSimulator.py.
 *
 *   node --import tsx examples/chat.ts --server HOST[:BROKER_PORT] --id bob            # waits for a peer
 *   node --import tsx examples/chat.ts --server HOST[:BROKER_PORT] --id alice bob      # dials bob
 *
 * Each line typed goes to the other side; the end of input (Ctrl-D) ends the chat for both.
 * `--udp` chats over UDP (one datagram per line) instead of TCP. In your own project import from
 * 'ntcp' instead of '../src/index.js'.
 */
import type net from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { MatchError, NtcpError, parseServerAddress, Peer, pathOf, type DatagramConnection } from '../src/index.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    server: { type: 'string' },
    id: { type: 'string' },
    udp: { type: 'boolean', default: false },
    'stun-port': { type: 'string' },
    'host-address': { type: 'string', multiple: true },
  },
});
if (flags.server === undefined || flags.id === undefined) {
  process.stderr.write('usage: chat.ts --server HOST[:PORT] --id ID [--udp] [--stun-port N] [--host-address IP]... [PEER_ID]\n');
  process.exit(2);
}
const transport = flags.udp ? 'udp' : 'tcp';
const remoteId = positionals[0];
const say = (line: string): void => void process.stderr.write(`* ${line}\n`);

/** One chat line each way until either side ends; resolves when the connection is closed. */
function chat(peerId: string, connection: net.Socket | DatagramConnection): Promise<void> {
  const path = pathOf(connection)!;
  say(`connected to ${peerId} over ${path.transport} by ${path.method} in ${Math.round(path.elapsedMs)} ms`);
  const show = (line: string): void => void process.stdout.write(`<${peerId}> ${line}\n`);
  const input = createInterface({ input: process.stdin });
  return new Promise((resolve) => {
    if ('send' in connection) {
      // UDP: a datagram is a line; the other side's close() ends the chat here too.
      connection.on('message', (payload: Buffer) => show(payload.toString('utf8')));
      connection.once('close', () => { input.close(); resolve(); });
      input.on('line', (line) => {
        try {
          connection.send(Buffer.from(line));
        } catch (error) {
          say(`not sent: ${describe(error)}`);
        }
      });
      input.once('close', () => void connection.close());
    } else {
      // TCP: either side's end of input ends the chat (a relayed socket allows half-open: end it too).
      connection.setEncoding('utf8');
      createInterface({ input: connection }).on('line', show);
      connection.once('end', () => connection.end());
      connection.once('close', () => { input.close(); resolve(); });
      connection.once('error', (error) => say(`connection failed: ${describe(error)}`));
      input.on('line', (line) => connection.write(`${line}\n`));
      input.once('close', () => connection.end());
    }
  });
}

function describe(error: unknown): string {
  if (error instanceof MatchError) {
    const why = { unknown: 'is not registered there', self: 'is you', dead: 'has gone away', transport: `does not take ${transport}` }[error.reason];
    return `${error.peerId} ${why} (${error.code})`;
  }
  if (!(error instanceof NtcpError)) return String(error);
  switch (error.code) {
    case 'ERR_DUPLICATE_ID': return `the id ${flags.id} is taken (${error.code})`;
    case 'ERR_PUNCH_FAILED': return `no path through the NATs and no relay (${error.code})`;
    case 'ERR_PROBE': return `the STUN server did not answer: is --server right? (${error.code})`;
    default: return `${error.message} (${error.code})`;
  }
}

let peer: Peer | undefined;
try {
  peer = await Peer.register({
    server: flags['stun-port'] ? { ...parseServerAddress(flags.server), stunPort: Number(flags['stun-port']) } : flags.server,
    id: flags.id,
    transports: [transport],
    ...(flags['host-address'] ? { hostAddresses: flags['host-address'] } : {}),
  });
  process.once('SIGINT', () => void peer?.close());
  say(`registered as ${peer.id}`);
  if (remoteId !== undefined) {
    await chat(remoteId, await peer.connect(remoteId, { transport }));
  } else {
    say(`waiting for a ${transport} connection`);
    for await (const incoming of peer) {
      await chat(incoming.path.peerId, incoming.transport === 'tcp' ? incoming.socket : incoming.connection);
      break;
    }
  }
  say('chat over');
} catch (error) {
  say(`chat failed: ${describe(error)}`);
  process.exitCode = 1;
} finally {
  await peer?.close();
}
