import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../errors.js';

/** A PEM file a flag names (certificate, key or CA), read at start so a wrong path fails before any traffic. */
export function readPemFile(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read the ${flag} file ${file}: ${(error as Error).message}`, { cause: error });
  }
}
