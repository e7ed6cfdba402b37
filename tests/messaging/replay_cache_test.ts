import "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { ReplayCache } from "../../src/messaging/replay_cache.ts";

Deno.test("ReplayCache accepts a nonce once", () => {
  const now = 50_000;
  const cache = new ReplayCache({ maxAgeMs: 30_000, now: () => now });
  assert.equal(cache.check("a:1", now), "fresh");
  assert.equal(cache.check("a:1", now), "replay");
  assert.equal(cache.check("b:1", now), "fresh");
});

Deno.test("ReplayCache refuses timestamps outside the window, both ways", () => {
  const now = 100_000;
  const cache = new ReplayCache({ maxAgeMs: 30_000, now: () => now });
  assert.equal(cache.check("a:1", now - 30_000), "fresh");
  assert.equal(cache.check("a:2", now - 30_001), "stale");
  assert.equal(cache.check("a:3", now + 30_000), "fresh");
  assert.equal(cache.check("a:4", now + 30_001), "stale");
});

Deno.test("ReplayCache forgets nonces once their timestamp is stale anyway", () => {
  let now = 100_000;
  const cache = new ReplayCache({ maxAgeMs: 1_000, now: () => now });
  cache.check("a:1", now);
  cache.check("a:2", now);
  assert.equal(cache.size, 2);
  now += 1_001;
  assert.equal(cache.check("a:3", now), "fresh");
  assert.equal(cache.size, 1);
  // The forgotten nonce cannot come back: its timestamp is stale.
  assert.equal(cache.check("a:1", now - 1_001), "stale");
});

Deno.test("ReplayCache stays bounded and never lets a replay through an eviction", () => {
  const now = 100_000;
  const cache = new ReplayCache({ maxAgeMs: 30_000, maxEntries: 3, now: () => now });
  for (let i = 0; i < 10; i++) assert.equal(cache.check(`a:${i}`, now - 1000 + i), "fresh");
  assert.equal(cache.size, 3);
  // a:0 … a:6 were evicted: replaying them is refused (stale by the floor), not accepted.
  for (let i = 0; i < 7; i++) assert.notEqual(cache.check(`a:${i}`, now - 1000 + i), "fresh");
  // The kept ones are replays.
  assert.equal(cache.check("a:9", now - 1000 + 9), "replay");
  // Newer messages still pass.
  assert.equal(cache.check("a:new", now), "fresh");
});
