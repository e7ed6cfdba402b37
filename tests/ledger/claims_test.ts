// Entry claims read per client connection: an unchanged entry is parsed and verified once and
// its value shared (frozen, so no reader can change what the next one sees); a new text at the
// key is read anew, and the signed-entry rule still holds across the cache.
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { EntryClaims } from "../../src/ledger/claims.ts";
import { signEntry } from "../../src/ledger/signed_entry.ts";

async function setUp() {
  const key = await generateKeyPair("Ed25519");
  const owner = peerIdFromPrivateKey(key).toString();
  const ledger = new Map<string, string>();
  const claims = new EntryClaims({
    read: (_bucket, k) => ledger.get(k),
    keys: () => [...ledger.keys()],
    ownerState: (peer) => peer === owner ? "connected" : "unknown",
    now: () => 0,
  });
  const write = async (value: { PeerID: string } & Record<string, unknown>): Promise<void> => {
    ledger.set("web", JSON.stringify(await signEntry(key, "services", "web", value)));
  };
  return { owner, ledger, claims, write };
}

Deno.test("EntryClaims: reads of an unchanged entry share one frozen value", async () => {
  const { owner, claims, write } = await setUp();
  await write({ PeerID: owner, Multiaddrs: ["/ip4/10.0.0.1/tcp/4001"] });
  const first = claims.get("services", "web");
  const second = claims.get("services", "web");
  assert.equal(first?.signer, owner);
  assert.equal(second?.value, first?.value);
  const value = first?.value as { PeerID: string; Multiaddrs: string[] };
  assert.ok(Object.isFrozen(value) && Object.isFrozen(value.Multiaddrs));
  assert.throws(() => value.Multiaddrs.push("/ip4/6.6.6.6/tcp/1"), TypeError);
  const after = claims.get("services", "web")?.value as { Multiaddrs: string[] };
  assert.deepEqual(after.Multiaddrs, ["/ip4/10.0.0.1/tcp/4001"]);
});

Deno.test("EntryClaims: a new text at the key is read anew, a spoofed one still loses", async () => {
  const { owner, ledger, claims, write } = await setUp();
  await write({ PeerID: owner, Name: "v1" });
  assert.equal((claims.get("services", "web")?.value as { Name: string }).Name, "v1");
  await write({ PeerID: owner, Name: "v2" });
  assert.equal((claims.get("services", "web")?.value as { Name: string }).Name, "v2");
  // Another member overwrites it unsigned: readers keep the owner's entry while it is around.
  ledger.set("web", JSON.stringify({ PeerID: "12D3KooWspoofer", Name: "spoof" }));
  const read = claims.get("services", "web");
  assert.equal(read?.signer, owner);
  assert.equal((read?.value as { Name: string }).Name, "v2");
  ledger.delete("web");
  assert.equal(claims.get("services", "web")?.signer, owner); // a deletion does not displace it
});
