import { InvalidArgumentError } from '../errors.js';
import type { Clock } from '../util/clock.js';
import { RelaySpliceError } from './errors.js';
import { kernelSpliceEngine, loadKernelSplice } from './kernel-splice.js';
import { jsSpliceEngine, type SpliceEngine } from './splice.js';

/** `kernel`: splice(2) in the addon; `js`: the portable JavaScript splice; `auto`: kernel when built. */
export type SpliceEngineChoice = 'auto' | 'kernel' | 'js';
export const SPLICE_ENGINE_ENV = 'NTCP_RELAY_SPLICE';
const CHOICES: readonly SpliceEngineChoice[] = ['auto', 'kernel', 'js'];

/**
 * The TCP splice engine for a relay: the option, else NTCP_RELAY_SPLICE, else `auto`.
 * `kernel` without a loadable addon is ERR_RELAY_SPLICE_UNAVAILABLE; `auto` falls back to `js`
 * and says why in `reason`.
 */
export function chooseSpliceEngine(requested: SpliceEngineChoice | undefined, clock: Clock, env: NodeJS.ProcessEnv = process.env): { engine: SpliceEngine; reason: string } {
  const fromEnv = env[SPLICE_ENGINE_ENV] || undefined;
  const choice = requested ?? fromEnv ?? 'auto';
  if (!CHOICES.includes(choice as SpliceEngineChoice)) {
    const source = requested === undefined ? SPLICE_ENGINE_ENV : 'spliceEngine';
    throw new InvalidArgumentError(`${source} must be one of ${CHOICES.join(', ')} (got ${JSON.stringify(choice)})`);
  }
  if (choice === 'js') return { engine: jsSpliceEngine(clock), reason: requested ? 'asked for by spliceEngine' : `asked for by ${SPLICE_ENGINE_ENV}` };
  const addon = loadKernelSplice();
  if ('binding' in addon) return { engine: kernelSpliceEngine(addon.binding), reason: 'kernel splice addon loaded' };
  if (choice === 'kernel') {
    throw new RelaySpliceError('the kernel splice engine was asked for but its addon is not available (run npm install with python3, make and g++)', {
      code: 'ERR_RELAY_SPLICE_UNAVAILABLE', cause: addon.error,
    });
  }
  return { engine: jsSpliceEngine(clock), reason: `kernel splice addon not available: ${addon.error.message.split('\n')[0]}` };
}
