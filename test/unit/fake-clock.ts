import type { Clock, ClockTimeout } from '../../src/watcher';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that only moves when the test says so. Timeouts and immediates run in time order
 * (ties in the order they were set) as `advance()` passes their time; an immediate is due at
 * the time it was set, so `advance(0)` is one turn of the event loop.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #pending = new Map<number, Pending>();

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): ClockTimeout {
    const id = this.#add(fn, ms);
    return {
      cancel: () => void this.#pending.delete(id),
      refresh: () => {
        this.#pending.delete(id);
        this.#pending.set(id, { at: this.#now + ms, seq: ++this.#seq, fn });
      },
    };
  }

  setImmediate(fn: () => void): { cancel(): void } {
    const id = this.#add(fn, 0);
    return { cancel: () => void this.#pending.delete(id) };
  }

  /** Timers waiting to run. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Move time forward by `ms`, running every timer that comes due on the way, at its time. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, Pending] | undefined;
      for (const entry of this.#pending) {
        if (entry[1].at > end) continue;
        if (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq)) next = entry;
      }
      if (!next) break;
      this.#pending.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = end;
  }

  #add(fn: () => void, ms: number): number {
    const id = ++this.#seq;
    this.#pending.set(id, { at: this.#now + ms, seq: id, fn });
    return id;
  }
}
