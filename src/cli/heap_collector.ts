/**
 * The process side of `heap_trim.ts`: CPU time from `getrusage`, the heap's size from V8, and
 * a memory-reducing collection through an in-process inspector session (Deno exposes no
 * `gc()` without `--expose-gc`, and V8 takes no flags once it runs). The session needs no
 * `--inspect` and opens no port.
 *
 * @module
 */
import { Session } from "node:inspector";
import process from "node:process";
import type { HeapSample, HeapTrimIo } from "./heap_trim.ts";

/** {@linkcode HeapTrimIo} for this process, and a way to close its inspector session. */
export interface ProcessHeap extends HeapTrimIo {
  /** Disconnects the inspector session, if one was opened. */
  close(): void;
}

/**
 * Reads and collects this process's heap.
 *
 * @returns The process side of a {@linkcode HeapTrimmer}.
 */
export function processHeap(): ProcessHeap {
  let session: Session | undefined;
  return {
    sample(): HeapSample {
      const cpu = process.cpuUsage();
      return {
        atMs: performance.now(),
        cpuMicros: cpu.user + cpu.system,
        heapBytes: Deno.memoryUsage().heapTotal,
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
    close(): void {
      session?.disconnect();
      session = undefined;
    },
  };
}
