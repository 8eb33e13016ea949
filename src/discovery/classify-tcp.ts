import type { Verdict } from './classify-mapping.js';
import { classifyMapping, type MappingSamples } from './classify-mapping.js';
import { classifyPortAllocation, classifyPortPreservation, newMappingPorts, type MappingSample } from './classify-ports.js';
import { combineAllocations } from './classify-delta.js';
import type { NatBehaviour, TcpMappingKind } from './profile.js';

export interface TcpFingerprintInputs {
  natPresent: boolean | 'unknown';
  /** Connects from ONE local port to the server's four address/port combinations. */
  samePort: MappingSamples;
  /** Every successful connect in the order made: the same-port ones, then those from fresh local ports. */
  series: MappingSample[];
  /** Mapped ports of connects from fresh local ports started back to back, in the order started. */
  burst?: number[];
}

export interface TcpFingerprint {
  mapping: NatBehaviour;
  portPreserving: boolean | 'unknown';
  kind: TcpMappingKind;
  delta?: number;
}

/**
 * XSTUNT's XAnalyzeNature, made strict: cone when one local port keeps one public port towards
 * every server combination; otherwise the port increments between consecutive new mappings decide
 * delta-N or random, and anything inconclusive is 'unknown'.
 */
export function classifyTcpFingerprint({ natPresent, samePort, series, burst }: TcpFingerprintInputs): Verdict<TcpFingerprint> {
  const mapping = classifyMapping(samePort);
  const preservation = classifyPortPreservation(series.map((sample) => ({ localPort: sample.localPort, mappedPort: sample.mapped.port })));
  const notes = [...mapping.notes, ...preservation.notes];
  const base = { mapping: mapping.value, portPreserving: preservation.value };
  if (natPresent === false) {
    return { value: { ...base, kind: 'cone' }, notes: [...notes, 'kind: no NAT, the local address is public'] };
  }
  if (mapping.value === 'endpoint-independent') {
    return { value: { ...base, kind: 'cone' }, notes: [...notes, 'kind: cone, one public port per local port'] };
  }
  if (mapping.value === 'unknown') return { value: { ...base, kind: 'unknown' }, notes: [...notes, 'kind: unknown, mapping unknown'] };
  const seriesAllocation = classifyPortAllocation(newMappingPorts(series));
  const allocation = burst ? combineAllocations(seriesAllocation, classifyPortAllocation(burst)) : seriesAllocation;
  notes.push(...allocation.notes);
  switch (allocation.value.kind) {
    case 'sequential':
      return { value: { ...base, kind: 'delta-symmetric', delta: allocation.value.delta }, notes };
    case 'random':
      return { value: { ...base, kind: 'random-symmetric' }, notes };
    default:
      return { value: { ...base, kind: 'unknown' }, notes };
  }
}
