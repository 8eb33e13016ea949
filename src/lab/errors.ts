import { NtcpError } from '../errors.js';

/** The lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create namespaces and NAT rules. */
export class LabNotRootError extends NtcpError {
  constructor() {
    super('ERR_LAB_NOT_ROOT', 'the NAT lab needs root: run as root (or in CI, which runs as root)');
  }
}

/** A program the lab drives is not installed. */
export class LabToolMissingError extends NtcpError {
  readonly tool: string;
  readonly install: string;

  constructor(tool: string, install: string, options?: { cause?: unknown }) {
    super('ERR_LAB_TOOL_MISSING', `the NAT lab needs \`${tool}\`: ${install}`, options);
    this.tool = tool;
    this.install = install;
  }
}

/** A command that builds or runs the lab failed; `stderr` says why. */
export class LabCommandError extends NtcpError {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(command: string, exitCode: number | null, stderr: string, options?: { cause?: unknown }) {
    super('ERR_LAB_COMMAND', `lab command failed (${command}, exit ${exitCode}): ${stderr.trim().slice(0, 2000)}`, options);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** A host name that this lab does not have. */
export class LabUnknownHostError extends NtcpError {
  readonly host: string;

  constructor(host: string, known: readonly string[]) {
    super('ERR_LAB_UNKNOWN_HOST', `no host "${host}" in this lab (hosts: ${known.join(', ')})`);
    this.host = host;
  }
}

/** The lab's C helper (the delayed-link forwarder) could not be compiled or started. */
export class LabNativeError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LAB_NATIVE', message, options);
  }
}
