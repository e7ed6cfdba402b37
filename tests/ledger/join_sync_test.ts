import assert from "node:assert/strict";
import {
  JOIN_SYNC_MAX_SPREAD_MS,
  JOIN_SYNC_SPREAD_PER_PEER_MS,
  NEW_PEER_SYNC_DELAY_MS,
} from "../../src/ledger/constants.ts";
import { JoinSync, joinSyncDelayMs } from "../../src/ledger/join_sync.ts";
import { waitFor } from "../_helpers/wait.ts";

Deno.test("joinSyncDelayMs: the spread grows with the peers, up to its cap", () => {
  assert.equal(joinSyncDelayMs(0, 0), NEW_PEER_SYNC_DELAY_MS);
  assert.equal(joinSyncDelayMs(0, 0.5), NEW_PEER_SYNC_DELAY_MS + JOIN_SYNC_SPREAD_PER_PEER_MS / 2);
  assert.equal(
    joinSyncDelayMs(19, 0.5),
    NEW_PEER_SYNC_DELAY_MS + 19 * JOIN_SYNC_SPREAD_PER_PEER_MS / 2,
  );
  assert.equal(joinSyncDelayMs(10_000, 0.5), NEW_PEER_SYNC_DELAY_MS + JOIN_SYNC_MAX_SPREAD_MS / 2);
});

function joinSync(): { sync: JoinSync; calls: string[] } {
  const calls: string[] = [];
  const sync = new JoinSync({
    peerCount: () => 1,
    random: () => 0,
    sync: (peers) => calls.push(`sync ${peers.join(",")}`),
    quiet: () => calls.push("quiet"),
  });
  return { sync, calls };
}

Deno.test("JoinSync: one turn for joins close together, quiet when every newcomer holds the block", async () => {
  const { sync, calls } = joinSync();
  try {
    sync.peerJoined("W");
    sync.peerJoined("V");
    sync.peerHolds("W");
    await waitFor(() => calls.length === 1, { message: "the first turn" });
    assert.deepEqual(calls, ["sync V"], "V did not show it holds the block; W did");
    sync.peerJoined("W");
    sync.peerJoined("V");
    sync.peerHolds("V");
    sync.peerHolds("W");
    await waitFor(() => calls.length === 2, { message: "the second turn" });
    assert.deepEqual(calls, ["sync V", "quiet"]);
  } finally {
    sync.stop();
  }
});

Deno.test("JoinSync: a peer that showed it holds the current block needs nothing until it changes", async () => {
  const { sync, calls } = joinSync();
  try {
    sync.peerHolds("W");
    sync.peerJoined("W");
    sync.peerJoined("V");
    sync.peerHolds("V");
    await waitFor(() => calls.length === 1, { message: "the first turn" });
    assert.deepEqual(calls, ["quiet"]);
    sync.blockChanged();
    sync.peerJoined("W");
    await waitFor(() => calls.length === 2, { message: "the second turn" });
    assert.deepEqual(calls, ["quiet", "sync W"], "W showed an older block only");
  } finally {
    sync.stop();
  }
});

Deno.test("JoinSync: stop drops the pending rebroadcast", async () => {
  const { sync, calls } = joinSync();
  sync.peerJoined("W");
  sync.stop();
  // Deno's test sanitizer fails the test if the timer were still pending.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(calls, []);
});

Deno.test("JoinSync: a graft waits the debounce only, and brings a later turn forward", async () => {
  const calls: string[] = [];
  // Due halfway through the spread: timers fire in the order they are due, so a turn that
  // waited the spread would come after it.
  let halfway = false;
  const marker = setTimeout(() => halfway = true, JOIN_SYNC_MAX_SPREAD_MS / 2);
  const sync = new JoinSync({
    peerCount: () => 1_000, // the spread's cap
    random: () => 0.99,
    sync: (peers) => calls.push(`${halfway ? "late" : "sync"} ${peers.join(",")}`),
    quiet: () => calls.push("quiet"),
  });
  try {
    sync.peerJoined("V");
    sync.peerJoined("W", true);
    await waitFor(() => calls.length === 1, { message: "the turn" });
    assert.deepEqual(calls, ["sync V,W"], "one turn for both, at the graft's time");
  } finally {
    sync.stop();
    clearTimeout(marker);
  }
});
