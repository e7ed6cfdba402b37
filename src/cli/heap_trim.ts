/**
 * Returns a long-running node's garbage to the system. V8 starts a full collection when its
 * heap reaches a limit it raises with every collection, and a process that allocates little
 * (an idle node, or one that only answers DHT queries) reaches it late: its heap holds the
 * start-up garbage, then several times its live size, for good. The process owner (the CLI,
 * never the library inside someone else's program) collects instead: once when the node has
 * started, then whenever the heap has grown well past what the last collection left.
 *
 * @module
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { getLogger } from "@logtape/logtape";
import { HEAP_TRIM_CHECK_MS, HEAP_TRIM_GROWTH, HEAP_TRIM_MIN_BYTES } from "./constants.ts";

const log = getLogger(["p2p", "cli"]);

/** When a check collects: the heap grew past `growth` × its size after the last collection. */
export interface HeapTrimPolicy {
  /** Heap sizes below this are left alone, in bytes. */
  minBytes: number;
  /** How much the heap may grow over its size after the last collection. */
  growth: number;
}

/**
 * Whether a check with `usedBytes` of heap in use collects.
 *
 * @param usedBytes The heap in use now.
 * @param afterLastBytes The heap in use right after the last collection.
 * @param policy The bounds.
 * @returns `true` to collect.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { heapTrimDue } from "./heap_trim.ts";
 *
 * const policy = { minBytes: 16e6, growth: 1.5 };
 * assert.equal(heapTrimDue(40e6, 30e6, policy), false);
 * assert.equal(heapTrimDue(46e6, 30e6, policy), true);
 * assert.equal(heapTrimDue(12e6, 4e6, policy), false, "small heaps are left alone");
 * ```
 */
export function heapTrimDue(
  usedBytes: number,
  afterLastBytes: number,
  policy: HeapTrimPolicy,
): boolean {
  return usedBytes >= policy.minBytes && usedBytes >= policy.growth * afterLastBytes;
}

/** A running trimmer. */
export interface HeapTrim {
  /** Collections so far. */
  readonly collections: number;
  /** Stops the checks. */
  stop(): void;
}

/** What {@linkcode startHeapTrim} reads and calls; the defaults are the process's own. */
export interface HeapTrimInit {
  /** The heap in use, in bytes. @default {() => Deno.memoryUsage().heapUsed} */
  heapUsed?: () => number;
  /** A full collection. @default V8's `gc`, exposed for this purpose. */
  collect?: () => void;
  /** Between two checks. @default {HEAP_TRIM_CHECK_MS} */
  checkMs?: number;
  /** @default {{ minBytes: HEAP_TRIM_MIN_BYTES, growth: HEAP_TRIM_GROWTH }} */
  policy?: HeapTrimPolicy;
}

/**
 * Collects once now (the start-up garbage), then checks every `checkMs` and collects when
 * {@linkcode heapTrimDue} says so. The timer does not keep the process alive.
 *
 * @param init What to read and call (tests pass fakes).
 * @returns The running trimmer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { startHeapTrim } from "./heap_trim.ts";
 *
 * let collected = 0;
 * const trim = startHeapTrim({ heapUsed: () => 64e6, collect: () => collected++ });
 * trim.stop();
 * assert.equal(collected, 1);
 * ```
 */
export function startHeapTrim(init: HeapTrimInit = {}): HeapTrim {
  const heapUsed = init.heapUsed ?? (() => Deno.memoryUsage().heapUsed);
  const collect = init.collect ?? exposeGc();
  const policy = init.policy ?? { minBytes: HEAP_TRIM_MIN_BYTES, growth: HEAP_TRIM_GROWTH };
  let collections = 0;
  let afterLast = 0;
  const run = (before: number): void => {
    collect();
    collections++;
    afterLast = heapUsed();
    log.debug("Heap collected: {before} → {after} bytes in use", { before, after: afterLast });
  };
  run(heapUsed());
  const timer = setInterval(() => {
    const used = heapUsed();
    if (heapTrimDue(used, afterLast, policy)) run(used);
  }, init.checkMs ?? HEAP_TRIM_CHECK_MS);
  Deno.unrefTimer(timer);
  return {
    get collections() {
      return collections;
    },
    stop: () => clearInterval(timer),
  };
}

/** V8's `gc`, which it only gives a context created after the flag is set. */
function exposeGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}
