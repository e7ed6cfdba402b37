/**
 * The host's C library through Deno's FFI, for the few things Deno has no API for: resetting a
 * TCP connection (`connect()` to `AF_UNSPEC`, `src/services/tcp_reset.ts`) and giving
 * `malloc`'s free pages back (`malloc_trim`, `src/cli/malloc_release.ts`). Linux only, and only
 * where the program may use FFI (`--allow-ffi`, included in `-A`): it is never prompted for.
 *
 * @module
 */

import { permissionGranted } from "./permissions.ts";

const LIBC = "libc.so.6";
const SYMBOLS = {
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
} as const;

/** The functions of libc this program calls. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// The process's one libc handle, opened on first use and never closed: a fact of the process,
// not of a network.
let opened: Libc | null | undefined;

/**
 * The process's libc, or undefined where it may not or cannot be loaded.
 *
 * @returns Its functions.
 */
export function processLibc(): Libc | undefined {
  if (opened !== undefined) return opened ?? undefined;
  opened = null;
  if (Deno.build.os !== "linux" || !permissionGranted({ name: "ffi" })) return undefined;
  try {
    opened = Deno.dlopen(LIBC, SYMBOLS).symbols;
  } catch {
    // No libc.so.6 here (not glibc): stays null, and is not tried again.
  }
  return opened ?? undefined;
}
