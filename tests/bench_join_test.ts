// The join bench's windows stay clear of the old nodes' heartbeat rounds.
import assert from "node:assert/strict";
import { waitForQuietWindow } from "../bench/join.ts";

Deno.test("join bench: a window starts once the heartbeat round of nodes started together is over", () => {
  // Nodes started over 2 s from t = 1000; rounds at 1000 + k·30 s, over by 2 s + 4 s later.
  assert.equal(waitForQuietWindow(1_000, 1_000, 3_000, 8_000), 6_000);
  assert.equal(waitForQuietWindow(7_000, 1_000, 3_000, 8_000), 0);
  assert.equal(waitForQuietWindow(23_000, 1_000, 3_000, 8_000), 0); // ends at 31 s: before the round
  assert.equal(waitForQuietWindow(24_000, 1_000, 3_000, 8_000), 13_000); // would meet the round
  assert.equal(waitForQuietWindow(61_500, 1_000, 3_000, 8_000), 5_500); // inside the third round
});

Deno.test("join bench: a window longer than the quiet part of a period is refused", () => {
  assert.throws(() => waitForQuietWindow(0, 0, 10_000, 20_000), /does not fit/);
});
