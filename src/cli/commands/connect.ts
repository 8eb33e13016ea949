import type { Command } from 'commander';
import { Peer, pathOf } from '../../peer/index.js';
import { loadConfig, resolvePeerSettings, type PeerCommandFlags } from '../config.js';
import { TURN_FLAG_HELP, turnOption } from '../turn-flags.js';
import { EXIT_OK } from '../output.js';
import { flushed, port, positiveMs, serverOption, relayOption, Reporter, tcpSession, udpSession } from '../peer-session.js';

type ConnectFlags = PeerCommandFlags & { config?: string };

/**
 * `ntcp connect`: XInit + XConnect. Registers, connects to PEER_ID through the NATs (TCP, or UDP
 * with --udp), then copies stdin to the peer and the peer to stdout. Exits 0 when the session
 * ended cleanly, 1 with a clear message otherwise.
 */
export function register(program: Command): void {
  program
    .command('connect')
    .description('register an id with `ntcp server` and connect to a listening peer (netcat-like)')
    .argument('<peer-id>', 'the id the other peer registered')
    .option('--config <file>', 'JSON config file, `peer` section (default $NTCP_CONFIG); flags override it')
    .option('--server <host[:port]>', 'the server: HOST (broker 8123, STUN 3478) or HOST:BROKER_PORT; required here or in the config file')
    .option('--id <id>', 'the id to register (at most 64 bytes); required here or in the config file')
    .option('--udp', 'connect over UDP (default: TCP)')
    .option('--timeout <ms>', 'give up connecting after this long (default 20000)', positiveMs)
    .option('--relay <mode>', 'auto | never | force (default auto)', relayOption)
    .option('--stun-port <n>', 'the server\'s STUN port (default 3478)', port)
    .option('--probe-timeout <ms>', 'per-probe deadline of NAT discovery (default 1000)', positiveMs)
    .option('--json', 'progress as one JSON object per line on stderr')
    .option('--turn <url>', TURN_FLAG_HELP.turn)
    .option('--turn-user <user>', TURN_FLAG_HELP.user)
    .option('--turn-pass <password>', TURN_FLAG_HELP.pass)
    .option('--turn-secret <secret>', TURN_FLAG_HELP.secret)
    .action(async (peerId: string, given: ConnectFlags) => {
      const { config, ...fromCli } = given;
      const flags = resolvePeerSettings((await loadConfig(config)).peer, fromCli);
      const reporter = new Reporter(flags.json === true);
      const transport = flags.udp ? 'udp' : 'tcp';
      const peer = await Peer.register({
        server: serverOption(flags), id: flags.id, transports: [transport],
        ...(flags.probeTimeout ? { probeTimeoutMs: flags.probeTimeout } : {}),
        ...turnOption(flags),
      });
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
