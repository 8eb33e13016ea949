import { AbortedError, TimeoutError } from '../errors.js';

/**
 * Combines a caller's signal and a timeout into one signal whose reason is a typed NtcpError
 * (AbortedError or TimeoutError); `dispose` clears the timer.
 */
export function deadline(what: string, timeoutMs: number, signal?: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TimeoutError(`${what} timed out after ${timeoutMs} ms`, timeoutMs)), timeoutMs);
  const onAbort = (): void => controller.abort(new AbortedError(`${what} aborted`, { cause: signal?.reason }));
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}
