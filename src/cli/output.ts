import { NtcpError } from '../errors.js';

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Last resort for a command that rejected: one clear line (or JSON line), non-zero exit. */
export function reportFatal(error: unknown, json = process.argv.includes('--json')): void {
  const code = error instanceof NtcpError ? error.code : 'ERR_FAIL';
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stderr.write(JSON.stringify({ event: 'error', code, message }) + '\n');
  else process.stderr.write(`ntcp: ${message} (${code})\n`);
  process.exitCode = EXIT_FAILURE;
}
