import assert from "node:assert/strict";
import {
  DEFAULT_HEAP_TRIM_POLICY,
  type HeapSample,
  HeapTrimmer,
  type HeapTrimPolicy,
  quietBetween,
  shouldTrimHeap,
} from "../../src/cli/heap_trim.ts";
import { processHeap } from "../../src/cli/heap_collector.ts";
import { anonymousResidentBytes, systemAllocator } from "../../src/cli/malloc_release.ts";

const MiB = 1024 * 1024;
const policy: HeapTrimPolicy = {
  checkEveryMs: 2_000,
  quietCpuShare: 0.1,
  minGrowthBytes: 4 * MiB,
  minSpacingMs: 10_000,
  quietForMs: 10_000,
  releaseMallocFromBytes: 14 * MiB,
};

function at(atMs: number, cpuMs: number, heapMiB: number): HeapSample {
  return { atMs, cpuMicros: cpuMs * 1_000, heapBytes: heapMiB * MiB };
}

Deno.test("quietBetween: a tenth of a core is quiet, more is busy", () => {
  // 2 s window: 200 ms of CPU is a tenth of a core, 201 ms is busy.
  assert.equal(quietBetween(at(0, 0, 20), at(2_000, 200, 20), policy), true);
  assert.equal(quietBetween(at(0, 0, 20), at(2_000, 201, 20), policy), false);
  // No time passed: no window to judge.
  assert.equal(quietBetween(at(5, 0, 20), at(5, 0, 20), policy), false);
});

Deno.test("shouldTrimHeap: the first quiet window collects, a busy one never does", () => {
  assert.equal(shouldTrimHeap(at(2_000, 0, 20), 2_000, undefined, policy), true);
  assert.equal(shouldTrimHeap(at(2_000, 0, 20), 0, undefined, policy), false);
  assert.equal(shouldTrimHeap(at(70_000, 0, 90), 0, at(-60_000, 0, 10), policy), false);
});

Deno.test("shouldTrimHeap: later, only growth after a long quiet, and not too soon", () => {
  const last = at(10_000, 0, 14);
  const quiet = (t: number, heap: number, quietMs = 10_000) =>
    shouldTrimHeap(at(t, 10, heap), quietMs, last, policy);
  assert.equal(quiet(30_000, 17.9), false, "3.9 MiB of growth is not enough");
  assert.equal(quiet(30_000, 18), true, "4 MiB is");
  assert.equal(quiet(19_999, 40), false, "within 10 s of the last one");
  assert.equal(quiet(20_000, 40), true);
  assert.equal(quiet(60_000, 40, 8_000), false, "quiet for 8 s: a pause, not an idle process");
});

/** A process driven by hand: the test sets what the next sample reads. */
class FakeProcess {
  now: HeapSample = at(0, 0, 20);
  collections = 0;
  afterCollect = 14;
  failNext = false;
  malloc: number | undefined = 6 * MiB;
  mallocReleases = 0;
  mallocBytes(): number | undefined {
    return this.malloc;
  }
  releaseMalloc(): void {
    this.mallocReleases++;
  }
  sample(): HeapSample {
    return { ...this.now };
  }
  collect(): Promise<void> {
    if (this.failNext) return Promise.reject(new Error("inspector gone"));
    this.collections++;
    this.now = {
      ...this.now,
      cpuMicros: this.now.cpuMicros + 15_000,
      heapBytes: this.afterCollect * MiB,
    };
    return Promise.resolve();
  }
  advance(ms: number, cpuMs: number, heapMiB: number): void {
    this.now = {
      atMs: this.now.atMs + ms,
      cpuMicros: this.now.cpuMicros + cpuMs * 1_000,
      heapBytes: heapMiB * MiB,
    };
  }
}

Deno.test("HeapTrimmer: collects once quiet, again after growth, never while busy", async () => {
  const process = new FakeProcess();
  const trimmer = new HeapTrimmer(process, policy);
  trimmer.start();
  try {
    process.advance(2_000, 900, 24); // starting up: busy
    assert.equal(await trimmer.check(), false);
    process.advance(2_000, 50, 24); // quiet
    assert.equal(await trimmer.check(), true);
    assert.equal(process.collections, 1);
    assert.equal(process.mallocReleases, 0, "6 MiB outside V8's heap is left alone");
    // The collection's own 15 ms are not held against the next window.
    process.advance(2_000, 20, 15);
    assert.equal(await trimmer.check(), false, "no growth");
    for (let i = 0; i < 10; i++) {
      process.advance(2_000, 1_500, 16 + 2 * i); // a burst of traffic: busy, heap growing
      assert.equal(await trimmer.check(), false);
    }
    process.malloc = 18 * MiB; // the burst left malloc's memory large
    for (let i = 0; i < 4; i++) {
      process.advance(2_000, 100, 36); // the burst is over: quiet for 2, 4, 6, 8 s
      assert.equal(await trimmer.check(), false, `quiet for ${2 * (i + 1)} s`);
    }
    process.advance(2_000, 100, 36); // quiet for 10 s
    assert.equal(await trimmer.check(), true);
    assert.equal(trimmer.trims, 2);
    assert.equal(process.mallocReleases, 1, "only after the second, with 14 MiB or more");
  } finally {
    trimmer.stop();
  }
});

Deno.test("HeapTrimmer: pauses between bursts shorter than 10 s never collect", async () => {
  const process = new FakeProcess();
  const trimmer = new HeapTrimmer(process, policy);
  trimmer.start();
  try {
    process.advance(2_000, 50, 24);
    assert.equal(await trimmer.check(), true, "the start-up garbage");
    // Transfers of 2 s with pauses of 6 s, the heap growing all along: a pause never counts
    // as the process gone idle, however much the heap grew.
    for (let round = 0; round < 6; round++) {
      process.advance(2_000, 1_700, 30 + 8 * round);
      assert.equal(await trimmer.check(), false);
      for (let i = 0; i < 3; i++) {
        process.advance(2_000, 40, 30 + 8 * round);
        assert.equal(await trimmer.check(), false, `round ${round}, quiet for ${2 * (i + 1)} s`);
      }
    }
    assert.equal(process.collections, 1);
    // The last pause goes on: 8 s, then 10 s without a break.
    process.advance(2_000, 40, 80);
    assert.equal(await trimmer.check(), false, "quiet for 8 s");
    process.advance(2_000, 40, 80);
    assert.equal(await trimmer.check(), true, "quiet for 10 s");
    assert.equal(process.collections, 2);
  } finally {
    trimmer.stop();
  }
});

Deno.test("HeapTrimmer: after a failed collection it leaves the heap to V8", async () => {
  const process = new FakeProcess();
  const trimmer = new HeapTrimmer(process, policy);
  trimmer.start();
  try {
    process.failNext = true;
    process.advance(2_000, 0, 30);
    assert.equal(await trimmer.check(), false);
    process.failNext = false;
    process.advance(20_000, 0, 90);
    assert.equal(await trimmer.check(), false);
    assert.equal(process.collections, 0);
    assert.equal(trimmer.trims, 0);
  } finally {
    trimmer.stop();
  }
});

Deno.test("processHeap: a collection through the inspector gives the garbage back", async () => {
  assert.equal(DEFAULT_HEAP_TRIM_POLICY.checkEveryMs, 2_000);
  const heap = processHeap();
  // The session's answer does not keep the event loop alive by itself.
  const alive = setInterval(() => {}, 1_000);
  try {
    let garbage: unknown[] = [];
    for (let i = 0; i < 200_000; i++) garbage.push({ i, text: `item ${i}` });
    garbage = [];
    const before = heap.sample();
    await heap.collect();
    const after = heap.sample();
    assert.equal(garbage.length, 0);
    assert.ok(after.atMs >= before.atMs);
    assert.ok(after.cpuMicros >= before.cpuMicros);
    assert.ok(
      after.heapBytes < before.heapBytes,
      `heap ${before.heapBytes} → ${after.heapBytes} bytes`,
    );
  } finally {
    clearInterval(alive);
    heap.close();
  }
});

Deno.test("anonymousResidentBytes: the RssAnon line, nothing without one", () => {
  const status = [
    "Name:\tdeno",
    "VmRSS:\t   74128 kB",
    "RssAnon:\t   26944 kB",
    "RssFile:\t   47184 kB",
    "",
  ].join("\n");
  assert.equal(anonymousResidentBytes(status), 26944 * 1024);
  assert.equal(anonymousResidentBytes(status.replace("RssAnon", "RssShmem")), undefined);
});

Deno.test({
  name: "systemAllocator: reads the process's anonymous memory and releases malloc's on Linux",
  ignore: Deno.build.os !== "linux",
  fn() {
    const allocator = systemAllocator();
    const anonymous = allocator.anonymousBytes();
    const rss = Deno.memoryUsage().rss;
    assert.ok(
      anonymous !== undefined && anonymous > 0 && anonymous < rss,
      `${anonymous} of ${rss}`,
    );
    assert.equal(allocator.release(), true);
  },
});
