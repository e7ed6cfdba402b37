import assert from "node:assert/strict";
import type { Ledger } from "../../src/ledger/ledger.ts";
import { startHeartbeat } from "../../src/network/heartbeat.ts";
import { waitFor } from "../_helpers/wait.ts";

/** A ledger that counts the heartbeats written to it. */
function countingLedger(): { ledger: Ledger; beats: () => number } {
  let beats = 0;
  const ledger = {
    put: (bucket: string) => {
      assert.equal(bucket, "healthcheck");
      beats++;
      return Promise.resolve();
    },
  } as unknown as Ledger;
  return { ledger, beats: () => beats };
}

const elapsed = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("heartbeats of nodes started together fall at their own random phase", async () => {
  const early = countingLedger();
  const late = countingLedger();
  const intervalMs = 400;
  const stops = [
    startHeartbeat(early.ledger, "early", { now: Date.now, random: () => 0, intervalMs }),
    startHeartbeat(late.ledger, "late", { now: Date.now, random: () => 0.99, intervalMs }),
  ];
  try {
    assert.deepEqual([early.beats(), late.beats()], [1, 1], "both beat at once on start");
    await waitFor(() => early.beats() === 2, { message: "the early node's second beat" });
    assert.equal(late.beats(), 1, "the late node's second beat is most of a period away");
    await waitFor(() => late.beats() === 2, { message: "the late node's second beat" });
  } finally {
    for (const stop of stops) stop();
  }
  const after = [early.beats(), late.beats()];
  // Timers fire in deadline order: a beat still scheduled would come before this one.
  await elapsed(2 * intervalMs);
  assert.deepEqual([early.beats(), late.beats()], after, "no beat after stop");
});
