import type { PathContext, PathStrategy, Established } from './path-strategy.js';
import { RelayedDatagrams, type RelayedChannel } from './relayed-datagrams.js';
import { allocateForPeer } from './turn-allocation.js';
import type { TurnSettings } from './turn-config.js';
import { RelayedAddressChannel, TurnAllocationChannel } from './turn-datagrams.js';
import { relayedAddressOf } from './turn-signals.js';

/**
 * UDP through a TURN server: the dialler allocates and announces its relayed address, the
 * listener sends plain datagrams there from a socket of its own. Then the same end-to-end proof
 * of the per-connection secret as the built-in relay's runs over the relayed path, so the TURN
 * server (which sees every byte) still cannot pose as either peer.
 */
export function turnUdpPath(settings: TurnSettings): PathStrategy {
  return {
    name: 'turn-udp',
    standalone: true,
    async establish(context: PathContext): Promise<Established> {
      const { coordination } = context;
      const channel = coordination.role === 'initiator' ? await allocatingEnd(settings, context) : await reachingEnd(context);
      const connection = await RelayedDatagrams.establish(channel, {
        role: coordination.role, connectionId: coordination.connectionId, secret: coordination.secret,
        signal: context.signal, timeoutMs: context.timeoutMs, logger: context.logger,
      });
      if (channel instanceof TurnAllocationChannel) channel.lock();
      return { transport: 'udp', connection, method: 'turn', commit: () => connection.select() };
    },
  };
}

async function allocatingEnd(settings: TurnSettings, context: PathContext): Promise<RelayedChannel> {
  const { client, permitted } = await allocateForPeer(settings, 'udp', context);
  return new TurnAllocationChannel(client, permitted, context.logger);
}

async function reachingEnd(context: PathContext): Promise<RelayedChannel> {
  const signals = context.signals;
  const relayed = await relayedAddressOf(signals, context.coordination.connectionId, { signal: context.signal, timeoutMs: context.timeoutMs });
  return RelayedAddressChannel.open(relayed, context.logger);
}
