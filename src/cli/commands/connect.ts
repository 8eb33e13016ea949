import type { Command } from 'commander';
import { pathOf } from '../../peer/index.js';
import { loadConfig, resolvePeerSettings, type PeerCommandFlags } from '../config.js';
import { addPeerOptions, registerPeer } from '../peer-options.js';
import { EXIT_OK } from '../output.js';
import { flushed, positiveMs, relayOption, Reporter, tcpSession, udpSession } from '../peer-session.js';

type ConnectFlags = PeerCommandFlags & { config?: string };

/**
 * `ntcp connect`: XInit + XConnect. Registers, connects to PEER_ID through the NATs (TCP, or UDP
 * with --udp), then copies stdin to the peer and the peer to stdout. Exits 0 when the session
 * ended cleanly, 1 with a clear message otherwise.
 */
export function register(program: Command): void {
  addPeerOptions(program
    .command('connect'))
    .description('register an id with `ntcp server` and connect to a listening peer (netcat-like)')
    .argument('<peer-id>', 'the id the other peer registered')
    .option('--udp', 'connect over UDP (default: TCP)')
    .option('--timeout <ms>', 'give up connecting after this long (default 20000)', positiveMs)
    .option('--relay <mode>', 'auto | never | force (default auto)', relayOption)
    .action(async (peerId: string, given: ConnectFlags) => {
      const { config, ...fromCli } = given;
      const flags = resolvePeerSettings((await loadConfig(config)).peer, fromCli);
      const reporter = new Reporter(flags.json === true);
      const transport = flags.udp ? 'udp' : 'tcp';
      const peer = await registerPeer(flags, transport);
      const stop = (): void => void peer.close().finally(() => process.exit(1));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        reporter.registered(peer, flags.server);
        const options = { ...(flags.timeout ? { timeoutMs: flags.timeout } : {}), ...(flags.relay ? { relay: flags.relay } : {}) };
        const result = transport === 'udp'
          ? await peer.connect(peerId, { ...options, transport: 'udp' }).then((connection) => {
            reporter.connected(pathOf(connection)!);
            return udpSession(connection, process.stdin, process.stdout);
          })
          : await peer.connect(peerId, { ...options, transport: 'tcp' }).then((socket) => {
            reporter.connected(pathOf(socket)!);
            return tcpSession(socket, process.stdin, process.stdout);
          });
        await flushed(process.stdout);
        reporter.closed(result);
      } finally {
        await peer.close();
      }
      process.exit(EXIT_OK);
    });
}
