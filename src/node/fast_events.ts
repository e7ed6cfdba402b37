/**
 * Cheaper events for libp2p's objects under Deno. Every libp2p connection, stream and muxer is
 * a `TypedEventEmitter` (`main-event`): each listener is wrapped in a closure and registered
 * with the platform `EventTarget`, and every message read from a stream is a `message` event.
 * Deno's `EventTarget` runs the whole DOM dispatch algorithm (event path, phases, flags, IDL
 * brand checks) for objects that never have a parent; in profiles of tunnel connection
 * set-up it is the largest single piece of libp2p's per-stream cost.
 *
 * {@linkcode installFastEvents} gives `TypedEventEmitter.prototype` its own listener lists:
 * the same observable rules for what libp2p uses (registration order, no duplicate
 * `(listener, capture)` pair, `once`, `signal`, `handleEvent` objects, listeners added during
 * a dispatch wait for the next one, removed ones are skipped, a throwing listener is reported
 * and the others still run, the return value is `!defaultPrevented`). Not provided, because
 * nothing in libp2p reads them: `event.target`/`currentTarget` (left `null`) and
 * `stopImmediatePropagation()`. Objects stay `EventTarget`s, so `instanceof` is unchanged.
 * An emitter that registered listeners before the switch keeps them: its dispatches also go
 * through the platform while `main-event` still counts any (one map lookup per dispatch).
 *
 * @module
 */
import { TypedEventEmitter } from "@libp2p/interface";

/** A listener as the DOM takes it (the platform's type is declared twice, by Deno and Node). */
type Listener = ((this: unknown, event: Event) => void) | { handleEvent(event: Event): void };

/** One registration. */
interface Registration {
  callback: Listener;
  capture: boolean;
  once: boolean;
  /** Set once removed, so a dispatch already under way skips it. */
  removed: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Per-emitter lists, by event type; replaced, never mutated, so a dispatch can iterate one. */
type Registrations = Map<string, readonly Registration[]>;

const LISTENERS = Symbol("p2p.fastEventListeners");
const INSTALLED = Symbol.for("p2p.fastEvents");

interface FastEmitter {
  [LISTENERS]?: Registrations;
}

function captureOf(options: boolean | EventListenerOptions | undefined): boolean {
  return typeof options === "boolean" ? options : options?.capture === true;
}

/** The registration of `callback` with `capture` in `list`, if any. */
function find(
  list: readonly Registration[] | undefined,
  callback: Listener | null,
  capture: boolean,
): Registration | undefined {
  if (list === undefined) return undefined;
  for (const registration of list) {
    if (registration.callback === callback && registration.capture === capture) return registration;
  }
  return undefined;
}

function unregister(emitter: FastEmitter, type: string, registration: Registration): void {
  registration.removed = true;
  registration.signal?.removeEventListener("abort", registration.onAbort!);
  const map = emitter[LISTENERS];
  const list = map?.get(type);
  if (map === undefined || list === undefined) return;
  const rest = list.filter((r) => r !== registration);
  if (rest.length === 0) map.delete(type);
  else map.set(type, rest);
}

/** `TypedEventEmitter`'s own methods, for listeners registered before the switch. */
interface StockMethods {
  listenerCount(this: unknown, type: string): number;
  removeEventListener(this: unknown, type: string, callback: unknown, options: unknown): void;
  dispatchEvent(this: unknown, event: Event): boolean;
}

/** The replacement methods; `stock` serves registrations made before them. */
function fastMethods(stock: StockMethods): Record<string, unknown> {
  return {
    addEventListener(
      this: FastEmitter,
      type: string,
      callback: Listener | null,
      options?: boolean | AddEventListenerOptions,
    ): void {
      if (callback === null || callback === undefined) return;
      const capture = captureOf(options);
      const object = typeof options === "object" ? options : undefined;
      const signal = object?.signal ?? undefined;
      if (signal?.aborted === true) return;
      const map = this[LISTENERS] ??= new Map();
      const list = map.get(type);
      if (find(list, callback, capture) !== undefined) return;
      const registration: Registration = {
        callback,
        capture,
        once: object?.once === true,
        removed: false,
        signal,
        onAbort: undefined,
      };
      if (signal !== undefined) {
        registration.onAbort = () => unregister(this, type, registration);
        signal.addEventListener("abort", registration.onAbort);
      }
      map.set(type, list === undefined ? [registration] : [...list, registration]);
    },

    removeEventListener(
      this: FastEmitter,
      type: string,
      callback: Listener | null,
      options?: boolean | EventListenerOptions,
    ): void {
      const found = find(this[LISTENERS]?.get(type), callback, captureOf(options));
      if (found !== undefined) unregister(this, type, found);
      else if (stock.listenerCount.call(this, type) > 0) {
        stock.removeEventListener.call(this, type, callback, options);
      }
    },

    dispatchEvent(this: FastEmitter, event: Event): boolean {
      const type = event.type;
      if (stock.listenerCount.call(this, type) > 0) stock.dispatchEvent.call(this, event);
      const list = this[LISTENERS]?.get(type);
      if (list === undefined) return !event.defaultPrevented;
      for (const registration of list) {
        if (registration.removed) continue;
        if (registration.once) unregister(this, type, registration);
        const callback = registration.callback;
        try {
          if (typeof callback === "function") callback.call(this, event);
          else callback.handleEvent(event);
        } catch (err) {
          // As the platform does: the error is reported, the remaining listeners still run.
          reportError(err);
        }
      }
      return !event.defaultPrevented;
    },

    // Most of libp2p's notifications (drain, remote half-closes, ...) have no listener: no
    // one could see the event, so it is not built.
    safeDispatchEvent(this: FastEmitter & EventTarget, type: string, init?: CustomEventInit) {
      if (this[LISTENERS]?.has(type) !== true && stock.listenerCount.call(this, type) === 0) {
        return true;
      }
      return this.dispatchEvent(new CustomEvent(type, init));
    },

    listenerCount(this: FastEmitter, type: string): number {
      return (this[LISTENERS]?.get(type)?.length ?? 0) + stock.listenerCount.call(this, type);
    },
  };
}

/**
 * Replaces `TypedEventEmitter`'s listener methods process-wide (a second call changes
 * nothing).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TypedEventEmitter } from "@libp2p/interface";
 * import { installFastEvents } from "./fast_events.ts";
 *
 * installFastEvents();
 * const emitter = new TypedEventEmitter<{ ping: CustomEvent<number> }>();
 * const seen: number[] = [];
 * emitter.addEventListener("ping", (evt) => seen.push(evt.detail), { once: true });
 * emitter.safeDispatchEvent("ping", { detail: 1 });
 * emitter.safeDispatchEvent("ping", { detail: 2 });
 * assert.deepEqual(seen, [1]);
 * ```
 */
export function installFastEvents(): void {
  const proto = TypedEventEmitter.prototype as unknown as Record<PropertyKey, unknown>;
  if (proto[INSTALLED] === true) return;
  const stock = proto as unknown as StockMethods;
  const methods = fastMethods({
    listenerCount: stock.listenerCount,
    removeEventListener: stock.removeEventListener,
    dispatchEvent: EventTarget.prototype.dispatchEvent as StockMethods["dispatchEvent"],
  });
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(proto, name, { value, writable: true, configurable: true });
  }
  Object.defineProperty(proto, INSTALLED, { value: true });
}
