// Strangers (peers without the token) cannot exhaust a node's memory with gossip frames, have
// their junk forwarded to members, or keep members out by holding handshake or connection slots.
import {
  getJson,
  loopbackFlags,
  NODE_TEST,
  type RunningNode,
  sampleOf,
  scrapeMetrics,
  spawnNode,
  stopAll,
  waitFor,
} from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import net from "node:net";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2pNode, type P2PLibp2p } from "../../../src/node/create_node.ts";
import { topicAt } from "../../../src/token/derive.ts";
import { encodeToken, generateTokenConfig } from "../../../src/token/token.ts";
import { startCluster } from "../../services/_fixtures.ts";
import { rssMiB } from "../../../bench/lib/proc.ts";

/** An in-process node of another network: a stranger to the nodes under test. */
async function stranger(): Promise<P2PLibp2p> {
  const node = await createLibp2pNode({
    token: generateTokenConfig(),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrapPeers: [],
    mdns: false,
    dht: false,
  });
  await node.start();
  return node;
}

/** Sends a gossipsub frame header announcing `bytes`, then all but the last byte of it. */
async function sendHeldFrame(node: P2PLibp2p, target: string, bytes: number): Promise<void> {
  const stream = await node.dialProtocol(multiaddr(target), "/meshsub/1.1.0");
  const header: number[] = [];
  for (let n = bytes;; n = Math.floor(n / 128)) {
    if (n < 128) {
      header.push(n);
      break;
    }
    header.push((n & 0x7f) | 0x80);
  }
  stream.send(Uint8Array.from(header));
  const chunk = new Uint8Array(64 * 1024);
  for (let sent = 0; sent < bytes - 1 && stream.writeStatus === "writable";) {
    const part = chunk.subarray(0, Math.min(chunk.byteLength, bytes - 1 - sent));
    sent += part.byteLength;
    if (!stream.send(part)) {
      await new Promise<void>((resolve) => {
        stream.addEventListener("drain", () => resolve(), { once: true });
        stream.addEventListener("close", () => resolve(), { once: true });
      });
    }
  }
}

/** A member process that bootstraps to `seed`: resolves once both hold each other's heartbeat. */
async function memberJoins(seed: RunningNode, token: string): Promise<[RunningNode, number]> {
  const started = performance.now();
  const member = await spawnNode(["node", ...loopbackFlags([seed.addr])], { P2P_TOKEN: token });
  await waitFor(async () => {
    const [mine, theirs] = await Promise.all([
      getJson(member.api, `/api/ledger/healthcheck/${seed.start.peerId}`),
      getJson(seed.api, `/api/ledger/healthcheck/${member.start.peerId}`),
    ]);
    return mine !== undefined && theirs !== undefined;
  }, { timeoutMs: 15_000, message: "the new member and the seed to share their ledger" });
  return [member, performance.now() - started];
}

/** The value of the `/metrics` sample `name` with exactly `labels`; it must be there. */
async function metricValue(
  api: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const sample = sampleOf((await scrapeMetrics(api)).samples, name, labels);
  assert.ok(sample !== undefined, `${name} ${JSON.stringify(labels)} not in /metrics`);
  return sample.value;
}

/** Resident MiB of `pid` once it stops falling: the lowest of `samples` readings 250 ms apart. */
async function settledRssMiB(pid: number, samples: number): Promise<number> {
  let lowest = rssMiB(pid);
  for (let i = 1; i < samples; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    lowest = Math.min(lowest, rssMiB(pid));
  }
  return lowest;
}

Deno.test({
  name:
    "security: 120 strangers holding 20 MiB gossip frames make a node hold less than 56 MiB (peak under 160)",
  ...NODE_TEST,
  async fn() {
    const STRANGERS = 120;
    const token = encodeToken(generateTokenConfig());
    const processes: RunningNode[] = [];
    const strangers: P2PLibp2p[] = [];
    try {
      const seed = await spawnNode(["node", ...loopbackFlags()], { P2P_TOKEN: token });
      processes.push(seed);
      const pid = seed.process.child.pid;
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // settle after start-up
      const idle = rssMiB(pid);
      for (let i = 0; i < STRANGERS; i++) {
        strangers.push(await stranger());
        await strangers[i]!.dial(multiaddr(seed.addr));
      }
      // What the connections cost anyway (bounded by --max-connections); frames come on top.
      const before = await settledRssMiB(pid, 4);
      const floods = strangers.map((s) =>
        sendHeldFrame(s, seed.addr, 20 * 1024 * 1024).catch(() => {})
      );
      let peak = before;
      const until = Date.now() + 8_000;
      while (Date.now() < until) {
        peak = Math.max(peak, rssMiB(pid));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // What an operator sees: one frame holds its 20 MiB of the 32 MiB budget, 16 wait for
      // room, the streams of the others were reset.
      assert.equal(await metricValue(seed.api, "p2p_stranger_frames_waiting"), 16);
      assert.equal(
        await metricValue(seed.api, "p2p_stranger_frame_bytes", { state: "reserved" }),
        20 * 1024 * 1024,
      );
      assert.equal(
        await metricValue(seed.api, "p2p_strangers_refused_total", { outcome: "frame_busy" }),
        STRANGERS - 1 - 16,
      );
      // Members still join while the strangers hold their frames.
      const [member, joinMs] = await memberJoins(seed, token);
      processes.push(member);
      peak = Math.max(peak, rssMiB(pid));
      // What stays while the frames are held: the budget (32 MiB) and the 256 KiB yamux
      // windows of the 16 streams that may wait for room (the others are reset), which can pin
      // twice that in read buffers; not more with more strangers. The peak adds the buffers
      // the bytes came in, until a collection (the node's trimmer asks for one once quiet),
      // among them what each stranger could send before its stream was reset (its window).
      const held = await settledRssMiB(pid, 8);
      console.log(
        `RSS idle ${idle.toFixed(0)}, ${STRANGERS} strangers connected ${
          before.toFixed(0)
        }, frames held ${held.toFixed(0)} (peak ${peak.toFixed(0)}) MiB; a member joined in ${
          joinMs.toFixed(0)
        } ms`,
      );
      assert.ok(
        held - before < 56,
        `frames held grew the node by ${(held - before).toFixed(0)} MiB`,
      );
      assert.ok(
        peak - before < 160,
        `frames grew the node by ${(peak - before).toFixed(0)} MiB at peak`,
      );
      void floods; // held until the strangers stop
    } finally {
      await Promise.allSettled(strangers.map((s) => s.stop()));
      await stopAll(processes);
    }
  },
});

Deno.test({
  name: "security: junk a stranger publishes on the ledger topic is not forwarded to members",
  ...NODE_TEST,
  async fn() {
    const cluster = await startCluster(2);
    let outsider: P2PLibp2p | undefined;
    try {
      const [seed, member] = cluster.networks as [
        typeof cluster.networks[0],
        typeof cluster.networks[0],
      ];
      outsider = await stranger();
      await outsider.dial(seed.node.getMultiaddrs()[0]!);
      // A hostile node ignores the rules: it treats the seed as a member and sends to it.
      outsider.services.membership.prove(seed.peerId, "challenge");
      // The topic is in the subscriptions the seed announces to every connected peer.
      const topic = topicAt(cluster.token, Date.now() / 1000);
      outsider.services.pubsub.subscribe(topic);
      await waitFor(
        () =>
          seed.node.services.pubsub.getSubscribers(topic).some((p) => p.equals(outsider!.peerId)),
        { message: "the seed to see the outsider on the ledger topic" },
      );
      const junk = new Uint8Array(3_000_000).fill(0x61);
      for (let i = 0; i < 20; i++) {
        junk[0] = i; // distinct messages
        await outsider.services.pubsub.publish(topic, junk).catch(() => {});
      }
      await waitFor(() => seed.node.getConnections(outsider!.peerId).length === 0, {
        message: "the seed to hang up on the outsider",
      });
      await member.ledger.put("after", "k", "v");
      await waitFor(() => seed.ledger.get("after", "k") === "v", { message: "a member write" });
      const dropped = (n: typeof seed): number =>
        Object.values(n.ledger.stats.dropped).reduce((a, b) => a + (b ?? 0), 0);
      console.log(`seed dropped ${dropped(seed)}, member dropped ${dropped(member)}`);
      assert.equal(dropped(member), 0, "no junk reached the member");
      assert.ok(dropped(seed) < 20, "the seed stopped listening after the first junk");
      assert.ok(seed.node.services.peerGuard.stats.punished >= 1);
    } finally {
      await outsider?.stop();
      await cluster.stop();
    }
  },
});

Deno.test({
  name: "security: 128 idle sockets from one host, reopened as they close, keep no member out",
  ...NODE_TEST,
  async fn() {
    const token = encodeToken(generateTokenConfig());
    const processes: RunningNode[] = [];
    const sockets = new Set<net.Socket>();
    let attacking = true;
    try {
      const seed = await spawnNode(["node", ...loopbackFlags()], { P2P_TOKEN: token });
      processes.push(seed);
      const port = Number(seed.addr.split("/")[4]);
      const open = (): void => {
        if (!attacking) return;
        const socket = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" });
        sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => {
          sockets.delete(socket);
          setTimeout(open, 10);
        });
      };
      for (let i = 0; i < 128; i++) open();
      await waitFor(() => sockets.size >= 128, { message: "128 sockets open" });
      const [member, joinMs] = await memberJoins(seed, token);
      processes.push(member);
      console.log(`a member joined in ${joinMs.toFixed(0)} ms past 128 idle sockets`);
    } finally {
      attacking = false;
      for (const socket of sockets) socket.destroy();
      await stopAll(processes);
    }
  },
});

Deno.test({
  name: "security: 19 idle strangers holding 19 of 20 connection slots keep no member out",
  ...NODE_TEST,
  async fn() {
    const token = encodeToken(generateTokenConfig());
    const processes: RunningNode[] = [];
    const strangers: P2PLibp2p[] = [];
    try {
      const seed = await spawnNode(["node", ...loopbackFlags(), "--max-connections", "20"], {
        P2P_TOKEN: token,
      });
      processes.push(seed);
      for (let i = 0; i < 19; i++) {
        const node = await stranger();
        strangers.push(node);
        await node.dial(multiaddr(seed.addr));
      }
      const [member, joinMs] = await memberJoins(seed, token);
      processes.push(member);
      console.log(`a member joined in ${joinMs.toFixed(0)} ms with 19 of 20 slots held`);
      const peers = await getJson(seed.api, "/api/peers") as unknown[];
      assert.ok(peers.length <= 20, `the seed keeps its limit (${peers.length} peers)`);
    } finally {
      await Promise.allSettled(strangers.map((s) => s.stop()));
      await stopAll(processes);
    }
  },
});
