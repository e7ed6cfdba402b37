/**
 * The host's C library through Deno's FFI, for the few things Deno has no API for: resetting a
 * TCP connection (`connect()` to `AF_UNSPEC`, `src/services/tcp_reset.ts`) and giving
 * `malloc`'s free pages back (`malloc_trim`, `src/cli/malloc_release.ts`). Linux only, and only
 * where the program may use FFI (`--allow-ffi`, included in `-A`): it is never prompted for.
 *
 * @module
 */

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
  try {
    if (Deno.build.os !== "linux") return undefined;
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
    opened = Deno.dlopen(LIBC, SYMBOLS).symbols;
  } catch {
    opened = null;
  }
  return opened ?? undefined;
}
