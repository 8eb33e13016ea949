import { InvalidArgumentError } from '../errors.js';

/** Commander argument parsers shared by the commands: each throws a typed error naming the value. */

export function parsePort(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new InvalidArgumentError(`not a port: ${text}`);
  return value;
}

export function parsePositiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new InvalidArgumentError(`expected a positive integer, got ${text}`);
  return value;
}

export function parsePositiveNumber(text: string): number {
  const value = Number(text);
  if (!(value > 0 && Number.isFinite(value))) throw new InvalidArgumentError(`expected a positive number, got ${text}`);
  return value;
}

/** A parser for `--<name>` that accepts a number in 0..max. */
export function boundedNumber(name: string, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0 || value > max) throw new InvalidArgumentError(`--${name} must be a number in 0..${max}, got ${text}`);
    return value;
  };
}
