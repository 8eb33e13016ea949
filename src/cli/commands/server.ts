import type { Command } from 'commander';
import { createLogger } from '../../observe/logger.js';
import { brokerTlsServerOption } from '../broker-tls-flags.js';
import { loadConfig, resolveServerSettings, type ServerFlags } from '../config.js';
import { parsePort, parsePositiveInteger } from '../option-parsers.js';
import { formatAddress, startStunServer, type StunServer } from '../../stun/index.js';
import { startBroker, type Broker } from '../../broker/index.js';
import { startRelay, type Relay } from '../../relay/index.js';

interface Flags extends ServerFlags {
  config?: string;
  json?: boolean;
}

/**
 * `ntcp server`: everything peers need on one host (the STUN server on both addresses and ports,
 * UDP and TCP, and the broker), until SIGINT/SIGTERM; then a clean shutdown and the counters.
 */
export function register(program: Command): void {
  program
    .command('server')
    .description('run the STUN server and the rendezvous broker (what `ntcp listen`/`connect` need)')
    .option('--config <file>', 'JSON config file, `server` section (default $NTCP_CONFIG); flags override it')
    .option('--host <ip>', 'primary address (STUN and broker); required here or in the config file')
    .option('--alt-host <ip>', 'alternate STUN address (full RFC 5780 NAT discovery)')
    .option('--port <n>', 'STUN primary port (default 3478)', parsePort)
    .option('--alt-port <n>', 'STUN alternate port (default 3479)', parsePort)
    .option('--broker-port <n>', 'broker TCP port (default 8123)', parsePort)
    .option('--broker-tls-cert <file>', 'the broker serves TLS with this PEM certificate (chain); needs --broker-tls-key')
    .option('--broker-tls-key <file>', 'PEM private key of --broker-tls-cert')
    .option('--max-peers <n>', 'broker connection limit (default 50000)', parsePositiveInteger)
    .option('--query-token <secret>', 'require this token for management queries')
    .option('--relay-port <n>', 'built-in relay port, TCP and UDP (default 3480)', parsePort)
    .option('--no-relay', 'do not run the built-in relay (peers then have no relay fallback)')
    .option('--json', 'one JSON line per log event')
    .action(async (given: Flags, command: Command) => {
      const json = given.json;
      const fromCli: ServerFlags = {
        host: given.host, altHost: given.altHost, port: given.port, altPort: given.altPort, brokerPort: given.brokerPort,
        relayPort: given.relayPort, maxPeers: given.maxPeers, queryToken: given.queryToken,
        brokerTlsCert: given.brokerTlsCert, brokerTlsKey: given.brokerTlsKey,
        // --no-relay makes commander default `relay` to true: only a value typed on the command line overrides the file.
        relay: command.getOptionValueSource('relay') === 'cli' ? given.relay : undefined,
      };
      const flags = resolveServerSettings((await loadConfig(given.config)).server, fromCli);
      const brokerTls = brokerTlsServerOption(flags);
      const logger = createLogger({ json, bindings: { component: 'server' } });
      const stopping = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      let stun: StunServer | undefined;
      let broker: Broker | undefined;
      let relay: Relay | undefined;
      try {
        stun = await startStunServer({ host: flags.host, altHost: flags.altHost, port: flags.port, altPort: flags.altPort, logger });
        if (flags.relay) {
          relay = await startRelay({
            host: flags.host, tcpPort: flags.relayPort, udpPort: flags.relayPort, ...(flags.relayLimits ? { limits: flags.relayLimits } : {}),
          }, { logger });
        }
        broker = await startBroker({
          host: flags.host, port: flags.brokerPort, logger,
          ...(relay === undefined ? {} : { relayRegistry: relay }),
          ...(flags.maxPeers === undefined ? {} : { maxConnections: flags.maxPeers }),
          ...(flags.queryToken === undefined ? {} : { queryToken: flags.queryToken }),
          ...brokerTls,
        });
        logger.info({
          stun: { udp: stun.endpoints.udp.map(formatAddress), tcp: stun.endpoints.tcp.map(formatAddress), rfc5780: stun.endpoints.fullRfc5780 },
          broker: formatAddress({ address: flags.host, port: broker.port }), brokerTls: brokerTls.tls !== undefined,
          relay: relay ? { tcp: formatAddress({ address: flags.host, port: relay.endpoints.tcpPort }), udp: formatAddress({ address: flags.host, port: relay.endpoints.udpPort }) } : 'off',
        }, 'ready');
        const signal = await stopping;
        logger.info({ signal }, 'shutting down');
      } finally {
        await broker?.close();
        await relay?.close();
        await stun?.close();
      }
      logger.info({ stun: stun.counters.snapshot(), broker: broker.counters.snapshot(), ...(relay ? { relay: relay.counters.snapshot() } : {}) }, 'stopped');
    });
}
