import dgram from 'node:dgram';
import { once } from 'node:events';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStunServer, type HostPort, type StunServer } from '../../src/stun/index.js';

/** The primary and alternate addresses of the test servers. */
export const A = '127.0.0.1';
export const B = '127.0.0.2';

/** A bound UDP socket on 127.0.0.1 for crafting requests by hand. */
export async function udpClient(address = '127.0.0.1'): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, address);
  await once(socket, 'listening');
  return socket;
}

/** Sends `bytes` and waits for the next datagram on `socket`, or undefined after `waitMs`. */
export async function exchange(
  socket: dgram.Socket,
  bytes: Buffer,
  to: { host: string; port: number },
  waitMs = 1000,
): Promise<{ bytes: Buffer; from: dgram.RemoteInfo } | undefined> {
  const controller = new AbortController();
  const reply = once(socket, 'message', { signal: controller.signal }).then(
    ([data, from]) => ({ bytes: data as Buffer, from: from as dgram.RemoteInfo }),
    () => undefined,
  );
  socket.send(bytes, to.port, to.host);
  const result = await Promise.race([reply, sleep(waitMs).then(() => undefined)]);
  controller.abort();
  return result;
}

export interface ServerFixture {
  readonly server: StunServer;
  /** The server's primary endpoint. */
  readonly target: HostPort;
}

/**
 * A full RFC 5780 server on A and B (free ports, no rate limit) for the tests of the calling
 * suite: started before them, closed after them.
 */
export function fullRfc5780Server(): ServerFixture {
  let server: StunServer | undefined;
  before(async () => {
    server = await startStunServer({ host: A, altHost: B, port: 0, altPort: 0, limits: { ratePerSecond: Infinity } });
  });
  after(() => server?.close());
  return {
    get server() {
      if (server === undefined) throw new Error('the STUN server fixture is used outside its suite');
      return server;
    },
    get target() {
      return { host: A, port: this.server.endpoints.port };
    },
  };
}
