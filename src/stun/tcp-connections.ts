import type net from 'node:net';
import type { TransportAddress } from '../codec/index.js';
import type { Logger } from '../observe/logger.js';
import { formatAddress, transportAddress } from './addresses.js';
import type { EndpointIndex } from './binding-handler.js';
import type { StunFramingError } from './errors.js';
import { StunFrameDecoder } from './framing.js';
import type { StunServerCounters } from './server-counters.js';

export interface TcpConnectionLimits {
  maxTcpConnections: number;
  tcpIdleTimeoutMs: number;
  maxFrameBytes: number;
  maxTcpWriteQueueBytes: number;
}

/** The response to one framed request, if any. */
export type RespondToFrame = (frame: Buffer, source: TransportAddress, at: EndpointIndex) => Buffer | undefined;

/**
 * The STUN server's TCP clients, each stream cut into STUN messages by their length: bounded in
 * number, idle time, message size and responses queued for a slow reader.
 */
export class StunTcpConnections {
  readonly #open = new Set<net.Socket>();
  readonly #limits: TcpConnectionLimits;
  readonly #counters: StunServerCounters;
  readonly #logger: Logger;
  readonly #respond: RespondToFrame;

  constructor(limits: TcpConnectionLimits, counters: StunServerCounters, logger: Logger, respond: RespondToFrame) {
    this.#limits = limits;
    this.#counters = counters;
    this.#logger = logger;
    this.#respond = respond;
  }

  get size(): number {
    return this.#open.size;
  }

  accept(socket: net.Socket, at: EndpointIndex): void {
    if (this.#open.size >= this.#limits.maxTcpConnections) {
      this.#counters.increment('tcp.rejected');
      this.#logger.debug({ from: socket.remoteAddress }, 'tcp connection refused: limit reached');
      socket.destroy();
      return;
    }
    this.#counters.increment('tcp.connections');
    this.#open.add(socket);
    const source = transportAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0);
    const decoder = new StunFrameDecoder(this.#limits.maxFrameBytes);
    socket.setTimeout(this.#limits.tcpIdleTimeoutMs, () => {
      this.#counters.increment('tcp.idle-timeouts');
      socket.destroy();
    });
    socket.on('close', () => this.#open.delete(socket));
    socket.on('error', (error) => this.#logger.debug({ from: formatAddress(source), err: error.message }, 'tcp connection error'));
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        this.#counters.increment('tcp.framing-errors');
        this.#logger.debug({ from: formatAddress(source), err: (error as StunFramingError).message }, 'tcp stream is not STUN: closed');
        socket.destroy();
        return;
      }
      // Responses to one chunk are written together.
      const responses: Buffer[] = [];
      for (const frame of frames) {
        const response = this.#respond(frame, source, at);
        if (response !== undefined) responses.push(response);
      }
      if (responses.length > 0) this.#write(socket, responses.length === 1 ? responses[0]! : Buffer.concat(responses));
    });
  }

  destroyAll(): void {
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
  }

  #write(socket: net.Socket, bytes: Buffer): void {
    if (socket.destroyed) return;
    if (!socket.write(bytes) && socket.writableLength > this.#limits.maxTcpWriteQueueBytes) {
      // a client that sends but does not read: stop reading until it catches up
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  }
}
