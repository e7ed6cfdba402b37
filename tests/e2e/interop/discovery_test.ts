// Discovery against edgevpn v0.34.0: the DHT rendezvous (neither side is given the other's
// address: both bootstrap to a third, loopback DHT node that holds another token, so it cannot
// relay their ledger), and `--private` mode refusing the Go peer at the handshake.
import {
  getJson,
  loopbackFlags,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
} from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { CID } from "multiformats/cid";
import { createLibp2pNode } from "../../../src/node/create_node.ts";
import { rendezvousAt, rendezvousCid } from "../../../src/token/derive.ts";
import { decodeToken, generateToken, generateTokenConfig } from "../../../src/token/token.ts";
import { goValue, INTEROP_TEST, ourPut, ourValue, until } from "./_fixtures.ts";
import { type GoPeer, GoPeerError, startGoPeer } from "./_go_peer.ts";

/**
 * The providers of the token's rendezvous CIDs (current and previous window), looked up by an
 * in-process DHT client bootstrapped to `seed` until it has found two.
 */
async function rendezvousProviders(seed: string, token: string): Promise<Set<string>> {
  const client = await createLibp2pNode({
    token: generateTokenConfig(), // another network: a bystander querying the DHT
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrapPeers: [seed],
    mdns: false,
  });
  await client.start();
  const found = new Set<string>();
  try {
    await client.dial(multiaddr(seed));
    const decoded = decodeToken(token);
    await waitFor(async () => {
      const now = Date.now() / 1000;
      for (const atS of [now, now - decoded.otp.dht.interval]) {
        const cid = CID.parse(rendezvousCid(rendezvousAt(decoded, atS)));
        const signal = AbortSignal.timeout(5_000);
        for await (const provider of client.contentRouting.findProviders(cid, { signal })) {
          found.add(provider.id.toString());
        }
      }
      return found.size >= 2;
    }, { timeoutMs: RENDEZVOUS_MS, intervalMs: 500, message: "two rendezvous providers" });
    return found;
  } finally {
    await client.stop();
  }
}

/** edgevpn's DHT cycle is ≤ 10 s (±50 %) after a first one at 0 and ~5 s; ours ≤ 10 s. */
const RENDEZVOUS_MS = 60_000;

Deno.test({
  name:
    "interop discovery: with the DHT on, a Go peer and p2p meet by the token's rendezvous alone",
  ...INTEROP_TEST,
  async fn() {
    const token = generateToken();
    let seed: RunningNode | undefined;
    let ours: RunningNode | undefined;
    let go: GoPeer | undefined;
    try {
      // A plain DHT server on loopback, in another network: a stand-in for a bootstrap node.
      seed = await spawnNode(["node", ...loopbackFlags()], { P2P_TOKEN: generateToken() });
      [go, ours] = await Promise.all([
        startGoPeer({ token, dht: true, bootstrap: [seed.addr] }),
        spawnNode(["node", ...loopbackFlags([seed.addr])], { P2P_TOKEN: token }),
      ]);
      const goPeer = go;
      const ourId = ours.start.peerId;
      await until(
        "a connection between the Go peer and ours",
        async () => {
          const { connected } = await goPeer.command<{ connected: string[] }>("peers");
          return connected.includes(ourId);
        },
        true,
        RENDEZVOUS_MS,
      );
      // The ledger flows between them (the seed has another token: it cannot carry it).
      await goPeer.command("put", { bucket: "dht", key: "go", value: "found you" });
      await until("the Go value on our node", () => ourValue(ours!, "dht", "go"), "found you");
      await ourPut(ours, "dht", "p2p", "found you too");
      await until("our value on the Go node", () => goValue(goPeer, "dht", "p2p"), "found you too");
      const seedLedger = await getJson(seed.api, "/api/ledger") as Record<string, unknown>;
      assert.equal(seedLedger.dht, undefined, "the seed never read the members' ledger");
      // What made them meet: both provide the token's rendezvous CID on the DHT (DHT traffic
      // alone also connects peers, but only a shared rendezvous carries the token's network).
      const providers = await rendezvousProviders(seed.addr, token);
      assert.ok(
        providers.has(goPeer.peerId),
        `the Go peer provides the rendezvous: ${[...providers]}`,
      );
      assert.ok(providers.has(ourId), "our node provides the rendezvous");
    } finally {
      await stopAll([ours, go?.process, seed]);
    }
  },
});

Deno.test({
  name: "interop discovery: a --private p2p node refuses the Go peer at the handshake",
  ...INTEROP_TEST,
  async fn() {
    const token = generateToken();
    let open: RunningNode | undefined;
    let closed: RunningNode | undefined;
    let go: GoPeer | undefined;
    try {
      [go, open, closed] = await Promise.all([
        startGoPeer({ token }),
        spawnNode(["node", "--no-dht", ...loopbackFlags()], { P2P_TOKEN: token }),
        spawnNode(["node", "--no-dht", "--private", ...loopbackFlags()], { P2P_TOKEN: token }),
      ]);
      // The same token without --private: the Go peer connects.
      assert.deepEqual(await go.command("dial", { addr: open.addr }), {
        peerId: open.start.peerId,
      });
      // With --private the noise prologue is derived from the token: edgevpn cannot match it.
      await assert.rejects(
        go.command("dial", { addr: closed.addr }, 15_000),
        (err: unknown) =>
          err instanceof GoPeerError &&
          /failed to negotiate security protocol/.test(err.message),
      );
      const { connected } = await go.command<{ connected: string[] }>("peers");
      assert.ok(!connected.includes(closed.start.peerId), "no connection to the private node");
      assert.ok(connected.includes(open.start.peerId));
    } finally {
      await stopAll([open, closed, go?.process]);
    }
  },
});
