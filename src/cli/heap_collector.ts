/**
 * The process side of `heap_trim.ts`: CPU time from `getrusage`, the heap's size from V8, and
 * a memory-reducing collection through an in-process inspector session (Deno exposes no
 * `gc()` without `--expose-gc`, and V8 takes no flags once it runs), then glibc's free pages
 * (`malloc_release.ts`). The session needs no `--inspect` and opens no port.
 *
 * @module
 */
import { Session } from "node:inspector";
import process from "node:process";
import type { Tuning } from "../node/tuning.ts";
import { type HeapSample, type HeapTrimIo, HeapTrimmer } from "./heap_trim.ts";
import { systemAllocator } from "./malloc_release.ts";

/** {@linkcode HeapTrimIo} for this process, and a way to close its inspector session. */
export interface ProcessHeap extends HeapTrimIo {
  /** Disconnects the inspector session, if one was opened. */
  close(): void;
}

/** What {@linkcode processHeap} does besides collecting. */
export interface ProcessHeapOptions {
  /** Give glibc's free pages back when the trimmer asks (`malloc_release.ts`). @default {true} */
  releaseMalloc?: boolean;
}

/**
 * Reads and collects this process's heap.
 *
 * @param options Whether malloc's free pages are released too.
 * @returns The process side of a {@linkcode HeapTrimmer}.
 */
export function processHeap(options: ProcessHeapOptions = {}): ProcessHeap {
  const releasing = options.releaseMalloc ?? true;
  let session: Session | undefined;
  const allocator = systemAllocator();
  return {
    sample(): HeapSample {
      const cpu = process.cpuUsage();
      return {
        atMs: performance.now(),
        cpuMicros: cpu.user + cpu.system,
        heapBytes: heapAndBuffers(),
      };
    },
    collect(): Promise<void> {
      if (session === undefined) {
        session = new Session();
        session.connect();
      }
      const open = session;
      return new Promise((resolve, reject) => {
        open.post("HeapProfiler.collectGarbage", (err: Error | null) => {
          if (err) reject(err);
          else resolve();
        });
      });
    },
    mallocBytes(): number | undefined {
      if (!releasing) return undefined;
      // What is resident outside V8's heap and its buffers is mostly malloc's.
      const anonymous = allocator.anonymousBytes();
      if (anonymous === undefined) return undefined;
      const { heapTotal, external } = Deno.memoryUsage();
      return Math.max(0, anonymous - heapTotal - external);
    },
    releaseMalloc(): void {
      allocator.release();
    },
    close(): void {
      session?.disconnect();
      session = undefined;
    },
  };
}

/**
 * Starts trimming this process's heap as `choice` says (`P2P_TUNING`'s `heap`).
 *
 * @param choice `trim`, `collect` (no glibc step) or `stock` (nothing).
 * @returns Stops the trimmer and closes its inspector session.
 */
export function startHeapTrim(choice: Tuning["heap"]): () => void {
  if (choice === "stock") return () => {};
  const heap = processHeap({ releaseMalloc: choice === "trim" });
  const trimmer = new HeapTrimmer(heap);
  trimmer.start();
  return () => {
    trimmer.stop();
    heap.close();
  };
}

/**
 * V8's committed heap and the buffers it owns outside it: read slabs and other `ArrayBuffer`s
 * wait for a collection as the heap's own garbage does. Bulk bytes received leave most of their
 * garbage there (a node that held 20 MiB of a stranger's frame had 60 MiB of buffers and a heap
 * barely grown).
 */
function heapAndBuffers(): number {
  const usage = Deno.memoryUsage();
  return usage.heapTotal + usage.external;
}
