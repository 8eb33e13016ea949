export { Lab, LAB_PREFIX_FAMILY, randomPrefix, removeLabsByPrefix, type LabOptions, type LabComponents, type ExecOptions, type LabState } from './lab.js';
export type { SiteOptions, SiteFirewall, LinkShape, LabTopologyOptions, LabPlan, PlannedHost, PlannedSite } from './topology.js';
export { resolveNat, presetBehaviour, describeNat, type NatPreset, type NatSpec, type NatBehaviour, type NatDependence, type PortAllocation } from './nat.js';
export { LabNotRootError, LabToolMissingError, LabCommandError, LabUnknownHostError, LabNativeError } from './errors.js';
export { labUnavailableReason, type RunResult } from './shell.js';
export { verifyLab, formatVerifyTable, VERIFY_SITES, ECHO_PORTS, type VerifyRow } from './verify.js';
export { ProbeAgent, type ProbeRequest, type Endpoint } from './probe.js';
export { findLabState } from './state-file.js';
