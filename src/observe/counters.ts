/**
 * Named monotonic counters a server exposes from code (`server.counters.snapshot()`).
 * Plain numbers in a Map: cheap enough for per-packet hot paths.
 */
export class Counters<Name extends string = string> {
  readonly #values = new Map<Name, number>();

  increment(name: Name, by = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + by);
  }

  get(name: Name): number {
    return this.#values.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#values);
  }
}
