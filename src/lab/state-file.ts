import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';
import type { LabState } from './lab.js';

/**
 * The saved state of the lab that is up (`ntcp lab up`), or null when there is none (no file). A
 * file that cannot be read or parsed is an error: taking it for "no lab" would leave that lab's
 * namespaces behind.
 */
export async function findLabState(path: string): Promise<LabState | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InvalidArgumentError(`cannot read the lab state ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    return JSON.parse(text) as LabState;
  } catch (cause) {
    throw new InvalidArgumentError(`the lab state ${path} is not JSON; \`ntcp lab down --all\` removes every lab`, { cause });
  }
}
