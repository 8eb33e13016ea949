import type { PathStrategy } from './path-strategy.js';
import { turnSettings, type TurnOption } from './turn-config.js';
import { turnTcpPath } from './turn-tcp-path.js';
import { turnUdpPath } from './turn-udp-path.js';

/** The relay strategies for `Peer.register({ turn })`; throws TurnUrlError / InvalidArgumentError for a bad option. */
export function turnPaths(option: TurnOption): { tcp: PathStrategy; udp: PathStrategy } {
  const settings = turnSettings(option);
  return { tcp: turnTcpPath(settings), udp: turnUdpPath(settings) };
}
