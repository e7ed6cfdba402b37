// The ledger against edgevpn v0.34.0's real code: a Go peer (tests/interop/go) and a `p2p node`
// on one token, loopback, DHT off, our node bootstrapped to the Go peer's address.
import { getJson } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Block } from "../../../src/ledger/block.ts";
import { generateToken } from "../../../src/token/token.ts";
import {
  GOSSIP_MS,
  goValue,
  INTEROP_TEST,
  ourDelete,
  ourPut,
  ourValue,
  startPair,
  until,
} from "./_fixtures.ts";

Deno.test({
  name: "interop ledger: values both ways, deletions, concurrent writers converge",
  ...INTEROP_TEST,
  async fn(t) {
    const pair = await startPair(generateToken());
    const { go, ours } = pair;
    try {
      await t.step("a Go write is read on our node, ours on the Go node", async () => {
        await go.command("put", { bucket: "interop", key: "from-go", value: { n: 1, s: "go" } });
        await ourPut(ours, "interop", "from-p2p", { n: 2, s: "p2p", list: [1, "two"] });
        await until("the Go value on our node", () => ourValue(ours, "interop", "from-go"), {
          n: 1,
          s: "go",
        });
        await until("our value on the Go node", () => goValue(go, "interop", "from-p2p"), {
          n: 2,
          s: "p2p",
          list: [1, "two"],
        });
      });

      await t.step("deletions travel both ways", async () => {
        // The writer deletes its own key.
        await go.command("delete", { bucket: "interop", key: "from-go" });
        await until(
          "the Go deletion on our node",
          () => ourValue(ours, "interop", "from-go"),
          undefined,
        );
        await ourDelete(ours, "interop", "from-p2p");
        await until(
          "our deletion on the Go node",
          () => goValue(go, "interop", "from-p2p"),
          undefined,
        );
        // A key written once by Go, deleted by us.
        await go.command("put", { bucket: "interop", key: "go-once", value: "x" });
        await until("the Go key on our node", () => ourValue(ours, "interop", "go-once"), "x");
        await ourDelete(ours, "interop", "go-once");
        await until("our deletion of a Go key", () => goValue(go, "interop", "go-once"), undefined);
      });

      await t.step(
        "a key our node owns comes back after a Go deletion (owners re-announce, as in edgevpn)",
        async () => {
          await ourPut(ours, "interop", "owned", "mine");
          await until(
            "the owned key on the Go node",
            () => goValue(go, "interop", "owned"),
            "mine",
          );
          // Go's Delete writes a block without the key; a later block holding it again can only
          // come from our node re-announcing its entry.
          const { index } = await go.command<{ index: number }>("delete", {
            bucket: "interop",
            key: "owned",
          });
          await until("the owned key back on the Go node", async () => {
            const block = await go.command<Block>("block");
            return block.Index > index && block.Storage.interop?.owned;
          }, JSON.stringify("mine"));
          assert.equal(await ourValue(ours, "interop", "owned"), "mine");
        },
      );

      await t.step("20 keys written at once on each side converge to the same bucket", async () => {
        const keys = Array.from({ length: 20 }, (_, i) => i);
        // Go's writers are LocalAI-style announce loops; ours keep their own entries announced.
        await Promise.all([
          ...keys.map((i) =>
            go.command("announce", { bucket: "race", key: `go-${i}`, value: { i, by: "go" } })
          ),
          ...keys.map((i) => ourPut(ours, "race", `p2p-${i}`, { i, by: "p2p" })),
        ]);
        const expected = Object.fromEntries([
          ...keys.map((i) => [`go-${i}`, JSON.stringify({ i, by: "go" })]),
          ...keys.map((i) => [`p2p-${i}`, JSON.stringify({ i, by: "p2p" })]),
        ].sort(([a], [b]) => (a! < b! ? -1 : 1)));
        const sorted = (bucket: Record<string, string> | undefined) =>
          Object.fromEntries(Object.entries(bucket ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
        await until(
          "all 40 keys on the Go node",
          async () => {
            const { storage } = await go.command<
              { storage: Record<string, Record<string, string>> }
            >(
              "list",
              { bucket: "race" },
            );
            return sorted(storage.race);
          },
          expected,
          3 * GOSSIP_MS,
        );
        await until(
          "all 40 keys on our node",
          async () => {
            const storage = await getJson(ours.api, "/api/ledger") as Record<
              string,
              Record<string, string>
            >;
            return sorted(storage.race);
          },
          expected,
          3 * GOSSIP_MS,
        );
      });
    } finally {
      await pair.stop();
    }
  },
});
