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
 *   listeners; Node never does. libp2p creates them for every dial and ping.
 *
 * @module
 */

const REF_SYMBOL_NAME = "refBroadcastChannel";

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

function installUnrefTimeoutSignal(): void {
  if (typeof Deno === "undefined" || typeof Deno.unrefTimer !== "function") return;
  AbortSignal.timeout = unrefTimeoutSignal;
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
