import { setTimeout as sleep } from 'node:timers/promises';
import type { TransportAddress } from '../codec/index.js';
import { AbortedError } from '../errors.js';
import { bindingRequest, StunUdpSocket, udpBinding } from '../stun/index.js';
import { classifyLifetime, lifetimeCheckpoints, type LifetimeCheck } from './classify-lifetime.js';
import { awaitDelivery } from './delivery.js';
import { concreteLocal, failedObservation, type ProbeContext } from './probe-context.js';
import type { MappingLifetime, ProbeObservation } from './profile.js';
import { stepOf } from './steps.js';

export interface MappingLifetimeOptions {
  /** Idle time of the first check, ms; later checks double it. @default 1000 */
  firstCheckMs?: number;
  /** Longest idle time checked, ms (RFC 4787 REQ-5 asks NATs for at least 2 min). @default 150000 */
  maxMs?: number;
}

export const DEFAULT_LIFETIME_FIRST_CHECK_MS = 1000;
export const DEFAULT_LIFETIME_MAX_MS = 150_000;

/**
 * RFC 5780 section 4.6, all checkpoints at once: one socket per checkpoint opens a mapping, stays
 * idle for its checkpoint's time, then a fresh socket asks the server (RESPONSE-PORT) to answer on
 * that mapping's port. Each mapping is checked once, so no check refreshes another.
 */
export async function probeMappingLifetime(
  context: ProbeContext,
  options: MappingLifetimeOptions,
): Promise<{ lifetime?: MappingLifetime; observations: ProbeObservation[]; notes: string[] }> {
  const checkpoints = lifetimeCheckpoints(options.firstCheckMs ?? DEFAULT_LIFETIME_FIRST_CHECK_MS, options.maxMs ?? DEFAULT_LIFETIME_MAX_MS);
  const sockets: StunUdpSocket[] = [];
  const open = async () => {
    const socket = await StunUdpSocket.bind({ type: context.primary.family === 'IPv6' ? 'udp6' : 'udp4' });
    sockets.push(socket);
    return socket;
  };
  const observations: ProbeObservation[] = [];
  try {
    const checks = await Promise.all(
      checkpoints.map(async (idleMs): Promise<LifetimeCheck> => {
        const holder = await open();
        const mapped = await openMapping(context, holder, idleMs, observations);
        if (!mapped) return { idleMs, alive: undefined };
        try {
          await sleep(idleMs, undefined, { signal: context.signal });
        } catch (error) {
          throw new AbortedError('NAT discovery aborted', { cause: error });
        }
        const asker = await open();
        const base = { test: `udp-lifetime-${idleMs}ms`, local: concreteLocal(asker.local(), context.routeLocal), server: context.primary };
        const delivery = await awaitDelivery(context, asker, holder, bindingRequest({ responsePort: mapped.port }), context.primary);
        const observation: ProbeObservation =
          delivery.kind === 'arrived' ? { ...base, outcome: 'response', responseFrom: delivery.from } : failedObservation(context, base, delivery.error);
        observations.push(observation);
        context.onStep(stepOf('udp', observation, context.startedAt));
        return { idleMs, alive: delivery.kind === 'failed' ? undefined : delivery.kind === 'arrived' };
      }),
    );
    const verdict = classifyLifetime(checks);
    return verdict.value ? { lifetime: verdict.value, observations, notes: verdict.notes } : { observations, notes: verdict.notes };
  } finally {
    await Promise.all(sockets.map((socket) => socket.close()));
  }
}

async function openMapping(context: ProbeContext, socket: StunUdpSocket, idleMs: number, observations: ProbeObservation[]): Promise<TransportAddress | undefined> {
  const base = { test: `udp-lifetime-open-${idleMs}ms`, local: concreteLocal(socket.local(), context.routeLocal), server: context.primary };
  try {
    const result = await udpBinding({ ...context.retransmit, server: { host: context.primary.address, port: context.primary.port }, socket, timeoutMs: context.timeoutMs, signal: context.signal });
    observations.push({ ...base, outcome: 'response', mapped: result.mapped, responseFrom: result.server });
    return result.mapped;
  } catch (error) {
    observations.push(failedObservation(context, base, error));
    return undefined;
  }
}
