// Ledger edges against edgevpn v0.34.0: topic and seal-key rotation (edgevpn builds a new
// gossipsub instance at every rotation), a Go block above 4 MiB, and Go block hashes checked
// with our blockChecksum.
import { getJson, stopAll, waitFor } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type Block, blockChecksum } from "../../../src/ledger/block.ts";
import { encodeToken, generateTokenConfig } from "../../../src/token/token.ts";
import {
  GOSSIP_MS,
  goValue,
  INTEROP_TEST,
  ourPut,
  ourValue,
  type Pair,
  startPair,
  until,
  untilTopicPeers,
} from "./_fixtures.ts";
import { startGoPeer } from "./_go_peer.ts";

const MiB = 1024 * 1024;

interface NodeInfo {
  ledger: { dropped: Record<string, number> };
}

/** The key windows of the rotation tests, in seconds. */
const ROTATION_S = 8;

/** A pair on a token whose key and topic rotate every `ROTATION_S`. */
function startRotatingPair(): Promise<Pair> {
  return startPair(encodeToken(generateTokenConfig({ otpInterval: ROTATION_S })));
}

/** The key window now, with its fraction elapsed (window 12.25: a quarter into window 12). */
function windowsNow(): number {
  return Date.now() / 1000 / ROTATION_S;
}

Deno.test({
  name: "interop ledger: writes both ways in three consecutive key windows (8 s rotation)",
  ...INTEROP_TEST,
  async fn() {
    const pair = await startRotatingPair();
    const { go, ours } = pair;
    const windowNow = () => Math.floor(windowsNow());
    try {
      const windows: number[] = [];
      for (let round = 0; round < 3; round++) {
        if (round > 0) {
          // The next window: a new topic and seal key on both sides.
          const previous = windows[round - 1]!;
          await waitFor(() => windowNow() > previous, {
            timeoutMs: (ROTATION_S + 2) * 1000,
            message: "the next key window",
          });
          await untilTopicPeers(go, [ours.start.peerId]);
        }
        windows.push(windowNow());
        await go.command("put", { bucket: "rotation", key: `go-${round}`, value: round });
        await until(
          `Go write ${round} on our node`,
          () => ourValue(ours, "rotation", `go-${round}`),
          round,
        );
        await ourPut(ours, "rotation", `p2p-${round}`, round);
        // A publish that misses the Go node's new gossipsub instance (edgevpn makes one per
        // window) reaches it with a later full-block rebroadcast (every 10 s): on a loaded
        // machine that can take a few windows of 8 s.
        await until(
          `our write ${round} on the Go node`,
          () => goValue(go, "rotation", `p2p-${round}`),
          round,
          45_000,
        );
      }
      assert.ok(windows[2]! - windows[0]! >= 2, `crossed two rotations: windows ${windows}`);
    } finally {
      await pair.stop();
    }
  },
});

Deno.test({
  name:
    "interop ledger: a write a quarter into a key window reaches the Go node in that window, four windows in a row",
  ...INTEROP_TEST,
  async fn() {
    // edgevpn replaces its gossipsub instance at every rotation and closes the old one's
    // streams; a writer of ours left on the old instance fed nothing until the next rotation.
    const pair = await startRotatingPair();
    const { go, ours } = pair;
    try {
      let window = Math.floor(windowsNow());
      for (let round = 0; round < 4; round++) {
        // A quarter in, the Go node has its new instance (it checks its key every second).
        await waitFor(() => windowsNow() >= window + 1.25, {
          timeoutMs: 2 * ROTATION_S * 1000,
          message: `a quarter into window ${window + 1}`,
        });
        window = Math.floor(windowsNow());
        await ourPut(ours, "quarter", `p2p-${round}`, round);
        const leftMs = (window + 1 - windowsNow()) * ROTATION_S * 1000;
        await until(
          `our write ${round} on the Go node`,
          () => goValue(go, "quarter", `p2p-${round}`),
          round,
          leftMs,
        );
        assert.equal(Math.floor(windowsNow()), window, `write ${round} arrived in its own window`);
      }
    } finally {
      await pair.stop();
    }
  },
});

Deno.test({
  name:
    "interop ledger: a Go block of 4–8 MiB (token max_message_size 8 MiB) is adopted by our node",
  ...INTEROP_TEST,
  async fn() {
    const token = { ...generateTokenConfig(), maxMessageSize: 8 * MiB };
    const pair = await startPair(encodeToken(token));
    const { go, ours } = pair;
    try {
      // Random alphanumeric text barely compresses: ~4.4 MiB of it seals to ~6.6 MiB of gossip.
      const { envelopeBytes } = await go.command<{ envelopeBytes: number }>("put-random", {
        bucket: "big",
        key: "blob",
        bytes: Math.floor(4.4 * MiB),
      });
      assert.ok(envelopeBytes > 4 * MiB && envelopeBytes < 8 * MiB, `envelope ${envelopeBytes}`);
      const goJson =
        (await go.command<{ json: string }>("get", { bucket: "big", key: "blob" })).json;
      const expected = JSON.parse(goJson) as string;
      const dropped = async () => (await getJson(ours.api, "/api/node") as NodeInfo).ledger.dropped;
      await waitFor(async () => (await ourValue(ours, "big", "blob")) === expected, {
        timeoutMs: GOSSIP_MS,
        intervalMs: 250,
        message: `the ${envelopeBytes}-byte Go block on our node`,
      }).catch(async (err) => {
        throw new Error(`${err.message}; dropped: ${JSON.stringify(await dropped())}`);
      });
      assert.deepEqual(await dropped(), {});
      // Every block carries the whole state: our writes now send a block that large, and the
      // Go node accepts it (up to the token's limit, as Go does).
      await ourPut(ours, "big", "ours", "small");
      await until("our write on the Go node", () => goValue(go, "big", "ours"), "small");
      assert.equal(
        JSON.parse(
          (await go.command<{ json: string }>("get", {
            bucket: "big",
            key: "blob",
          })).json,
        ),
        expected,
        "the big value travelled back intact",
      );
      await go.command("delete", { bucket: "big", key: "blob" });
      await until("the deletion on our node", () => ourValue(ours, "big", "blob"), undefined);
    } finally {
      await pair.stop();
    }
  },
});

Deno.test({
  name: "interop ledger: Go block hashes verify with blockChecksum, genesis included",
  ...INTEROP_TEST,
  async fn() {
    const token = encodeToken(generateTokenConfig());
    const alone = await startGoPeer({ token });
    let pair: Pair | undefined;
    try {
      // Alone, the Go peer holds its genesis block, or block 1 (its first healthcheck) on top.
      const first = await alone.command<Block>("block");
      const genesisHash = first.Index === 0 ? first.Hash : first.PrevHash;
      assert.ok(first.Index <= 1, `index ${first.Index}`);
      // Go hashes its genesis block before filling it in: the checksum of the zero block.
      assert.equal(
        genesisHash,
        blockChecksum({ Index: 0, Timestamp: "", Storage: {}, PrevHash: "" }),
      );
      assert.equal(genesisHash, createHash("sha256").update("0map[]").digest("hex"));
      if (first.Index === 1) assert.equal(blockChecksum(first), first.Hash);

      pair = await startPair(token, { started: alone });
      const { go, ours } = pair;
      await go.command("put", {
        bucket: "hash",
        key: "k",
        value: { text: "<&> é 🙂", n: [1.5, -2] },
      });
      await ourPut(ours, "hash", "ours", "x");
      await until("our write on the Go node", () => goValue(go, "hash", "ours"), "x");
      await go.command("put", { bucket: "hash", key: "after", value: true });
      const block = await go.command<Block>("block");
      assert.ok(block.Storage.hash?.ours !== undefined && block.Storage.hash.after !== undefined);
      assert.equal(blockChecksum(block), block.Hash);
    } finally {
      await (pair?.stop() ?? stopAll([alone.process]));
    }
  },
});
