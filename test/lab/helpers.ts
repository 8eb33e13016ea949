import { execFileSync } from 'node:child_process';

/** The namespaces of one lab (`<prefix>-inet`, `<prefix>-a1`, ...) that still exist. */
export function namespacesWithPrefix(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.startsWith(`${prefix}-`));
}
