import { startRelay, type Relay, type RelayLimits, type RelayOptions } from '../../../src/relay/index.js';

/** Runs `body` against a fresh relay on loopback (free TCP and UDP ports), closed afterwards. */
export async function withRelay(limits: Partial<RelayLimits>, body: (relay: Relay) => Promise<void>, options: Omit<RelayOptions, 'limits'> = {}): Promise<void> {
  const relay = await startRelay({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, ...options, limits });
  try {
    await body(relay);
  } finally {
    await relay.close();
  }
}
