import net from 'node:net';
import { once } from 'node:events';
import { encodeFrame, FrameDecoder } from '../../src/broker/framing.js';

/** A hand-driven protocol connection: sends any frame (or bytes) and reads the broker's frames. */
export class RawConnection {
  readonly socket: net.Socket;
  readonly #queue: Array<Record<string, any>> = [];
  readonly #waiters: Array<(message: Record<string, any>) => void> = [];
  readonly #decoder = new FrameDecoder(4 * 1024 * 1024);
  readonly closed: Promise<void>;
  /** Answer the broker's pings (a live peer) unless told otherwise. */
  answerPings = true;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const body of this.#decoder.push(chunk)) {
        const message = JSON.parse(body.toString()) as Record<string, any>;
        if (message.type === 'ping' && this.answerPings) {
          this.send({ type: 'pong', seq: message.seq });
          continue;
        }
        if (message.type === 'ping') continue;
        const waiter = this.#waiters.shift();
        if (waiter) waiter(message);
        else this.#queue.push(message);
      }
    });
  }

  static async open(port: number, localAddress = '127.0.0.1'): Promise<RawConnection> {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    await once(socket, 'connect');
    return new RawConnection(socket);
  }

  /** Opens, says hello and registers; returns the connection and the `registered` reply. */
  static async registered(port: number, id: string, extra: Record<string, unknown> = {}, localAddress?: string) {
    const connection = await RawConnection.open(port, localAddress);
    connection.send({ type: 'hello', version: 1 });
    const welcome = await connection.next();
    connection.send({ type: 'register', id, ...extra });
    const registered = await connection.next();
    return { connection, welcome, registered };
  }

  send(message: object): void {
    this.socket.write(encodeFrame(message));
  }

  next(timeoutMs = 3000): Promise<Record<string, any>> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame from broker in time')), timeoutMs);
      this.#waiters.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns true (state changes driven by the broker's timers). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

/** A loopback TCP proxy whose connections a test can cut, as a flaky path would. */
export class CuttableProxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  /** While true, new connections are dropped at once (the path is down). */
  down = false;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  /** `delayMs`: each chunk is held this long in each direction (a longer path to the broker). */
  static async start(targetPort: number, delayMs = 0): Promise<CuttableProxy> {
    const server = net.createServer();
    const proxy = new CuttableProxy(server);
    server.on('connection', (inbound) => {
      if (proxy.down) {
        inbound.destroy();
        return;
      }
      const outbound = net.connect({ host: '127.0.0.1', port: targetPort });
      const pair: [net.Socket, net.Socket] = [inbound, outbound];
      proxy.#pairs.add(pair);
      for (const socket of pair) {
        socket.on('error', () => undefined);
        socket.on('close', () => {
          proxy.#pairs.delete(pair);
          inbound.destroy();
          outbound.destroy();
        });
      }
      if (delayMs === 0) {
        inbound.pipe(outbound).pipe(inbound);
        return;
      }
      const forward = (from: net.Socket, to: net.Socket): void => {
        from.on('data', (chunk: Buffer) => setTimeout(() => to.write(chunk), delayMs));
      };
      forward(inbound, outbound);
      forward(outbound, inbound);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  cutAll(): void {
    for (const [inbound, outbound] of this.#pairs) {
      inbound.destroy();
      outbound.destroy();
    }
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
