// Fast libp2p events: the same listener rules as the platform EventTarget (the same scenario
// traced on both), emitters that listened before the switch keep their listeners, and a
// libp2p connection that carried many streams ends with none left open on either side.
import assert from "node:assert/strict";
import { type Stream, TypedEventEmitter } from "@libp2p/interface";
import { installFastEvents } from "../../src/node/fast_events.ts";
import { NODE_TEST, startLibp2pPair, withTimeout } from "../_helpers/mod.ts";

// The platform's event types are declared twice (Deno's and Node's): one local shape for both.
type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };
interface Target {
  addEventListener(type: string, listener: Listener, options?: AddEventListenerOptions): void;
  removeEventListener(type: string, listener: Listener, options?: EventListenerOptions): void;
  dispatchEvent(event: Event): boolean;
}

/** Runs one scenario on `target` and returns what the listeners saw, in order. */
function trace(target: Target): string[] {
  const seen: string[] = [];
  const a = (event: Event): void => void seen.push(`a:${event.type}`);
  const b = (event: Event): void => void seen.push(`b:${event.type}`);
  const object = { handleEvent: (event: Event) => void seen.push(`object:${event.type}`) };
  const late = (): void => void seen.push("late");
  const withAbortedSignal = (): void => void seen.push("with-aborted-signal");
  const removedDuringDispatch = (): void => void seen.push("removed-during-dispatch");
  const remover = (): void => {
    seen.push("remover");
    target.removeEventListener("x", removedDuringDispatch);
    target.addEventListener("x", late);
  };
  const controller = new AbortController();
  const aborted = AbortSignal.abort();

  target.addEventListener("x", a);
  target.addEventListener("x", a); // a duplicate: ignored
  target.addEventListener("x", a, { capture: true }); // another capture value: a second one
  target.addEventListener("x", object);
  target.addEventListener("x", remover);
  target.addEventListener("x", removedDuringDispatch);
  target.addEventListener("x", b, { once: true });
  target.addEventListener("x", withAbortedSignal, { signal: aborted }); // not added
  target.addEventListener("y", b, { signal: controller.signal });
  seen.push(`returned ${target.dispatchEvent(new Event("x"))}`);
  seen.push("--");
  seen.push(`returned ${target.dispatchEvent(new Event("x"))}`); // b was once; late is now in
  seen.push("--");
  target.dispatchEvent(new Event("y"));
  controller.abort();
  target.dispatchEvent(new Event("y")); // removed by its signal
  target.removeEventListener("x", a); // the non-capture one only
  seen.push("--");
  const cancelable = new Event("x", { cancelable: true });
  target.addEventListener("x", (event) => event.preventDefault());
  seen.push(`returned ${target.dispatchEvent(cancelable)}`);
  return seen;
}

/** Listener errors as the platform reports them: an `error` event on the global scope. */
function captureReportedErrors(): { errors: unknown[]; restore(): void } {
  const errors: unknown[] = [];
  const onError = (event: ErrorEvent): void => {
    event.preventDefault();
    errors.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  return { errors, restore: () => globalThis.removeEventListener("error", onError) };
}

// First in the file: nothing has switched this process's emitters yet.
Deno.test("fast events: an emitter that listened before the switch keeps its listeners", () => {
  const emitter = new TypedEventEmitter<
    { ping: CustomEvent<number>; quiet: CustomEvent<number> }
  >();
  const seen: string[] = [];
  const before = (event: CustomEvent<number>): void => void seen.push(`before ${event.detail}`);
  emitter.addEventListener("ping", before);
  installFastEvents();
  emitter.addEventListener("ping", (event) => void seen.push(`after ${event.detail}`));
  assert.equal(emitter.listenerCount("ping"), 2);
  emitter.safeDispatchEvent("ping", { detail: 1 });
  emitter.removeEventListener("ping", before);
  assert.equal(emitter.listenerCount("ping"), 1);
  emitter.safeDispatchEvent("ping", { detail: 2 });
  assert.deepEqual(seen, ["before 1", "after 1", "after 2"]);
  assert.equal(emitter.safeDispatchEvent("ping", { detail: 3 }), true);
  assert.equal(emitter.safeDispatchEvent("quiet", { detail: 4 }), true);
  assert.deepEqual(seen, ["before 1", "after 1", "after 2", "after 3"]);
});

Deno.test("fast events: the same scenario traces the same as the platform's EventTarget", () => {
  installFastEvents();
  const platform = trace(new EventTarget() as unknown as Target);
  const fast = trace(new TypedEventEmitter() as unknown as Target);
  assert.deepEqual(fast, platform);
  // What the trace must show, so the comparison cannot pass on two empty lists.
  assert.deepEqual(platform.slice(0, 7), [
    "a:x",
    "a:x",
    "object:x",
    "remover",
    "b:x",
    "returned true",
    "--",
  ]);
  assert.equal(platform.at(-1), "returned false");
});

Deno.test("fast events: a throwing listener is reported and the next one still runs", () => {
  installFastEvents();
  const reported = captureReportedErrors();
  try {
    const emitter = new TypedEventEmitter<{ x: Event }>();
    const seen: string[] = [];
    emitter.addEventListener("x", () => {
      throw new Error("listener failed");
    });
    emitter.addEventListener("x", () => void seen.push("second"));
    assert.equal(emitter.dispatchEvent(new Event("x")), true);
    assert.deepEqual(seen, ["second"]);
    assert.deepEqual(reported.errors.map((e) => (e as Error).message), ["listener failed"]);
  } finally {
    reported.restore();
  }
});

/** Echoes each stream's bytes back and closes it; resolves when `count` streams closed. */
function echoClosing(count: number): {
  handler: (stream: Stream) => void;
  allClosed: Promise<void>;
} {
  let closed = 0;
  let done!: () => void;
  const allClosed = new Promise<void>((resolve) => (done = resolve));
  return {
    handler(stream) {
      stream.addEventListener("message", (event) => stream.send(event.data));
      stream.addEventListener("remoteCloseWrite", () => void stream.close());
      stream.addEventListener("close", () => {
        if (++closed === count) done();
      }, { once: true });
    },
    allClosed,
  };
}

Deno.test({
  name: "fast events: a connection that carried 30 streams has none left open on either side",
  ...NODE_TEST,
  async fn() {
    const { server, client, stop } = await startLibp2pPair({ tuning: { events: "fast" } });
    const STREAMS = 30; // within the per-protocol default of 32 open streams
    const echo = echoClosing(STREAMS);
    try {
      await server.handle("/p2p-test/echo/1.0.0", echo.handler);
      const connection = await client.dial(server.getMultiaddrs()[0]!);
      const answers = await Promise.all(
        Array.from({ length: STREAMS }, async (_, i) => {
          const stream = await connection.newStream("/p2p-test/echo/1.0.0");
          const closed = new Promise<void>((resolve) =>
            stream.addEventListener("close", () => resolve(), { once: true })
          );
          let answer = "";
          stream.addEventListener("message", (event) => {
            answer += new TextDecoder().decode(event.data.subarray());
          });
          stream.send(new TextEncoder().encode(`request ${i}`));
          await stream.close();
          await closed;
          return answer;
        }),
      );
      assert.deepEqual(answers, Array.from({ length: STREAMS }, (_, i) => `request ${i}`));
      await withTimeout(echo.allClosed, 10_000, "the server's streams closing");
      const served = server.getConnections(client.peerId)[0];
      assert.equal(connection.streams.filter((s) => s.protocol?.includes("echo")).length, 0);
      assert.equal(served?.streams.filter((s) => s.protocol?.includes("echo")).length, 0);
    } finally {
      await stop();
    }
  },
});
