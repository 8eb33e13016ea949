import type { Command } from 'commander';
import type { IncomingConnection } from '../../peer/index.js';
import { loadConfig, resolvePeerSettings, type PeerCommandFlags } from '../config.js';
import { addPeerOptions, registerPeer } from '../peer-options.js';
import { EXIT_FAILURE, EXIT_OK } from '../output.js';
import { flushed, Reporter, tcpSession, udpSession } from '../peer-session.js';

type ListenFlags = PeerCommandFlags & { config?: string; keep?: boolean };

/** One incoming connection as a netcat session; true when it ended cleanly. */
async function serve(incoming: IncomingConnection, reporter: Reporter): Promise<boolean> {
  reporter.connected(incoming.path);
  const session = incoming.transport === 'tcp'
    ? tcpSession(incoming.socket, process.stdin, process.stdout)
    : udpSession(incoming.connection, process.stdin, process.stdout);
  const result = await session;
  await flushed(process.stdout);
  reporter.closed(result);
  return true;
}

/**
 * `ntcp listen`: XInit + XListen. Registers, waits for a peer to connect (over TCP, or UDP with
 * --udp), then copies stdin to the peer and the peer to stdout; --keep serves one connection
 * after another. Whether a relay may carry the connection is the dialler's choice (--relay).
 */
export function register(program: Command): void {
  addPeerOptions(program
    .command('listen'))
    .description('register an id with `ntcp server` and wait for a peer to connect (netcat-like)')
    .option('--udp', 'accept UDP connections (default: TCP)')
    .option('--keep', 'serve connections one after another instead of exiting after the first')
    .action(async (given: ListenFlags) => {
      const { config, keep, ...fromCli } = given;
      const flags = resolvePeerSettings((await loadConfig(config)).peer, fromCli);
      const reporter = new Reporter(flags.json === true);
      const transport = flags.udp ? 'udp' : 'tcp';
      const peer = await registerPeer(flags, transport);
      const stop = (): void => void peer.close().finally(() => process.exit(EXIT_FAILURE));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let exitCode = EXIT_OK;
      try {
        peer.on('incoming-error', ({ peerId, error }) => reporter.incomingFailed(peerId, error));
        peer.on('disconnected', () => reporter.reconnecting());
        peer.on('registered', () => reporter.reregistered());
        reporter.registered(peer, flags.server);
        reporter.waiting(transport);
        for await (const incoming of peer) {
          const clean = await serve(incoming, reporter).catch((error: unknown) => {
            reporter.incomingFailed(incoming.path.peerId, error);
            return false;
          });
          if (!clean) exitCode = EXIT_FAILURE;
          if (!keep) break;
        }
      } finally {
        await peer.close();
      }
      process.exit(exitCode);
    });
}
