/**
 * Makes js-libp2p behave under Deno as it does under Node, so a process exits by
 * itself once its node is stopped.
 *
 * Nothing is patched on import: {@linkcode installDenoShims} runs when the first node is
 * assembled (`createLibp2pNode`, so every network), once; a program that uses libp2p directly
 * calls it itself.
 *
 * - Deno's `BroadcastChannel` has no `unref()`; mortice (the peer store lock) calls it
 *   and otherwise holds the process open forever.
 * - Deno keeps the event loop alive for `AbortSignal.timeout()` signals that have
 *   listeners; Node never does. libp2p creates them for every dial, ping and inbound stream
 *   (the replacement also shares one timer among timeouts ending within 50 ms of each other).
 *
 * @module
 */

const REF_SYMBOL_NAME = "refBroadcastChannel";
/** Marks the installed `AbortSignal.timeout`, so a second install keeps it. */
const TIMEOUT_SHIM = Symbol.for("p2p.coalescedTimeoutSignal");
/** Timeouts this long or longer share timers (shorter ones are precise). */
const COALESCE_MIN_MS = 1_000;
/** The deadline step shared timeouts are rounded up to. */
const COALESCE_STEP_MS = 50;

function installBroadcastChannelUnref(): void {
  if (typeof BroadcastChannel === "undefined") return;
  const proto = BroadcastChannel.prototype as unknown as Record<PropertyKey, unknown>;
  if ("unref" in proto) return;
  // Deno exposes ref/unref only under an internal symbol; guard against it going away.
  const refSymbol = Object.getOwnPropertySymbols(proto).find((s) =>
    s.description === REF_SYMBOL_NAME
  );
  if (refSymbol === undefined) return;
  const setRef = (channel: unknown, ref: boolean): unknown => {
    (channel as Record<symbol, (ref: boolean) => void>)[refSymbol]!(ref);
    return channel;
  };
  Object.defineProperty(proto, "unref", {
    value(this: unknown) {
      return setRef(this, false);
    },
    configurable: true,
  });
  Object.defineProperty(proto, "ref", {
    value(this: unknown) {
      return setRef(this, true);
    },
    configurable: true,
  });
}

function unrefTimeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  const id = setTimeout(
    () => controller.abort(new DOMException("The operation timed out.", "TimeoutError")),
    ms,
  );
  Deno.unrefTimer(id);
  return controller.signal;
}

/**
 * `AbortSignal.timeout` with one timer per deadline step instead of one per call: libp2p asks
 * for a signal on every inbound stream (and `expose` on every target dial), each a timer and,
 * when it fires long after the stream ended, an error object and an abort event. Timeouts of
 * at least {@linkcode COALESCE_MIN_MS} share the signal of every call whose deadline falls in
 * the same {@linkcode COALESCE_STEP_MS} step, firing at most one step late. Signals from
 * `AbortSignal.timeout` cannot be aborted by their holders, so sharing one is invisible.
 */
function coalescedTimeoutSignals(): (ms: number) => AbortSignal {
  const byDeadline = new Map<number, AbortSignal>();
  return (ms) => {
    if (!(ms >= COALESCE_MIN_MS)) return unrefTimeoutSignal(ms);
    const now = performance.now();
    const deadline = Math.ceil((now + ms) / COALESCE_STEP_MS) * COALESCE_STEP_MS;
    let signal = byDeadline.get(deadline);
    if (signal === undefined) {
      const controller = new AbortController();
      const id = setTimeout(() => {
        byDeadline.delete(deadline);
        controller.abort(new DOMException("The operation timed out.", "TimeoutError"));
      }, deadline - now);
      Deno.unrefTimer(id);
      signal = controller.signal;
      byDeadline.set(deadline, signal);
    }
    return signal;
  };
}

function installUnrefTimeoutSignal(): void {
  if (typeof Deno === "undefined" || typeof Deno.unrefTimer !== "function") return;
  if (TIMEOUT_SHIM in AbortSignal.timeout) return;
  AbortSignal.timeout = Object.assign(coalescedTimeoutSignals(), { [TIMEOUT_SHIM]: true });
}

/**
 * Installs the two patches above (a second call changes nothing). Globals are
 * patched (`BroadcastChannel.prototype.unref`, `AbortSignal.timeout`), the same for every node.
 *
 * @example Usage
 * ```ts
 * import { installDenoShims } from "./deno_shims.ts";
 *
 * installDenoShims();
 * installDenoShims(); // nothing more
 * ```
 */
export function installDenoShims(): void {
  installBroadcastChannelUnref();
  installUnrefTimeoutSignal();
}
