import net from 'node:net';
import {
  attribute,
  ChangedAddress,
  ChangeRequest,
  ErrorCode,
  getAttribute,
  MappedAddress,
  newTransactionId,
  OtherAddress,
  ResponseOrigin,
  ResponsePort,
  StunClass,
  StunMethod,
  UnknownAttributes,
  XorMappedAddress,
  decodeMessage,
  encodeMessage,
  type StunAttribute,
  type StunMessage,
  type TransportAddress,
} from '../codec/index.js';
import { AbortedError, InvalidArgumentError } from '../errors.js';
import { transportAddress, type HostPort } from './addresses.js';
import { StunBadResponseError, StunErrorResponse, StunTimeoutError } from './errors.js';
import { StunFrameDecoder } from './framing.js';
import type { RetransmitOptions } from './retransmit.js';
import { StunUdpSocket } from './udp-socket.js';

/** RFC 8489 section 6.2.2: Ti, the transaction timeout over reliable transports. */
export const DEFAULT_TCP_TIMEOUT_MS = 39_500;

export interface BindingResult {
  /** Our address as the server saw it (XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS). */
  mapped: TransportAddress;
  local: TransportAddress;
  /** Where the response came from. */
  server: TransportAddress;
  responseOrigin?: TransportAddress;
  /** The server's alternate address (OTHER-ADDRESS, or CHANGED-ADDRESS from an RFC 3489 server). */
  otherAddress?: TransportAddress;
  rttMs: number;
}

export interface UdpBindingOptions extends RetransmitOptions {
  server: HostPort;
  /** Reuse this socket (same local port, same NAT mapping); else a fresh one is bound and closed. */
  socket?: StunUdpSocket;
  /** RFC 5780 CHANGE-REQUEST flags. @default false */
  changeIp?: boolean;
  /** @default false */
  changePort?: boolean;
  /** RFC 5780 RESPONSE-PORT: ask for the response on this port of our address. */
  responsePort?: number;
  /** Overall deadline in ms. @default the retransmission schedule (39.5 s with the defaults) */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface TcpBindingOptions {
  server: HostPort;
  /** Bind the client side (SO_REUSEADDR is set by libuv, so probes may share a local port). */
  localAddress?: string;
  localPort?: number;
  /** @default 39500 (RFC 8489 Ti) */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export function bindingRequest(options: { changeIp?: boolean; changePort?: boolean; responsePort?: number } = {}): StunMessage {
  const attributes: StunAttribute[] = [];
  if (options.changeIp || options.changePort) {
    attributes.push(attribute(ChangeRequest, { changeIp: options.changeIp ?? false, changePort: options.changePort ?? false }));
  }
  if (options.responsePort !== undefined) attributes.push(attribute(ResponsePort, options.responsePort));
  return { cls: StunClass.Request, method: StunMethod.Binding, transactionId: newTransactionId(), attributes };
}

/** Turns a Binding response into a result, or throws StunErrorResponse / StunBadResponseError. */
export function bindingResult(response: StunMessage, context: { local: TransportAddress; server: TransportAddress; rttMs: number }): BindingResult {
  if (response.method !== StunMethod.Binding) {
    throw new StunBadResponseError(`response method ${response.method} is not Binding`);
  }
  if (response.cls === StunClass.ErrorResponse) {
    const error = getAttribute(response, ErrorCode);
    throw new StunErrorResponse(error?.code ?? 0, error?.reason ?? 'error response without ERROR-CODE', getAttribute(response, UnknownAttributes) ?? []);
  }
  if (response.cls !== StunClass.SuccessResponse) {
    throw new StunBadResponseError(`unexpected STUN class ${response.cls} in a response`);
  }
  const mapped = getAttribute(response, XorMappedAddress) ?? getAttribute(response, MappedAddress);
  if (mapped === undefined) throw new StunBadResponseError('Binding success response carries no (XOR-)MAPPED-ADDRESS');
  const result: BindingResult = { mapped, ...context };
  const responseOrigin = getAttribute(response, ResponseOrigin);
  const otherAddress = getAttribute(response, OtherAddress) ?? getAttribute(response, ChangedAddress);
  if (responseOrigin !== undefined) result.responseOrigin = responseOrigin;
  if (otherAddress !== undefined) result.otherAddress = otherAddress;
  return result;
}

/** One Binding request over UDP with RFC 8489 retransmissions. */
export async function udpBinding(options: UdpBindingOptions): Promise<BindingResult> {
  const socket = options.socket ?? (await StunUdpSocket.bind({ type: net.isIPv6(options.server.host) ? 'udp6' : 'udp4' }));
  try {
    const request = bindingRequest(options);
    const { response, from, rttMs } = await socket.request(request, options.server, {
      rtoMs: options.rtoMs,
      rc: options.rc,
      rm: options.rm,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return bindingResult(response, { local: socket.local(), server: from, rttMs });
  } finally {
    if (options.socket === undefined) await socket.close();
  }
}

/** One Binding request over a fresh TCP connection (RFC 8489 framing), closed afterwards. */
export function tcpBinding(options: TcpBindingOptions): Promise<BindingResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TCP_TIMEOUT_MS;
  if (options.signal?.aborted) return Promise.reject(new AbortedError('STUN TCP binding aborted', { cause: options.signal.reason }));
  if (!(timeoutMs > 0)) return Promise.reject(new InvalidArgumentError(`timeoutMs must be positive, got ${timeoutMs}`));
  const request = bindingRequest();
  const requestBytes = encodeMessage(request);
  const expectedId = request.transactionId;
  return new Promise<BindingResult>((resolve, reject) => {
    const startedAt = performance.now();
    const decoder = new StunFrameDecoder();
    const socket = net.connect({
      host: options.server.host,
      port: options.server.port,
      localAddress: options.localAddress,
      localPort: options.localPort,
    });
    const finish = (error: unknown, result?: BindingResult) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(result!);
    };
    const onAbort = () => finish(new AbortedError('STUN TCP binding aborted', { cause: options.signal?.reason }));
    const timer = setTimeout(
      () => finish(new StunTimeoutError(`no STUN response over TCP from ${options.server.host}:${options.server.port} in ${timeoutMs} ms`, timeoutMs, 1)),
      timeoutMs,
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.write(requestBytes));
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new StunBadResponseError('server closed the TCP connection before answering')));
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          const response = decodeMessage(frame);
          if (!response.transactionId.equals(expectedId)) continue;
          const local = transportAddress(socket.localAddress!, socket.localPort!);
          const server = transportAddress(socket.remoteAddress!, socket.remotePort!);
          finish(undefined, bindingResult(response, { local, server, rttMs: performance.now() - startedAt }));
          return;
        }
      } catch (error) {
        finish(error);
      }
    });
  });
}
