/**
 * libp2p's component logger, made free when its debug output is off.
 *
 * libp2p makes loggers per connection, per stream and per negotiation. Each of its stock
 * loggers is three or four `weald` debug instances, and each instance asks the terminal whether
 * stderr is a TTY (a `tcgetattr` system call) and matches its name against the enabled
 * patterns. A V8 profile of `p2p connect` opening connections put 2.5 % of its CPU in
 * `tcgetattr` alone. With `DEBUG` unset nothing is ever printed, so this logger hands out one
 * shared disabled logger instead; with `DEBUG` set, libp2p's own logger is used as before.
 *
 * @module
 */
import type { ComponentLogger, Logger } from "@libp2p/interface";

function disabledLogger(): Logger {
  const noop = (): void => {};
  const log = Object.assign(noop, {
    enabled: false,
    error: Object.assign((): void => {}, { enabled: false }),
    trace: Object.assign((): void => {}, { enabled: false }),
  }) as unknown as Logger;
  // A scope of a disabled logger is the same disabled logger.
  (log as { newScope: (name: string) => Logger }).newScope = () => log;
  return log;
}

/** Whether libp2p's debug output was asked for (`DEBUG=libp2p:*` and the like). */
function debugRequested(): boolean {
  try {
    return (Deno.env.get("DEBUG") ?? "") !== "";
  } catch {
    return false; // no env permission: libp2p's logger could not read DEBUG either
  }
}

/**
 * The logger to pass as `createLibp2p({ logger })`: a shared disabled one when `DEBUG` is
 * unset, else `undefined` (libp2p's default logger, which prints what `DEBUG` enables).
 *
 * @returns The component logger, or `undefined` for libp2p's own.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { quietLogger } from "./quiet_logger.ts";
 *
 * const logger = quietLogger();
 * if (logger !== undefined) {
 *   const log = logger.forComponent("libp2p:example");
 *   assert.equal(log.enabled, false);
 *   assert.equal(log.newScope("stream"), log);
 *   log("never printed %s", "anything");
 * }
 * ```
 */
export function quietLogger(): ComponentLogger | undefined {
  if (debugRequested()) return undefined;
  const log = disabledLogger();
  return { forComponent: () => log };
}
