/**
 * Gives glibc's free pages back to the system. V8's compilers and Deno's Rust side allocate
 * through `malloc`, and glibc keeps what they free for later: a member of a 20-node DHT network
 * holds 16–17 MiB in its `[heap]` mapping, a lone node 5–6. `malloc_trim(0)` returns the free
 * pages; it is called through FFI, which the release binaries may use (`--allow-ffi`). Loading
 * FFI maps about 1.5 MiB of the `deno` binary's code, so it is done only for a heap worth it.
 *
 * @module
 */

import { processLibc } from "../node/libc.ts";
import { permissionGranted } from "../node/permissions.ts";

/** glibc's allocator, as far as this process may reach it. */
export interface SystemAllocator {
  /**
   * Resident anonymous bytes of the process (`RssAnon`: the V8 heap, `malloc`'s memory,
   * stacks), or undefined where unknown. Read from `/proc/self/status`, a page of text
   * (`/proc/self/smaps`, which names the `[heap]` mapping, is hundreds of KB).
   */
  anonymousBytes(): number | undefined;
  /** Returns free pages to the system; false where it cannot (not Linux, no FFI). */
  release(): boolean;
}

/**
 * The `RssAnon` line of `/proc/<pid>/status` text.
 *
 * @param status The text of `/proc/<pid>/status`.
 * @returns Bytes, or undefined when the line is missing.
 */
export function anonymousResidentBytes(status: string): number | undefined {
  const line = /^RssAnon:\s+(\d+) kB$/m.exec(status);
  return line === null ? undefined : Number(line[1]) * 1024;
}

const STATUS = "/proc/self/status";

/**
 * This process's allocator: Linux, where the program may read `/proc/self/status`
 * (`--allow-read`) and use FFI (`--allow-ffi`); anywhere else it reports nothing and releases
 * nothing. Neither permission is ever prompted for.
 *
 * @returns The allocator's two operations.
 */
export function systemAllocator(): SystemAllocator {
  const readable = Deno.build.os === "linux" && permissionGranted({ name: "read", path: STATUS });
  return {
    anonymousBytes(): number | undefined {
      if (!readable) return undefined;
      try {
        return anonymousResidentBytes(Deno.readTextFileSync(STATUS));
      } catch {
        return undefined;
      }
    },
    release(): boolean {
      const libc = processLibc();
      if (libc === undefined) return false;
      libc.malloc_trim(0n);
      return true;
    },
  };
}
