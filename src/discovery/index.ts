export { discoverNat, DEFAULT_DISCOVERY_TIMEOUT_MS, DEFAULT_DISCOVERY_TCP_TIMEOUT_MS, type DiscoverNatOptions, type DiscoveryTransport } from './discover.js';
export {
  NatProfileSchema,
  compactProfile,
  NAT_PROFILE_VERSION,
  type NatProfile,
  type UdpProfile,
  type TcpProfile,
  type NatBehaviour,
  type Rfc3489Type,
  type TcpMappingKind,
  type Hairpinning,
  type ProbeObservation,
  type Evidence,
  type MappingLifetime,
} from './profile.js';
export type { DiscoveryStep, StepListener } from './steps.js';
export { classifyMapping, type MappingSamples, type Verdict } from './classify-mapping.js';
export { classifyFiltering, type FilteringOutcome, type FilteringSamples } from './classify-filtering.js';
export { classifyPortAllocation, classifyPortPreservation, type PortAllocation } from './classify-ports.js';
export { classifyTcpFingerprint, type TcpFingerprint } from './classify-tcp.js';
export { rfc3489Type } from './rfc3489-type.js';
export { readCachedProfile, writeCachedProfile, PROFILE_CACHE_VERSION, DEFAULT_CACHE_MAX_AGE_MS, type ProfileCacheKey } from './cache.js';
export { DiscoveryResolveError } from './errors.js';
export { probeMappingLifetime, DEFAULT_LIFETIME_FIRST_CHECK_MS, DEFAULT_LIFETIME_MAX_MS, type MappingLifetimeOptions } from './lifetime-probe.js';
export { classifyLifetime, lifetimeCheckpoints, type LifetimeCheck } from './classify-lifetime.js';
export { testIVerdict, UDP_BLOCKED_SILENCE_MS, UDP_TEST_I_RTO_MS, type TestIRun } from './udp-blocked.js';
