// A member cannot take over another member's records, and a peer that never proved it holds
// the token is never routed to or served, whatever a member writes about it.
import { NODE_TEST, waitFor } from "../_helpers/mod.ts";
import { startBackend } from "../_helpers/tcp.ts";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import assert from "node:assert/strict";
import type { Network } from "../../src/network/network.ts";
import { goRfc3339Nano } from "../../src/services/records.ts";
import { exposeService } from "../../src/services/expose.ts";
import { connectService } from "../../src/services/connect.ts";
import { TUNNEL_DIALER } from "../../src/services/tunnel.ts";
import { generateTokenConfig } from "../../src/token/token.ts";
import {
  type Backend,
  type FedCluster,
  loopbackAddr,
  nameVia,
  startFedCluster,
  startLoopbackNetwork,
  startNamedBackend,
  untilOnline,
  WORKER_HOST,
} from "../federated/_fixtures.ts";

const REQUESTS = 58;

/** Runs `write` every 100 ms until the returned function is called. */
function keepWriting(write: () => Promise<void>): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      await write().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

/** `count` requests through `address`: how many each backend name answered. */
async function answersVia(address: string, count: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const name = await nameVia(address).catch(() => "(failed)");
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** A member of the cluster's network serving a backend named `name` as service `service`. */
async function memberServing(
  fed: FedCluster,
  name: string,
  service: string,
  backends: Backend[],
): Promise<Network> {
  const backend = startNamedBackend(name);
  backends.push(backend);
  const network = await startLoopbackNetwork(fed.token, [fed.seedAddr]);
  await exposeService(network, { target: backend.address, service });
  return network;
}

Deno.test({
  name: "security: a member that keeps writing services/web = itself gets 0 connect requests",
  ...NODE_TEST,
  async fn() {
    const fed = await startFedCluster([]);
    const backends: Backend[] = [];
    const networks: Network[] = [];
    let stopSpoofing = (): Promise<void> => Promise.resolve();
    try {
      networks.push(await memberServing(fed, "real", "web", backends));
      const spoofer = await memberServing(fed, "spoof", "decoy", backends);
      networks.push(spoofer);
      const client = await connectService(fed.seed, { service: "web" });
      assert.equal(await nameVia(client.address), "real");
      // Unsigned (as a LocalAI node writes) and signed by the spoofer's own key, in turn.
      let signed = false;
      stopSpoofing = keepWriting(async () => {
        const record = { PeerID: spoofer.peerId.toString(), Name: "web" };
        signed = !signed;
        const value = signed ? await spoofer.sign("services", "web", record) : record;
        await spoofer.ledger.put("services", "web", value);
      });
      await waitFor(
        () =>
          (fed.seed.ledger.get("services", "web") as { PeerID?: string })?.PeerID ===
            spoofer.peerId.toString(),
        { message: "the spoofed record to reach the client's ledger" },
      );
      const counts = await answersVia(client.address, REQUESTS);
      console.log(`connect answers while spoofed: ${JSON.stringify(counts)}`);
      assert.deepEqual(counts, { real: REQUESTS });
      assert.equal(backends[1]!.accepted, 0, "the spoofer's backend got no connection");
      await client.stop();
    } finally {
      await stopSpoofing();
      await Promise.allSettled(networks.map((n) => n.stop()));
      await fed.stop();
      await Promise.allSettled(backends.map((b) => b.close()));
    }
  },
});

Deno.test({
  name: "security: a member that overwrites a worker's pool entry diverts 0 balancer requests",
  ...NODE_TEST,
  async fn() {
    const fed = await startFedCluster(["alpha"]);
    const backends: Backend[] = [];
    const networks: Network[] = [];
    let stopSpoofing = (): Promise<void> => Promise.resolve();
    try {
      const spoofer = await memberServing(fed, "spoof", "decoy", backends);
      networks.push(spoofer);
      const server = await fed.startServer();
      await untilOnline(server, [`${WORKER_HOST}-alpha`]);
      assert.equal(await nameVia(server.address), "alpha");
      let signed = false;
      stopSpoofing = keepWriting(async () => {
        const entry = {
          Name: "alpha",
          ID: `${WORKER_HOST}-alpha`,
          TunnelAddress: "",
          ServiceID: "decoy",
          LastSeen: goRfc3339Nano(new Date()),
        };
        signed = !signed;
        const value = signed ? await spoofer.sign("federated", "alpha", entry) : entry;
        await spoofer.ledger.put("federated", "alpha", value);
      });
      await waitFor(
        () =>
          (fed.seed.ledger.get("federated", "alpha") as { ServiceID?: string })?.ServiceID ===
            "decoy",
        { message: "the spoofed entry to reach the balancer's ledger" },
      );
      const counts = await answersVia(server.address, REQUESTS);
      console.log(`balancer answers while spoofed: ${JSON.stringify(counts)}`);
      assert.deepEqual(counts, { alpha: REQUESTS });
      assert.equal(backends[0]!.accepted, 0, "the spoofer's backend got no connection");
    } finally {
      await stopSpoofing();
      await Promise.allSettled(networks.map((n) => n.stop()));
      await fed.stop();
      await Promise.allSettled(backends.map((b) => b.close()));
    }
  },
});

Deno.test({
  name: "security: an outsider a member writes into services, a pool and users gets 0 bytes",
  ...NODE_TEST,
  async fn() {
    const fed = await startFedCluster(["alpha"]);
    const backends: Backend[] = [];
    let outsider: Network | undefined;
    try {
      // Another network's node, connected to ours (anyone can open a connection).
      const outsiderBackend = startNamedBackend("outsider");
      backends.push(outsiderBackend);
      outsider = await startLoopbackNetwork(generateTokenConfig(), [fed.seedAddr]);
      await exposeService(outsider, { target: outsiderBackend.address, service: "ghost" });
      await outsider.node.dial(fed.workers[0]!.network.node.getMultiaddrs()[0]!);
      const id = outsider.peerId.toString();
      // A member (the alpha worker's node) writes the outsider everywhere routing looks.
      const member = fed.workers[0]!.network;
      await member.ledger.put("services", "ghost", { PeerID: id, Name: "ghost" });
      await member.ledger.put("federated", "ghost", {
        Name: "ghost",
        ID: "elsewhere-ghost",
        TunnelAddress: "",
        ServiceID: "",
        LastSeen: goRfc3339Nano(new Date()),
        Multiaddrs: [loopbackAddr(outsider)],
      });
      await member.ledger.put("users", id, { PeerID: id, Timestamp: "now" });
      await waitFor(() => fed.seed.ledger.has("federated", "ghost"), { message: "the entries" });

      const server = await fed.startServer();
      await untilOnline(server, [`${WORKER_HOST}-alpha`]);
      const counts = await answersVia(server.address, REQUESTS);
      console.log(`balancer answers with an outsider in the pool: ${JSON.stringify(counts)}`);
      assert.deepEqual(counts, { alpha: REQUESTS });
      const ghost = server.view.workers().find((w) => w.name === "ghost");
      assert.equal(ghost?.offlineReason, "unproven");

      const client = await connectService(fed.seed, { service: "ghost", waitMs: 2_000 });
      assert.equal(await nameVia(client.address, 5_000).catch(() => "(refused)"), "(refused)");
      await client.stop();

      // In users, the outsider still cannot open a tunnel to a member's service.
      const alpha = fed.workers[0]!;
      const before = alpha.backend.accepted;
      const stream = await outsider.shared(TUNNEL_DIALER).openStream({
        peerId: alpha.network.peerId.toString(),
        multiaddrs: alpha.network.node.getMultiaddrs().map(String),
      });
      stream.send(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const received = await new Promise<number>((resolve) => {
        let bytes = 0;
        stream.addEventListener("message", (event) => void (bytes += event.data.byteLength));
        stream.addEventListener("close", () => resolve(bytes), { once: true });
      });
      assert.equal(received, 0, "the outsider's tunnel carried nothing");
      assert.equal(alpha.backend.accepted, before, "alpha's backend saw no connection");
      assert.equal(outsiderBackend.accepted, 0, "no client byte reached the outsider");
    } finally {
      await outsider?.stop();
      await fed.stop();
      await Promise.allSettled(backends.map((b) => b.close()));
    }
  },
});

Deno.test({
  name: "security: addresses a member writes for another peer are never dialled",
  ...NODE_TEST,
  async fn() {
    const fed = await startFedCluster(["alpha"]);
    // A host:port the attacker wants balancers to hammer.
    const victim = startBackend(async (conn) => void await conn.read(new Uint8Array(1)));
    try {
      const server = await fed.startServer();
      await untilOnline(server, [`${WORKER_HOST}-alpha`]);
      const member = await startLoopbackNetwork(fed.token, [fed.seedAddr]);
      try {
        // A peer nobody runs, "served" at the victim's address, in entries written by a member.
        const ghost = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString();
        await member.ledger.put("services", "decoy", { PeerID: ghost, Name: "decoy" });
        await member.ledger.put("federated", "decoy", {
          Name: "decoy",
          ID: "elsewhere-decoy",
          TunnelAddress: "",
          ServiceID: "",
          LastSeen: goRfc3339Nano(new Date()),
          Multiaddrs: [`/ip4/127.0.0.1/tcp/${victim.port}/p2p/${ghost}`],
        });
        await waitFor(() => server.view.workers().some((w) => w.name === "decoy"), {
          message: "the decoy in the balancer's view",
        });
        // Balancers probe their workers every second: long enough for several rounds.
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        assert.equal(victim.accepted, 0, "the victim's address was dialled");
        assert.deepEqual(await answersVia(server.address, 5), { alpha: 5 });
      } finally {
        await member.stop();
      }
    } finally {
      await fed.stop();
      await victim.close();
    }
  },
});

Deno.test({
  name: "security: 101 entries naming one worker cost one ping each second; it stays online",
  ...NODE_TEST,
  async fn() {
    const fed = await startFedCluster(["alpha"]);
    try {
      const server = await fed.startServer();
      await untilOnline(server, [`${WORKER_HOST}-alpha`]);
      const member = await startLoopbackNetwork(fed.token, [fed.seedAddr]);
      try {
        // Unsigned entries, as a LocalAI node writes them, all served by alpha's service.
        const storage = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [
          `fake${i}`,
          JSON.stringify({
            Name: `fake${i}`,
            ID: `elsewhere-fake${i}`,
            TunnelAddress: "",
            ServiceID: "alpha",
            LastSeen: goRfc3339Nano(new Date()),
          }),
        ]));
        for (const [key, json] of Object.entries(storage)) {
          await member.ledger.put("federated", key, JSON.parse(json));
        }
        await waitFor(() => server.view.workers().length === 102, { message: "101 entries" });
        // Every entry is the same peer: each is online with it, none starves the others.
        await waitFor(() => server.view.online().length === 102, { message: "all online" });
        const counts = await answersVia(server.address, REQUESTS);
        assert.deepEqual(counts, { alpha: REQUESTS });
        assert.equal(server.view.online().length, 102, "alpha never left the pool");
      } finally {
        await member.stop();
      }
    } finally {
      await fed.stop();
    }
  },
});
