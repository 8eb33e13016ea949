import dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

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
