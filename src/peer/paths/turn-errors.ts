import { NtcpError } from '../../errors.js';

/** A TURN URL that is neither `turn:HOST[:PORT][?transport=udp|tcp]` nor `turns:HOST[:PORT][?transport=tcp]` (RFC 7065). */
export class TurnUrlError extends NtcpError {
  readonly url: string;

  constructor(url: string, problem: string) {
    super('ERR_TURN_URL', `bad TURN URL "${url}": ${problem}`);
    this.url = url;
  }
}

/** The allocating peer could not set up its TURN relay and told this side so (`reason`). */
export class TurnPeerFailedError extends NtcpError {
  readonly reason: string;

  constructor(reason: string) {
    super('ERR_TURN_PEER_FAILED', `the peer could not set up the TURN relay: ${reason}`);
    this.reason = reason;
  }
}
