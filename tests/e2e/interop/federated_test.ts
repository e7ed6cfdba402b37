// Workers against edgevpn v0.34.0 and LocalAI's worker format: a Go peer registered the way
// LocalAI's ExposeService does (NodeData in the `federated` pool) behind `p2p federated`, with
// failover to a `p2p worker` and 503 when none is left; and a `p2p worker` found and tunnelled
// to by the Go side the way LocalAI's ServiceDiscoverer does (the `worker` pool, as for
// llama.cpp RPC). Loopback, DHT off, bootstrap by address.
import {
  getJson,
  loopbackFlags,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
} from "../../_helpers/mod.ts";
import {
  type ClientResult,
  type FederatedView,
  fetchThrough,
  freePort,
  HOST,
  tally,
  TestBackend,
} from "../_fixtures.ts";
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";
import { GO_USERS_MS, GOSSIP_MS, goValue, INTEROP_TEST } from "./_fixtures.ts";
import { type GoPeer, startGoPeer } from "./_go_peer.ts";

/** Waits (bounded) until the balancer's online workers are exactly `ids`. */
async function untilOnline(federated: RunningNode, ids: string[]): Promise<void> {
  const want = [...ids].sort().join(",");
  await waitFor(async () => {
    const view = await getJson(federated.api, "/api/federated") as FederatedView;
    return view.workers.filter((w) => w.online).map((w) => w.id).sort().join(",") === want;
  }, { timeoutMs: GOSSIP_MS, intervalMs: 100, message: `online workers ${want} at the balancer` });
}

/** `count` requests one after the other; every result kept. */
async function requests(address: string, count: number): Promise<ClientResult[]> {
  const results: ClientResult[] = [];
  for (let i = 0; i < count; i++) results.push(await fetchThrough(address, 1024));
  return results;
}

Deno.test({
  name:
    "interop federated: a Go LocalAI worker behind p2p federated answers 100 requests; failover to a p2p worker; 503 when none",
  ...INTEROP_TEST,
  async fn(t) {
    const token = generateToken();
    const goBackend = new TestBackend("go-backend");
    const p2pBackend = new TestBackend("p2p-backend");
    const port = freePort();
    const address = `127.0.0.1:${port}`;
    let go: GoPeer | undefined;
    const nodes: RunningNode[] = [];
    try {
      go = await startGoPeer({ token });
      const federated = await spawnNode(
        ["federated", "--listen", address, "--no-dht", ...loopbackFlags([go.addr])],
        { P2P_TOKEN: token },
      );
      nodes.push(federated);

      await t.step("100 requests, all answered by the Go worker's backend", async () => {
        const { id } = await go!.command<{ id: string }>("worker", {
          bucket: "federated",
          target: goBackend.address,
        });
        assert.match(id, new RegExp(`^${HOST}-[A-Za-z]{10}$`), "LocalAI's worker ID");
        await untilOnline(federated, [id]);
        // edgevpn resets streams from peers it does not see in `users` yet.
        await waitFor(async () => await goValue(go!, "users", federated.start.peerId), {
          timeoutMs: GOSSIP_MS,
          message: "the balancer in the Go peer's users",
        });
        const started = performance.now();
        const results = await requests(address, 100);
        const ms = performance.now() - started;
        assert.deepEqual(tally(results), { "ok:go-backend": 100 });
        console.log(`100 requests through the Go worker: ${(ms / 100).toFixed(1)} ms each`);
      });

      await t.step("kill -9 of the Go worker: requests fail over to a p2p worker", async () => {
        const worker = await spawnNode(
          [
            "worker",
            "--target",
            p2pBackend.address,
            "--name",
            "p2p-w",
            "--no-dht",
            ...loopbackFlags([federated.addr]),
          ],
          { P2P_TOKEN: token },
        );
        nodes.push(worker);
        const goId = (await getJson(federated.api, "/api/federated") as FederatedView).workers[0]!
          .id;
        await untilOnline(federated, [goId, `${HOST}-p2p-w`]);
        await go!.stop("SIGKILL");
        const results = await requests(address, 20);
        assert.deepEqual(tally(results), { "ok:p2p-backend": 20 });
        await untilOnline(federated, [`${HOST}-p2p-w`]);
      });

      await t.step("no worker left: 503", async () => {
        await stopAll([nodes.pop()]);
        await untilOnline(federated, []);
        const results = await requests(address, 5);
        assert.deepEqual(tally(results), { unavailable: 5 });
      });
    } finally {
      await stopAll([...nodes, go?.process]);
      await Promise.all([goBackend.stop(), p2pBackend.stop()]);
    }
  },
});

interface Discovered {
  nodes: {
    Key: string;
    Online: boolean;
    Node: { Name: string; ID: string; TunnelAddress: string; ServiceID: string; LastSeen: string };
  }[];
}

Deno.test({
  name:
    "interop federated: a p2p worker in the `worker` pool is parsed, judged online and tunnelled to by LocalAI's discovery code",
  ...INTEROP_TEST,
  async fn() {
    const token = generateToken();
    const backend = new TestBackend("rpc-backend");
    let go: GoPeer | undefined;
    let worker: RunningNode | undefined;
    try {
      go = await startGoPeer({ token });
      worker = await spawnNode(
        [
          "worker",
          "--pool",
          "worker",
          "--target",
          backend.address,
          "--name",
          "rpc1",
          "--no-dht",
          ...loopbackFlags([go.addr]),
        ],
        { P2P_TOKEN: token },
      );
      // One pass of LocalAI's discoveryTunnels + ensureService (allocate = true, as for
      // LLAMACPP_GRPC_SERVERS), repeated until our worker shows up online with a tunnel.
      const found = await waitFor(async () => {
        const { nodes } = await go!.command<Discovered>("discover", {
          bucket: "worker",
          allocate: true,
        });
        const node = nodes.find((n) => n.Key === "rpc1");
        return node?.Online && node.Node.TunnelAddress !== "" ? node : undefined;
      }, { timeoutMs: GOSSIP_MS, intervalMs: 200, message: "our worker in the Go discovery" });
      assert.equal(found.Node.Name, "rpc1");
      assert.equal(found.Node.ID, `${HOST}-rpc1`);
      assert.equal(found.Node.ServiceID, "rpc1");
      // Our worker has to see the Go tunnel in `users` before it accepts its streams.
      await waitFor(() => getJson(worker!.api, `/api/ledger/users/${go!.peerId}`), {
        timeoutMs: GO_USERS_MS,
        message: "the Go peer in users at our worker",
      });
      const results = [];
      for (let i = 0; i < 10; i++) results.push(await fetchThrough(found.Node.TunnelAddress, 4096));
      assert.deepEqual(tally(results), { "ok:rpc-backend": 10 });
    } finally {
      await stopAll([worker, go?.process]);
      await backend.stop();
    }
  },
});
