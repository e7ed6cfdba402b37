/**
 * An `EventTarget` whose event names and details are typed by `EventMap` (`name → CustomEvent
 * <detail>`): what {@linkcode Network} and `P2PNode` dispatch.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TypedEvents } from "@p2p/p2p";
 *
 * const target = new TypedEvents<{ ping: CustomEvent<number> }>();
 * let seen = 0;
 * target.addEventListener("ping", (event) => (seen = event.detail));
 * target.safeDispatchEvent("ping", { detail: 7 });
 * assert.equal(seen, 7);
 * ```
 */
export class TypedEvents<EventMap extends { [K in keyof EventMap]: Event }> extends EventTarget {
  /** Listens to `type`. */
  override addEventListener<K extends keyof EventMap & string>(
    type: K,
    listener: ((event: EventMap[K]) => void) | { handleEvent(event: EventMap[K]): void } | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** Stops listening to `type`. */
  override removeEventListener<K extends keyof EventMap & string>(
    type: K,
    listener: ((event: EventMap[K]) => void) | { handleEvent(event: EventMap[K]): void } | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** Dispatches a `CustomEvent` of `type`; a listener that throws does not stop the others. */
  safeDispatchEvent<K extends keyof EventMap & string>(
    type: K,
    init: CustomEventInit<EventMap[K] extends CustomEvent<infer D> ? D : never>,
  ): boolean {
    return this.dispatchEvent(new CustomEvent(type, init));
  }
}
