/**
 * Timers that judge a socket late must let the socket speak first. A loop that stood still past a
 * deadline (a loaded host: descheduled, a long GC) runs its due timers before it reads its
 * sockets, so an answer that arrived in time would be judged late. setImmediate runs after the
 * loop's poll phase, where those reads happen.
 */

/** Resolves after the event loop's next poll phase. */
export function afterPollPhase(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** setTimeout whose callback also waits for the next poll phase; returns the cancel function. */
export function setIoTimeout(callback: () => void, ms: number): () => void {
  let immediate: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    immediate = setImmediate(callback);
  }, ms);
  return () => {
    clearTimeout(timer);
    clearImmediate(immediate);
  };
}
