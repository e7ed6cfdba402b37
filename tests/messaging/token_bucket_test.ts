import "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { RateLimiter } from "../../src/messaging/rate_limiter.ts";
import { TokenBucket } from "../../src/messaging/token_bucket.ts";

Deno.test("TokenBucket starts full and refuses past its burst", () => {
  let now = 1_000;
  const bucket = new TokenBucket({ burst: 3, perSecond: 2, now: () => now });
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  assert.equal(bucket.retryAfterMs(), 500);
  now += 499;
  assert.equal(bucket.take(), false);
  now += 1;
  assert.equal(bucket.take(), true);
});

Deno.test("TokenBucket refills at its rate up to its burst only", () => {
  let now = 0;
  const bucket = new TokenBucket({ burst: 2, perSecond: 10, now: () => now });
  bucket.take();
  bucket.take();
  now += 60_000;
  assert.equal(bucket.tokens, 2);
  assert.equal(bucket.take(2), true);
  assert.equal(bucket.has(), false);
});

Deno.test("TokenBucket ignores a clock that goes backwards", () => {
  let now = 10_000;
  const bucket = new TokenBucket({ burst: 1, perSecond: 1, now: () => now });
  bucket.take();
  now = 0;
  assert.equal(bucket.take(), false);
  now = 11_000;
  assert.equal(bucket.take(), true);
});

Deno.test("TokenBucket never refills with a zero rate, and says so", () => {
  const bucket = new TokenBucket({ burst: 1, perSecond: 0, now: () => 0 });
  assert.equal(bucket.take(), true);
  assert.equal(bucket.retryAfterMs(), Infinity);
  assert.equal(bucket.retryAfterMs(5), Infinity);
});

Deno.test("TokenBucket refuses invalid rates", () => {
  assert.throws(() => new TokenBucket({ burst: 0, perSecond: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ burst: 1, perSecond: -1 }), RangeError);
});

Deno.test("RateLimiter limits each peer on its own bucket", () => {
  let now = 0;
  const limiter = new RateLimiter({
    perPeer: { burst: 2, perSecond: 1 },
    global: false,
    now: () => now,
  });
  assert.equal(limiter.admit("a").allowed, true);
  assert.equal(limiter.admit("a").allowed, true);
  assert.deepEqual(limiter.admit("a"), { allowed: false, scope: "peer", retryAfterMs: 1000 });
  assert.equal(limiter.admit("b").allowed, true);
  now += 1000;
  assert.equal(limiter.admit("a").allowed, true);
});

Deno.test("RateLimiter limits all peers together, without taking a peer token on refusal", () => {
  let now = 0;
  const limiter = new RateLimiter({
    perPeer: { burst: 1, perSecond: 1 },
    global: { burst: 2, perSecond: 1 },
    now: () => now,
  });
  assert.equal(limiter.admit("a").allowed, true);
  assert.equal(limiter.admit("b").allowed, true);
  assert.deepEqual(limiter.admit("c"), { allowed: false, scope: "global", retryAfterMs: 1000 });
  now += 1000;
  // c's own bucket was not drained by the refusal.
  assert.equal(limiter.admit("c").allowed, true);
});

Deno.test("RateLimiter forgets the least recently seen peers beyond its bound", () => {
  const limiter = new RateLimiter({
    perPeer: { burst: 1, perSecond: 0 },
    global: false,
    maxPeers: 2,
    now: () => 0,
  });
  assert.equal(limiter.admit("a").allowed, true);
  assert.equal(limiter.admit("b").allowed, true);
  assert.equal(limiter.admit("a").allowed, false); // a is now the most recent
  assert.equal(limiter.admit("c").allowed, true); // evicts b
  assert.equal(limiter.admit("a").allowed, false);
  assert.equal(limiter.admit("b").allowed, true); // b starts over with a full bucket
});

Deno.test("RateLimiter with both limits off admits everything", () => {
  const limiter = new RateLimiter({ perPeer: false, global: false });
  for (let i = 0; i < 10_000; i++) assert.equal(limiter.admit("a").allowed, true);
});
