/**
 * When a long-running `p2p` process gives memory back: V8 collects its heap when it runs out
 * of room, not when the process goes quiet (Deno runs no idle tasks, so V8's memory reducer
 * does not start), and it lets the heap grow to several times what survives. A node that
 * started, or that just answered a burst of DHT or gossip traffic, keeps that garbage and its
 * 4 MiB young generation resident until more work comes. The trimmer watches the process's
 * CPU and heap, and once the process has been quiet while its heap or the buffers it owns have
 * grown, asks V8 for one memory-reducing collection.
 *
 * This file holds the decision and its loop, with the process behind {@linkcode HeapTrimIo};
 * `heap_collector.ts` is that process side.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["p2p", "cli"]);

/** The thresholds of the trimmer. */
export interface HeapTrimPolicy {
  /** How often the process is sampled, ms. */
  checkEveryMs: number;
  /** Quiet: the process used at most this share of one core since the last sample. */
  quietCpuShare: number;
  /** The heap must have grown by this much since the last collection, bytes. */
  minGrowthBytes: number;
  /** At least this long between two collections, ms. */
  minSpacingMs: number;
  /**
   * After the first collection, the process must have been quiet this long without a break
   * before the next, ms: a tunnel's collection a few seconds after its last transfer cost the
   * next transfer's receiver about a third more CPU.
   */
  quietForMs: number;
  /**
   * After a collection, glibc's free pages are given back when the process holds at least
   * this much anonymous memory outside V8's heap, bytes (`malloc_release.ts`).
   */
  releaseMallocFromBytes: number;
}

/**
 * Sampled every 2 s; quiet below a tenth of a core (an idle member of a 20-node DHT network
 * uses 2–5 %, a tunnel carrying traffic 30–90 %); 4 MiB of growth, at most one collection per
 * 10 s: one takes an idle node 27–37 ms from request to answer. After the first, 10 s of quiet
 * (five quiet samples in a row): a pause between two transfers is not a process gone idle.
 * glibc's free pages are released from 10 MiB outside V8's heap: an idle node holds 8.3–9.1
 * there when its start-up's freed memory went back by itself and 11.8–14.7 when it stayed (it
 * compiles from source: no code cache), a member of a 20-node DHT network 15–34. Below that,
 * releasing would cost more than it gives: loading FFI maps about 1.5 MiB of the `deno`
 * binary's code.
 */
export const DEFAULT_HEAP_TRIM_POLICY: HeapTrimPolicy = {
  checkEveryMs: 2_000,
  quietCpuShare: 0.1,
  minGrowthBytes: 4 * 1024 * 1024,
  minSpacingMs: 10_000,
  quietForMs: 10_000,
  releaseMallocFromBytes: 10 * 1024 * 1024,
};

/** One reading of the process. */
export interface HeapSample {
  /** A monotonic clock, ms. */
  atMs: number;
  /** CPU time used so far (user and system), µs. */
  cpuMicros: number;
  /** The V8 heap's committed size and the buffers outside it that it owns, bytes. */
  heapBytes: number;
}

/** What the trimmer reads and does; `heap_collector.ts` has the process's. */
export interface HeapTrimIo {
  /** Reads the process now. */
  sample(): HeapSample;
  /** Runs one memory-reducing collection; resolves when it is done. */
  collect(): Promise<void>;
  /** Resident anonymous bytes outside V8's heap (mostly `malloc`'s), or undefined. */
  mallocBytes(): number | undefined;
  /** Gives the C allocator's free pages back to the system. */
  releaseMalloc(): void;
}

/**
 * Whether the process was quiet between two samples.
 *
 * @param previous The sample before this one.
 * @param now This sample.
 * @param policy The thresholds.
 * @returns True when it used at most `quietCpuShare` of one core in between.
 */
export function quietBetween(
  previous: HeapSample,
  now: HeapSample,
  policy: HeapTrimPolicy,
): boolean {
  const windowMs = now.atMs - previous.atMs;
  if (windowMs <= 0) return false;
  return (now.cpuMicros - previous.cpuMicros) / 1_000 / windowMs <= policy.quietCpuShare;
}

/**
 * Whether to collect now.
 *
 * @param now This sample.
 * @param quietForMs How long the process has been quiet without a break, up to `now` (0 when
 * the last window was busy).
 * @param lastTrim The sample right after the last collection, if there was one.
 * @param policy The thresholds.
 * @returns The first time: as soon as a window was quiet (a command's start-up garbage). After
 * that: when the process has been quiet for `quietForMs` of the policy, and its heap has grown
 * enough since the last collection, long enough ago.
 */
export function shouldTrimHeap(
  now: HeapSample,
  quietForMs: number,
  lastTrim: HeapSample | undefined,
  policy: HeapTrimPolicy,
): boolean {
  if (quietForMs <= 0) return false;
  if (lastTrim === undefined) return true;
  if (quietForMs < policy.quietForMs) return false;
  if (now.atMs - lastTrim.atMs < policy.minSpacingMs) return false;
  return now.heapBytes - lastTrim.heapBytes >= policy.minGrowthBytes;
}

/** Samples the process on a timer and collects when {@linkcode shouldTrimHeap} says so. */
export class HeapTrimmer {
  #io: HeapTrimIo;
  #policy: HeapTrimPolicy;
  #previous: HeapSample | undefined;
  #lastTrim: HeapSample | undefined;
  /** Where the current quiet stretch began (a sample's time), if the last window was quiet. */
  #quietSinceMs: number | undefined;
  #collecting = false;
  #failed = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #trims = 0;

  /** @param io The process. @param policy The thresholds. */
  constructor(io: HeapTrimIo, policy: HeapTrimPolicy = DEFAULT_HEAP_TRIM_POLICY) {
    this.#io = io;
    this.#policy = policy;
  }

  /** How many collections it ran. */
  get trims(): number {
    return this.#trims;
  }

  /** Samples every `checkEveryMs`, on a timer that does not keep the process alive. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#previous = this.#io.sample();
    const timer = setInterval(() => void this.check(), this.#policy.checkEveryMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Takes one sample and collects if it is time (the timer calls it).
   *
   * @returns Whether it collected.
   */
  async check(): Promise<boolean> {
    if (this.#collecting || this.#failed) return false;
    const now = this.#io.sample();
    const previous = this.#previous ?? now;
    this.#previous = now;
    if (quietBetween(previous, now, this.#policy)) this.#quietSinceMs ??= previous.atMs;
    else this.#quietSinceMs = undefined;
    const quietForMs = this.#quietSinceMs === undefined ? 0 : now.atMs - this.#quietSinceMs;
    if (!shouldTrimHeap(now, quietForMs, this.#lastTrim, this.#policy)) return false;
    this.#collecting = true;
    const startedMs = performance.now();
    try {
      await this.#io.collect();
      this.#trims++;
      const malloc = this.#io.mallocBytes();
      if (malloc !== undefined && malloc >= this.#policy.releaseMallocFromBytes) {
        this.#io.releaseMalloc();
      }
      // The collection's own CPU must not count against the next window.
      this.#lastTrim = this.#previous = this.#io.sample();
      log.debug("Heap collected: {before} → {after} bytes in {ms} ms; {malloc} outside", {
        before: now.heapBytes,
        after: this.#lastTrim.heapBytes,
        ms: Math.round(performance.now() - startedMs),
        malloc: malloc ?? "?",
      });
      return true;
    } catch (err) {
      // The inspector is gone or refuses: V8 goes on collecting on its own.
      log.debug("Heap collection failed, not trying again: {error}", { error: String(err) });
      this.#failed = true;
      this.stop();
      return false;
    } finally {
      this.#collecting = false;
    }
  }
}
