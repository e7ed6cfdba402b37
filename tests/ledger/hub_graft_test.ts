import assert from "node:assert/strict";
import type { GossipSub } from "@libp2p/gossipsub";
import { genesisBlock, nextBlock, withValue } from "../../src/ledger/block.ts";
import { GRAFT_SYNC_WINDOW_MS } from "../../src/ledger/constants.ts";
import { LedgerHub } from "../../src/ledger/hub.ts";
import { generateTokenConfig } from "../../src/token/token.ts";

/** The part of gossipsub the hub uses; publishes reach no one. */
class SilentGossipSub extends EventTarget {
  readonly topicValidators = new Map<string, unknown>();
  subscribe(_topic: string): void {}
  unsubscribe(_topic: string): void {}
  publish(_topic: string, _data: Uint8Array): Promise<{ recipients: never[] }> {
    return Promise.resolve({ recipients: [] });
  }
  graft(topic: string): void {
    this.dispatchEvent(
      new CustomEvent("gossipsub:graft", {
        detail: { peerId: "12D3KooWpeer", topic, direction: "inbound" },
      }),
    );
  }
}

Deno.test("LedgerHub: a peer grafted right after a new block passed is a join", async () => {
  const pubsub = new SilentGossipSub();
  let now = Date.parse("2026-12-05T10:00:00Z");
  const hub = new LedgerHub({
    pubsub: pubsub as unknown as GossipSub,
    token: generateTokenConfig(),
    maxMessageBytes: 1024 * 1024,
    now: () => now,
  });
  let syncs = 0;
  hub.onPeerJoin((peer, grafted) => {
    assert.equal(peer, "12D3KooWpeer");
    assert.equal(grafted, true);
    syncs++;
  });
  hub.start();
  try {
    const topic = hub.topics[0]!;
    // Nothing passed yet, a graft on another topic, and a graft after the window: no resync.
    pubsub.graft(topic);
    const block = nextBlock(
      genesisBlock(new Date(now)),
      withValue({}, "b", "k", "1"),
      new Date(now),
    );
    await hub.publish(block);
    pubsub.graft("another-topic");
    now += GRAFT_SYNC_WINDOW_MS + 1;
    pubsub.graft(topic);
    assert.equal(syncs, 0, "no rebroadcast for a graft with no new block in the window");

    // Rebroadcasting the same block does not make it new again.
    await hub.publish(block);
    pubsub.graft(topic);
    assert.equal(syncs, 0, "the same block again is not a new block");

    // A new block, then grafts within the window: the join handlers run for each (the
    // ledger's JoinSync debounces them).
    const next = nextBlock(block, withValue(block.Storage, "b", "k", "2"), new Date(now));
    await hub.publish(next);
    now += GRAFT_SYNC_WINDOW_MS;
    pubsub.graft(topic);
    pubsub.graft(topic);
    assert.equal(syncs, 2, "each graft in the window is a join");
  } finally {
    hub.stop();
  }
});
