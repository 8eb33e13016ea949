import type { Command } from 'commander';

/** `ntcp demo`: the README's main job. Grows with each layer (STUN now; lab, peers later). */
export function register(program: Command): void {
  program
    .command('demo')
    .description('show ntcp at work on embedded defaults')
    .action(async () => {
      process.stdout.write('ntcp demo: nothing to show yet\n');
    });
}
