/**
 * A shared allowance of bytes, for memory that strangers may make a node hold: reservations
 * that do not fit wait until enough is released (first fit: a small one that fits is not held
 * behind a large one that does not). Pure bookkeeping, no IO.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteBudget } from "./byte_budget.ts";
 *
 * const budget = new ByteBudget(100);
 * assert.equal(budget.tryReserve(60), true);
 * assert.equal(budget.tryReserve(60), false);
 * const waiting = budget.reserve(60, AbortSignal.timeout(1_000));
 * budget.release(60);
 * assert.equal(await waiting, true);
 * assert.equal(budget.used, 60);
 * ```
 */
export class ByteBudget {
  readonly capacity: number;
  /** Reservations that may wait for room at once; more are refused at once. */
  readonly maxWaiting: number;
  #used = 0;
  #waiters: { bytes: number; grant: (ok: boolean) => void }[] = [];

  /**
   * @param capacity The bytes that may be reserved at once.
   * @param maxWaiting Reservations that may wait for room at once. @default {Infinity}
   */
  constructor(capacity: number, maxWaiting: number = Infinity) {
    this.capacity = capacity;
    this.maxWaiting = maxWaiting;
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.#used;
  }

  /** Reservations waiting for room. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Whether `maxWaiting` reservations wait already (a new one would be refused). */
  get waitFull(): boolean {
    return this.#waiters.length >= this.maxWaiting;
  }

  /** Reserves `bytes` if they fit now. */
  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.capacity) return false;
    this.#used += bytes;
    return true;
  }

  /**
   * Reserves `bytes`, waiting for room.
   *
   * @returns `true` once reserved; `false` if they can never fit, `maxWaiting` reservations
   * wait already, or the signal ends the wait.
   */
  reserve(bytes: number, signal: AbortSignal): Promise<boolean> {
    if (this.tryReserve(bytes)) return Promise.resolve(true);
    if (bytes > this.capacity || signal.aborted || this.waitFull) {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const waiter = {
        bytes,
        grant: (ok: boolean) => {
          signal.removeEventListener("abort", onAbort);
          resolve(ok);
        },
      };
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        waiter.grant(false);
        this.#drain();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Gives `bytes` back and lets waiting reservations in. */
  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
    this.#drain();
  }

  #drain(): void {
    for (const waiter of [...this.#waiters]) {
      if (this.#used + waiter.bytes > this.capacity) continue;
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      this.#used += waiter.bytes;
      waiter.grant(true);
    }
  }
}
