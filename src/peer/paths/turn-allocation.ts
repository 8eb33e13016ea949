import type { TurnClient } from '../../relay/index.js';
import type { SignalChannel } from '../signal-channel.js';
import type { PathContext } from './path-strategy.js';
import { allocateRelay, type TurnSettings } from './turn-config.js';
import { announceFailure, announceRelayed, permissionAddresses } from './turn-signals.js';

export interface PeerAllocation {
  client: TurnClient;
  /** The IP addresses the peer may reach the relayed address from. */
  permitted: string[];
}

/**
 * The dialler's half of a TURN path: 1. allocate on the TURN server, 2. permit the peer's public
 * addresses, 3. announce the relayed address through the broker. When this fails the peer is
 * told at once (unless the attempt was aborted: then a direct path won and the peer knows).
 */
export async function allocateForPeer(settings: TurnSettings, relayTransport: 'udp' | 'tcp', context: PathContext): Promise<PeerAllocation> {
  const { coordination, logger, signal } = context;
  const signals: SignalChannel = context.signals;
  let client: TurnClient | undefined;
  try {
    client = await allocateRelay(settings, relayTransport, { timeoutMs: context.timeoutMs, signal, logger });
    const relayed = client.allocation!.relayed;
    const permitted = permissionAddresses(coordination, relayed.family);
    await client.createPermission(permitted, signal);
    announceRelayed(signals, coordination.connectionId, relayed);
    logger.info({ relayed, permitted, relayTransport }, 'TURN relayed address announced to the peer');
    return { client, permitted };
  } catch (error) {
    await client?.close();
    if (!signal.aborted) announceFailure(signals, coordination.connectionId, error);
    throw error;
  }
}
