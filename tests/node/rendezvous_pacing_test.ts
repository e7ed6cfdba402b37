import assert from "node:assert/strict";
import { RendezvousPacing } from "../../src/node/rendezvous_pacing.ts";

const top = () => 1; // the jitter at its ceiling: the delays are the backoff's bounds

Deno.test("rendezvous pacing: cycles without a connection retry at 1, 2, 4, 8 s, then the interval", () => {
  const pacing = new RendezvousPacing({ intervalMs: 10_000, hasBootstrapPeers: true });
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    assert.equal(pacing.startCycle(0), true, "alone: the DHT steps are skipped");
    delays.push(pacing.nextDelayMs(top));
  }
  assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  assert.equal(pacing.startCycle(1), false);
  assert.equal(pacing.nextDelayMs(top), 10_000, "connected: the interval again");
});

Deno.test("rendezvous pacing: a first connection ends the spell once", () => {
  const pacing = new RendezvousPacing({ intervalMs: 10_000, hasBootstrapPeers: true });
  assert.equal(pacing.connected(), false, "nothing to end before a lonely cycle");
  pacing.startCycle(0);
  assert.equal(pacing.connected(), true, "the next cycle should come soon");
  assert.equal(pacing.connected(), false, "and only once");
  assert.equal(pacing.nextDelayMs(top), 10_000);
});

Deno.test("rendezvous pacing: without bootstrap peers a cycle is never alone", () => {
  const pacing = new RendezvousPacing({ intervalMs: 10_000, hasBootstrapPeers: false });
  assert.equal(pacing.startCycle(0), false, "the DHT steps wait for a first peer instead");
  assert.equal(pacing.nextDelayMs(top), 10_000);
});

Deno.test("rendezvous pacing: provides again on more than doubled connections, new addresses or age", () => {
  const pacing = new RendezvousPacing({ intervalMs: 10_000, hasBootstrapPeers: true });
  const first = { atMs: 0, connections: 2, addresses: "a" };
  assert.equal(pacing.addressesChanged("a"), false, "no provide yet");
  assert.equal(pacing.shouldProvide("x", first), true);
  pacing.provided("x", first);
  assert.equal(pacing.shouldProvide("x", { ...first, connections: 4 }), false);
  assert.equal(pacing.shouldProvide("x", { ...first, connections: 5 }), true);
  assert.equal(pacing.shouldProvide("x", { ...first, addresses: "b" }), true);
  assert.equal(pacing.addressesChanged("b"), true);
  assert.equal(pacing.shouldProvide("x", { ...first, atMs: 5 * 60_000 }), true);
  pacing.provided("y", first);
  assert.deepEqual(pacing.forgetRotatedOut(["y", "z"]), ["x"]);
  assert.equal(pacing.shouldProvide("x", first), true, "forgotten: provided afresh");
});
