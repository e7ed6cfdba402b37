// The balancer's client bookkeeping without sockets: waiting clients hold no tunnel and the
// longest-waiting goes first when too many wait; tunnels are capped; idle ones are closed.
import assert from "node:assert/strict";
import { ClientSlots } from "../../src/federated/client_slots.ts";
import { waitFor } from "../_helpers/wait.ts";

/** Stand-ins for connections: ClientSlots only uses them as keys. */
function conns(n: number): Deno.Conn[] {
  return Array.from({ length: n }, () => ({}) as Deno.Conn);
}

Deno.test("ClientSlots: past maxWaiting the longest-waiting client is closed, never a tunnelled one", () => {
  const closed: [Deno.Conn, string][] = [];
  const slots = new ClientSlots({
    maxTunnelled: 2,
    maxWaiting: 2,
    idleTimeoutMs: 60_000,
    close: (conn, why) => void closed.push([conn, why]),
  });
  const [a, b, c, d] = conns(4) as [Deno.Conn, Deno.Conn, Deno.Conn, Deno.Conn];
  try {
    slots.wait(a);
    slots.wait(b);
    assert.ok(slots.tunnel(b)); // b spoke: it holds a tunnel, it no longer waits
    slots.wait(c);
    slots.wait(d); // three would wait: a, the longest-waiting, goes
    assert.deepEqual(closed, [[a, "evicted"]]);
    assert.equal(slots.waiting, 2);
    assert.equal(slots.tunnelled, 1);
    assert.ok(slots.tunnel(c));
    assert.ok(!slots.tunnel(d), "over maxTunnelled");
    assert.deepEqual(slots.waitingConns(), [d]);
  } finally {
    for (const conn of slots.all()) slots.release(conn);
  }
});

Deno.test("ClientSlots: a client silent for the idle timeout is closed; bytes postpone it", async () => {
  const closed: [Deno.Conn, string][] = [];
  const slots = new ClientSlots({
    maxTunnelled: 4,
    maxWaiting: 4,
    idleTimeoutMs: 500,
    close: (conn, why) => void closed.push([conn, why]),
  });
  const [silent, later, busy] = conns(3) as [Deno.Conn, Deno.Conn, Deno.Conn];
  slots.wait(silent);
  slots.wait(busy);
  assert.ok(slots.tunnel(busy));
  const touching = setInterval(() => slots.touch(busy), 20);
  try {
    await waitFor(() => closed.length > 0, { timeoutMs: 2_000, message: "the idle close" });
    assert.deepEqual(closed, [[silent, "idle"]]);
    // A client that arrives now is closed one idle timeout later; the busy one, there since
    // the start, outlives it.
    slots.wait(later);
    await waitFor(() => closed.length > 1, { timeoutMs: 2_000, message: "the second idle close" });
    assert.deepEqual(closed, [[silent, "idle"], [later, "idle"]]);
    assert.equal(slots.tunnelled, 1);
  } finally {
    clearInterval(touching);
    for (const conn of slots.all()) slots.release(conn);
  }
});
