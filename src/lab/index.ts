export { Lab, LAB_PREFIX_FAMILY, randomPrefix, type LabOptions, type LabComponents, type ExecOptions, type LabState } from './lab.js';
export type { SiteOptions, LinkShape, LabTopologyOptions, LabPlan, PlannedHost, PlannedSite } from './topology.js';
export { resolveNat, presetBehaviour, describeNat, type NatPreset, type NatSpec, type NatBehaviour, type NatDependence, type PortAllocation } from './nat.js';
export { LabNotRootError, LabToolMissingError, LabCommandError, LabUnknownHostError, LabNativeError } from './errors.js';
export { labUnavailableReason, type RunResult } from './shell.js';
