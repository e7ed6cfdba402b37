/**
 * Joins the two streams of a relayed circuit (the source's hop stream and the destination's
 * stop stream) with backpressure in both directions: when one side's send buffer is full, the
 * other side is paused, so its muxer stops granting window and the sender waits.
 *
 * `@libp2p/circuit-relay-v2` 4.2.13 joins them with `pipe()`, which reads every message of a
 * source into an unbounded queue whatever the destination accepts: a member holding both ends
 * of a circuit (one end never reading) made a relay buffer 512 MiB in 3 s, up to the
 * circuit's 2 GiB data limit, on each of its 64 circuits.
 *
 * @module
 */
import type { Stream } from "@libp2p/interface";
import type { Uint8ArrayList } from "uint8arraylist";

/** What bounds a circuit. */
export interface SpliceLimits {
  /** Ends the circuit (both streams are aborted with its reason). */
  signal: AbortSignal;
  /** Bytes the circuit may carry, both directions together. */
  dataBytes?: bigint;
}

/** Raised when a circuit reaches its data limit. */
export class CircuitLimitError extends Error {
  /** @param limit The limit in bytes. */
  constructor(limit: bigint) {
    super(`Relayed circuit reached its data limit of ${limit} bytes`);
    this.name = "CircuitLimitError";
  }
}

function forward(
  from: Stream,
  to: Stream,
  spend: (bytes: number) => boolean,
): void {
  let congested = false;
  from.addEventListener("message", (event) => {
    const data: Uint8Array | Uint8ArrayList = event.data;
    if (!spend(data.byteLength)) return;
    if (to.writeStatus !== "writable") {
      from.abort(new Error("the other end of the circuit is closed"));
      return;
    }
    if (to.send(data) || congested) return;
    congested = true;
    // Deferred: a pause() inside a 'message' dispatched by resume() is undone by libp2p.
    queueMicrotask(() => {
      if (congested && from.readStatus === "readable") from.pause();
    });
  });
  to.addEventListener("drain", () => {
    congested = false;
    if (from.readStatus === "paused") from.resume();
  });
  // Every byte delivered and the sender closed its side: half-close ours.
  from.addEventListener("end", () => {
    if (to.writeStatus === "writable") to.close().catch(() => {});
  }, { once: true });
  from.addEventListener("close", (event) => {
    if (event.error !== undefined) to.abort(event.error);
  }, { once: true });
}

/**
 * Relays `a` and `b` into each other until both are closed.
 *
 * @param a One end of the circuit.
 * @param b The other end.
 * @param limits When the circuit must end.
 * @returns Resolves once both streams are closed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { streamPair } from "@libp2p/utils";
 * import { spliceStreams } from "./relay_splice.ts";
 *
 * const [source, a] = await streamPair();
 * const [b, destination] = await streamPair();
 * const done = spliceStreams(a, b, { signal: new AbortController().signal });
 * const received = new Promise<string>((resolve) => {
 *   destination.addEventListener("message", (event) => {
 *     resolve(new TextDecoder().decode(event.data.subarray()));
 *   });
 * });
 * source.send(new TextEncoder().encode("through the relay"));
 * assert.equal(await received, "through the relay");
 * source.abort(new Error("done"));
 * await done;
 * ```
 */
export function spliceStreams(a: Stream, b: Stream, limits: SpliceLimits): Promise<void> {
  const abortBoth = (reason: unknown): void => {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    a.abort(err);
    b.abort(err);
  };
  let remaining = limits.dataBytes;
  const spend = (bytes: number): boolean => {
    if (remaining === undefined) return true;
    remaining -= BigInt(bytes);
    if (remaining >= 0n) return true;
    abortBoth(new CircuitLimitError(limits.dataBytes!));
    return false;
  };
  forward(a, b, spend);
  forward(b, a, spend);
  const closed = (stream: Stream): Promise<void> =>
    stream.status === "closed" || stream.status === "aborted" || stream.status === "reset"
      ? Promise.resolve()
      : new Promise((resolve) => stream.addEventListener("close", () => resolve(), { once: true }));
  const onAbort = (): void => abortBoth(limits.signal.reason);
  if (limits.signal.aborted) onAbort();
  else limits.signal.addEventListener("abort", onAbort, { once: true });
  return Promise.all([closed(a), closed(b)]).then(() => {
    limits.signal.removeEventListener("abort", onAbort);
  });
}
