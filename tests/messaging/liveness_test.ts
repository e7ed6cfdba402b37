import { NODE_TEST, startJoined, startSeed, stopNodes, waitFor, waitMembers } from "./_fixtures.ts";
import assert from "node:assert/strict";
import { peerIdFromString } from "@libp2p/peer-id";
import { PING_PROTOCOL } from "@libp2p/ping";
import type { P2PNode } from "../../src/messaging/mod.ts";
import { generateTokenConfig } from "../../src/token/token.ts";

Deno.test({
  name: "the network's liveness keeps an RTT per connected member",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      a = await startSeed(token);
      b = await startJoined(token, a);
      await waitMembers([a, b]);
      const peer = await waitFor(() => {
        const p = a!.stats().peers.find((s) => s.peerId === b!.peerId);
        return p?.rttMs !== undefined ? p : undefined;
      }, { message: "an RTT for b at a" });
      assert.equal(peer.member, true);
      assert.ok(Number.isFinite(peer.rttMs) && peer.rttMs! >= 0, `rtt ${peer.rttMs}`);
      await waitFor(async () => (await b!.peerInfo(a!.peerId))?.rttMs !== undefined, {
        message: "an RTT for a at b",
      });
    } finally {
      await stopNodes([b, a]);
    }
  },
});

Deno.test({
  name: "a lost bootstrap peer is redialed with backoff",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      a = await startSeed(token, { reconnect: false });
      b = await startJoined(token, a);
      const events: string[] = [];
      b.addEventListener("peer:disconnect", (e) => events.push(`lost:${e.detail.peerId}`));
      b.addEventListener("peer:connect", (e) => events.push(`back:${e.detail.peerId}`));
      // b's link to a fails (the connection is reset under it); b, whose bootstrap peer is a,
      // must come back by itself: the liveness redial does it (counted in reconnects), not the
      // rendezvous loop. (A close initiated by a reaches b only when b next writes.)
      for (const connection of b.network.node.getConnections(peerIdFromString(a.peerId))) {
        connection.abort(new Error("network down"));
      }
      await waitFor(() => events.includes(`back:${a!.peerId}`), {
        timeoutMs: 15_000,
        message: "b to reconnect to a",
      });
      assert.deepEqual(events, [`lost:${a.peerId}`, `back:${a.peerId}`]);
      assert.ok(b.connectedPeers().includes(a.peerId));
      assert.equal(b.stats().reconnects, 1);
      assert.equal(a.stats().reconnects, 0);
    } finally {
      await stopNodes([b, a]);
    }
  },
});

Deno.test({
  name: "a member that stops answering pings is no longer reachable",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      a = await startSeed(token, { reconnect: false });
      b = await startJoined(token, a, { reconnect: false });
      await waitMembers([a, b]);
      const bId = b.peerId;
      const liveness = a.network.liveness;
      await waitFor(() => liveness.isReachable(bId), { message: "b reachable from a" });
      // b still holds the connection but no longer answers pings.
      await b.network.node.unhandle(PING_PROTOCOL);
      await waitFor(() => !liveness.isReachable(bId), {
        timeoutMs: 8_000,
        message: "a to see the silent member as unreachable",
      });
      // It is not dropped for one failed ping: a silent connection is closed later, by its
      // silence (silentConnectionCloser), not by a ping.
      assert.ok(a.connectedPeers().includes(bId));
    } finally {
      await stopNodes([b, a]);
    }
  },
});

Deno.test({
  name: "a lost peer that recently answered is redialed; one that never did is not",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const nodes: P2PNode[] = [];
    try {
      const a = await startSeed(token);
      const c = await startSeed(token, { reconnect: false });
      const d = await startSeed(token, { reconnect: false });
      nodes.push(a, c, d);
      const b = await startJoined(token, a);
      nodes.push(b);
      c.handle("work", () => "done");
      await b.connect(c.addresses()[0]!);
      await b.connect(d.addresses()[0]!);
      assert.equal(await b.request(c.peerId, "work", null), "done"); // c is now useful to b
      const back: string[] = [];
      b.addEventListener("peer:connect", (e) => back.push(e.detail.peerId));
      for (const peer of [c.peerId, d.peerId]) {
        for (const connection of b.network.node.getConnections(peerIdFromString(peer))) {
          connection.abort(new Error("network down"));
        }
      }
      await waitFor(() => back.includes(c.peerId), { timeoutMs: 5_000, message: "b to redial c" });
      assert.ok(!back.includes(d.peerId), "d never answered b: not redialed");
      assert.equal(b.stats().reconnects, 1);
    } finally {
      await stopNodes(nodes.reverse());
    }
  },
});
