// Circuit relay v2 between nodes on loopback: a member reserves on a relay given with
// relayPeers, advertises `<relay>/p2p-circuit`, and another member reaches it through the
// relay only (membership, ping, service streams, the ledger); a node with another token is
// refused a reservation; the relay's limits reach clients in the right units; a circuit
// whose destination reads nothing holds a few MiB at the relay, not everything sent to it.
import { loopbackNodeOptions, NODE_TEST, waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Connection, Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2pNode, type P2PLibp2p } from "../../src/node/create_node.ts";
import { startNetwork } from "../../src/network/network.ts";
import { generateTokenConfig } from "../../src/token/token.ts";
import { RELAY_HOP_PROTOCOL, RELAY_STOP_PROTOCOL } from "../../src/node/constants.ts";

function address(node: P2PLibp2p): string {
  const addr = node.getMultiaddrs().map(String).find((a) => a.startsWith("/ip4/127.0.0.1/"));
  assert.ok(addr !== undefined);
  return addr;
}

function circuitOf(node: P2PLibp2p): string | undefined {
  return node.getMultiaddrs().map(String).find((a) => a.includes("/p2p-circuit"));
}

Deno.test({
  name: "relay: a member reserves on a static relay and is reached through it only",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const relay = await createLibp2pNode(loopbackNodeOptions(token));
    await relay.start();
    const stopped: P2PLibp2p[] = [relay];
    try {
      // a: no relay service of its own, reachable through the relay only (its TCP address is
      // never given to b).
      const a = await createLibp2pNode(
        loopbackNodeOptions(token, { relayService: false, relayPeers: [address(relay)] }),
      );
      stopped.push(a);
      await a.start();
      const started = performance.now();
      const circuit = await waitFor(() => circuitOf(a), { message: "a's relayed address" });
      const reservationMs = performance.now() - started;
      assert.deepEqual(a.services.relayClient.reservations().map((r) => r.relay), [
        relay.peerId.toString(),
      ]);
      assert.equal(relay.services.relay?.reservations.size, 1);

      const b = await createLibp2pNode(loopbackNodeOptions(token, { relayService: false }));
      stopped.push(b);
      await b.start();
      const dialStarted = performance.now();
      const connection: Connection = await b.dial(multiaddr(circuit));
      const dialMs = performance.now() - dialStarted;
      assert.ok(connection.remoteAddr.toString().includes("/p2p-circuit"));
      // edgevpn's limits, in the right units: 30 min (not 30 min read as seconds).
      // edgevpn's 1 GiB per direction is 2 GiB in a js relay's two-way budget; the wire
      // carries at most 2^31 - 1 (see relay_server.ts). The handshake used some already.
      const bytes = connection.limits?.bytes ?? 0n;
      assert.ok(bytes > 2n ** 31n - 64n * 1024n && bytes < 2n ** 31n, `limit of ${bytes} bytes`);
      const seconds = connection.limits?.seconds ?? 0;
      assert.ok(seconds > 29 * 60 && seconds <= 30 * 60, `limit of ${seconds} s`);
      // Membership is proved over the relayed connection, ping works on it.
      assert.equal(
        await b.services.membership.waitForMember(
          a.peerId.toString(),
          AbortSignal.timeout(5_000),
          connection,
        ),
        true,
      );
      assert.ok(await b.services.ping.ping(a.peerId) >= 0);
      console.log(
        `reservation ${reservationMs.toFixed(0)} ms, relayed dial ${dialMs.toFixed(0)} ms`,
      );
    } finally {
      for (const node of stopped.reverse()) await node.stop();
    }
  },
});

Deno.test({
  name: "relay: a peer with another token cannot reserve",
  ...NODE_TEST,
  async fn() {
    const relay = await createLibp2pNode(loopbackNodeOptions(generateTokenConfig()));
    await relay.start();
    const stranger = await createLibp2pNode(
      loopbackNodeOptions(generateTokenConfig(), {
        relayService: false,
        relayPeers: [address(relay)],
      }),
    );
    await stranger.start();
    try {
      // The stranger connects, is challenged, fails the proof: the relay refuses at once.
      await waitFor(() => (relay.services.relay?.refused ?? 0) > 0, {
        timeoutMs: 20_000,
        message: "the relay to refuse the stranger",
      });
      assert.equal(relay.services.relay?.reservations.size, 0);
      assert.equal(circuitOf(stranger), undefined);
      assert.deepEqual(stranger.services.relayClient.reservations(), []);
    } finally {
      await stranger.stop();
      await relay.stop();
    }
  },
});

Deno.test({
  name: "relay: the ledger, ping and membership run over a relayed connection",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const relay = await startNetwork(loopbackNodeOptions(token));
    const relayAddr = `${address(relay.node)}`;
    const a = await startNetwork(
      loopbackNodeOptions(token, { relayService: false, relayPeers: [relayAddr] }),
    );
    const b = await startNetwork(
      loopbackNodeOptions(token, { relayService: false, bootstrapPeers: [relayAddr] }),
    );
    try {
      const circuit = await waitFor(() => circuitOf(a.node), { message: "a's relayed address" });
      await b.node.dial(multiaddr(circuit));
      await a.ledger.put("relayed", "from-a", { ok: true });
      await waitFor(() => b.ledger.has("relayed", "from-a"), {
        message: "a's write on b",
      });
    } finally {
      await b.stop();
      await a.stop();
      await relay.stop();
    }
  },
});

Deno.test({
  name: "relay: a node keeps reservations on 2 relays and takes another when one goes",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const relays = await Promise.all(
      [0, 1, 2].map(() => createLibp2pNode(loopbackNodeOptions(token))),
    );
    for (const relay of relays) await relay.start();
    const client = await createLibp2pNode(
      loopbackNodeOptions(token, { relayService: false, relayPeers: relays.map(address) }),
    );
    await client.start();
    const held = () => client.services.relayClient.reservations().map((r) => r.relay).sort();
    try {
      await waitFor(() => held().length === 2, { message: "two reservations" });
      const first = held();
      const gone = relays.find((r) => r.peerId.toString() === first[0])!;
      await gone.stop();
      await waitFor(() => held().length === 2 && !held().includes(first[0]!), {
        message: "a reservation on the third relay",
      });
      assert.equal(
        client.getMultiaddrs().map(String).filter((a) => a.includes("/p2p-circuit")).length >= 2,
        true,
      );
    } finally {
      await client.stop();
      for (const relay of relays) await relay.stop();
    }
  },
});

Deno.test({
  name: "WebSockets: a node listens on /tcp/N/ws and another dials it there",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const server = await createLibp2pNode(
      loopbackNodeOptions(token, { listen: ["/ip4/127.0.0.1/tcp/0/ws"] }),
    );
    await server.start();
    const client = await createLibp2pNode(loopbackNodeOptions(token));
    await client.start();
    try {
      const ws = server.getMultiaddrs().map(String).find((a) => a.includes("/ws/"));
      assert.ok(ws !== undefined, server.getMultiaddrs().join(" "));
      const connection = await client.dial(multiaddr(ws));
      assert.match(connection.remoteAddr.toString(), /\/ws\//);
      assert.ok(await client.services.ping.ping(server.peerId) >= 0);
    } finally {
      await client.stop();
      await server.stop();
    }
  },
});

Deno.test({
  name: "relay: messaging (request and answer) runs over a relayed connection",
  ...NODE_TEST,
  async fn() {
    const { createNode } = await import("../../src/messaging/node.ts");
    const token = generateTokenConfig();
    const loopback = { listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, dht: false };
    const relay = createNode({ token, ...loopback, bootstrapPeers: [] });
    await relay.start();
    const relayAddr = relay.addresses().find((a) => a.startsWith("/ip4/127.0.0.1/"))!;
    const server = createNode({
      token,
      ...loopback,
      bootstrapPeers: [relayAddr],
      relayService: false,
      relayPeers: [relayAddr],
    });
    server.handle("echo", ({ payload }) => payload);
    await server.start();
    try {
      const circuit = await waitFor(
        () => server.addresses().find((a) => a.includes("/p2p-circuit")),
        { message: "the server's relayed address" },
      );
      // The client knows the server by its relayed address only.
      const client = createNode({ token, ...loopback, bootstrapPeers: [relayAddr, circuit] });
      await client.start();
      try {
        assert.deepEqual(
          await waitFor(
            () => client.request(server.peerId, "echo", { over: "relay" }).catch(() => false),
            { timeoutMs: 15_000, intervalMs: 250, message: "an answer over the relay" },
          ),
          { over: "relay" },
        );
      } finally {
        await client.stop();
      }
    } finally {
      await server.stop();
      await relay.stop();
    }
  },
});

/** A length-prefixed circuit relay v2 `HopMessage{type: CONNECT, peer: {id}}`. */
function hopConnect(target: Uint8Array): Uint8Array {
  const peer = [0x0a, target.byteLength, ...target];
  const message = [0x08, 0x01, 0x12, peer.length, ...peer];
  return Uint8Array.from([message.length, ...message]);
}

/** Resolves with the stream's next message, or `undefined` after `ms`. */
function nextMessage(stream: Stream, ms: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    stream.addEventListener("message", (event) => {
      clearTimeout(timer);
      resolve(event.data.subarray());
    }, { once: true });
  });
}

Deno.test({
  name:
    "relay: a member holding both ends of a circuit, one never reading, cannot make the relay buffer more than a few MiB",
  ...NODE_TEST,
  async fn() {
    const FLOOD_BYTES = 64 * 1024 * 1024;
    const token = generateTokenConfig();
    const relay = await createLibp2pNode(loopbackNodeOptions(token));
    await relay.start();
    const stopped: P2PLibp2p[] = [relay];
    try {
      // The destination reserves on the relay, accepts the circuit and never reads it.
      const sink = await createLibp2pNode(
        loopbackNodeOptions(token, { relayService: false, relayPeers: [address(relay)] }),
      );
      stopped.push(sink);
      await sink.start();
      await waitFor(() => circuitOf(sink), { message: "the destination's reservation" });
      await sink.unhandle(RELAY_STOP_PROTOCOL);
      await sink.handle(RELAY_STOP_PROTOCOL, (stream) => {
        stream.addEventListener("message", () => {
          stream.send(Uint8Array.of(4, 0x08, 0x01, 0x20, 100)); // StopMessage STATUS OK
          stream.pause();
        }, { once: true });
      }, { runOnLimitedConnection: true });

      // The source opens the circuit by hand and writes as fast as the relay takes it.
      const source = await createLibp2pNode(loopbackNodeOptions(token, { relayService: false }));
      stopped.push(source);
      await source.start();
      const connection = await source.dial(multiaddr(address(relay)));
      assert.ok(
        await relay.services.membership.waitForMember(
          source.peerId.toString(),
          AbortSignal.timeout(5_000),
        ),
      );
      const hop = await connection.newStream(RELAY_HOP_PROTOCOL);
      const answer = nextMessage(hop, 5_000);
      hop.send(hopConnect(sink.peerId.toMultihash().bytes));
      const status = await answer;
      assert.ok(status !== undefined, "the relay answers the circuit request");
      assert.equal(status.at(-1), 100, "the relay opens the circuit (status OK)");

      const chunk = new Uint8Array(64 * 1024);
      let sent = 0;
      while (sent < FLOOD_BYTES && hop.status === "open") {
        sent += chunk.byteLength;
        if (hop.send(chunk)) continue;
        const drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 3_000);
          hop.addEventListener("drain", () => {
            clearTimeout(timer);
            resolve(true);
          }, { once: true });
        });
        if (!drained) break;
      }
      console.log(`the relay took ${(sent / 2 ** 20).toFixed(1)} MiB before the source stalled`);
      assert.equal(hop.status, "open", "the circuit stays up");
      assert.ok(
        sent <= 16 * 1024 * 1024,
        `the relay took ${sent} bytes for a destination that reads nothing`,
      );
    } finally {
      for (const node of stopped.reverse()) await node.stop();
    }
  },
});
