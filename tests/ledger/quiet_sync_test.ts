// The periodic rebroadcast is skipped when peers already rebroadcast this very block (Trickle):
// a settled network sends a few copies per interval, not one per node.
import assert from "node:assert/strict";
import { Ledger } from "../../src/ledger/ledger.ts";
import { SYNC_QUIET_AFTER } from "../../src/ledger/constants.ts";
import { waitFor } from "../_helpers/mod.ts";
import { FakeChannel, Wire } from "./_pair.ts";

/** Long against waitFor's 25 ms polling: a test acts well inside one round. */
const INTERVAL_MS = 250;

function startLedger(): { ledger: Ledger; channel: FakeChannel } {
  const channel = new FakeChannel("a", new Wire());
  // random() = 1 - ε: every wait is the whole interval.
  const ledger = new Ledger({ channel, syncIntervalMs: INTERVAL_MS, random: () => 0.999 });
  ledger.start();
  return { ledger, channel };
}

Deno.test("Ledger: a node that heard its own block twice skips its next periodic rebroadcast", async () => {
  const { ledger, channel } = startLedger();
  try {
    await waitFor(() => channel.sent.length === 1, { message: "the first rebroadcast" });
    for (let i = 0; i < SYNC_QUIET_AFTER; i++) {
      channel.deliver(structuredClone(ledger.block), `peer${i}`);
    }
    await waitFor(() => ledger.stats.quiet === 1, { message: "a quiet round" });
    assert.equal(channel.sent.length, 1, "it rebroadcast a block its peers had just sent");
    // Nothing heard in the next round: it rebroadcasts again.
    await waitFor(() => channel.sent.length === 2, { message: "the next rebroadcast" });
    assert.equal(ledger.stats.quiet, 1);
  } finally {
    ledger.stop();
  }
});

Deno.test("Ledger: one copy heard, or copies of a block it has since replaced, do not silence it", async () => {
  const { ledger, channel } = startLedger();
  try {
    await waitFor(() => channel.sent.length === 1, { message: "the first rebroadcast" });
    channel.deliver(structuredClone(ledger.block), "peer0");
    await waitFor(() => channel.sent.length === 2, { message: "a rebroadcast after one copy" });
    for (let i = 0; i < SYNC_QUIET_AFTER; i++) {
      channel.deliver(structuredClone(ledger.block), `peer${i}`);
    }
    // A write replaces the block the copies were of (and publishes the new one).
    await ledger.put("b", "k", 1);
    assert.equal(channel.sent.length, 3);
    await waitFor(() => channel.sent.length === 4, { message: "the rebroadcast of the new block" });
    assert.equal(ledger.stats.quiet, 0);
    assert.equal(channel.sent.at(-1)?.Index, ledger.block.Index);
  } finally {
    ledger.stop();
  }
});

Deno.test("Ledger: copies of its block sent to it alone do not silence its periodic rebroadcast", async () => {
  const { ledger, channel } = startLedger();
  try {
    await waitFor(() => channel.sent.length === 1, { message: "the first rebroadcast" });
    // Peers that saw this node join sent it their block: that says nothing of the others.
    for (let i = 0; i < SYNC_QUIET_AFTER + 1; i++) {
      channel.deliver(structuredClone(ledger.block), `peer${i}`, true);
    }
    await waitFor(() => channel.sent.length === 2, { message: "the next rebroadcast" });
    assert.equal(ledger.stats.quiet, 0);
  } finally {
    ledger.stop();
  }
});
