// Relays between LocalAI's code and ours, in the NAT lab of tests/e2e/_netns_nat.ts (routers that
// drop unsolicited packets; 11.0.0.0/24 plays the internet inside the namespaces only):
// - a Go relay (edgevpn's relay service and limits) on the public host serves our worker behind
//   NAT 1 and our balancer behind NAT 2;
// - our relay serves a Go node behind NAT 1 (go-libp2p AutoRelay with our relay as static
//   relay): our node behind NAT 2 reaches the Go node's service through it.
import { waitFor } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { encodeToken, generateTokenConfig } from "../../../src/token/token.ts";
import { Namespaces } from "../_netns.ts";
import { NAT_LAB, natLab, natLabUnavailable, startPublicNode } from "../_netns_nat.ts";
import { GO, type GoPeer, startGoPeer } from "./_go_peer.ts";
import { NODE_TEST } from "./_fixtures.ts";

const lab = natLabUnavailable();
if (GO !== undefined && lab !== undefined) {
  console.warn(`interop NAT lab tests skipped: they need network namespaces, but ${lab}`);
}
const ignore = GO === undefined || lab !== undefined;

const NODE = ["--no-mdns", "--listen-maddrs", "/ip4/0.0.0.0/tcp/4001"];
const API = "http://127.0.0.1:8080";

interface Peer {
  peerId: string;
  relayed: boolean;
  relay?: string;
  limits?: { bytes?: number; seconds?: number };
}

Deno.test({
  name: "interop NAT lab: a Go relay with edgevpn's limits carries our worker's tunnels",
  ...NODE_TEST,
  ignore,
  async fn() {
    const nets = new Namespaces();
    const token = encodeToken(generateTokenConfig());
    let relay: GoPeer | undefined;
    try {
      natLab(nets, "drop");
      relay = await startGoPeer({
        token,
        netns: nets.name("pub"),
        listen: ["/ip4/0.0.0.0/tcp/4001"],
        relayService: true,
      });
      const relayAddr = `/ip4/${NAT_LAB.pub}/tcp/4001/p2p/${relay.peerId}`;
      // Hole punching off: the tunnels stay on the Go relay.
      const peers = ["--bootstrap-peers", relayAddr, "--relay-peers", relayAddr, "--no-holepunch"];
      nets.tool("a", ["serve", "127.0.0.1:7000", "backend-behind-nat1"]);
      const worker = await nets.p2p("a", [
        "worker",
        "--target",
        "127.0.0.1:7000",
        "--name",
        "gpu",
        ...NODE,
        ...peers,
        "--api-listen",
        "127.0.0.1:8080",
      ], { P2P_TOKEN: token });
      const workerId = (await worker.startLine()).peerId as string;
      await nets.p2p("b", [
        "federated",
        "--listen",
        "0.0.0.0:8080",
        ...NODE,
        ...peers,
        "--api-listen",
        "127.0.0.1:8081",
      ], { P2P_TOKEN: token });
      const answer = async () =>
        String((await nets.http("b", "GET", `http://${NAT_LAB.b}:8080/`)).body).trim();
      await waitFor(async () => await answer() === "backend-behind-nat1", {
        timeoutMs: 45_000,
        intervalMs: 250,
        message: "the balancer behind NAT 2 to answer from the backend behind NAT 1",
      });
      let answered = 0;
      for (let i = 0; i < 20; i++) if (await answer() === "backend-behind-nat1") answered++;
      assert.equal(answered, 20);
      const seen = (await nets.http("b", "GET", "http://127.0.0.1:8081/api/peers")).body as Peer[];
      const path = seen.find((p) => p.peerId === workerId);
      assert.equal(path?.relayed, true);
      assert.equal(path?.relay, relay.peerId);
      // go-libp2p announces its limits in seconds and per direction: 30 min, 1 GiB.
      assert.ok((path?.limits?.seconds ?? 0) > 25 * 60, JSON.stringify(path?.limits));
      assert.equal(path?.limits?.bytes !== undefined && path.limits.bytes <= 2 ** 30, true);
    } finally {
      await relay?.stop();
      await nets.destroy();
    }
  },
});

Deno.test({
  name: "interop NAT lab: our relay serves a Go node; our node reaches its service through it",
  ...NODE_TEST,
  ignore,
  async fn() {
    const nets = new Namespaces();
    const token = encodeToken(generateTokenConfig());
    let goNode: GoPeer | undefined;
    try {
      natLab(nets, "drop");
      const relayAddr = (await startPublicNode(nets, { P2P_TOKEN: token }, [
        "--api-listen",
        "127.0.0.1:8080",
      ])).addr;
      nets.tool("a", ["echo", "127.0.0.1:7000"]);
      goNode = await startGoPeer({
        token,
        netns: nets.name("a"),
        listen: ["/ip4/0.0.0.0/tcp/4001"],
        bootstrap: [relayAddr],
        relayStatic: [relayAddr],
      });
      await goNode.command("expose", { name: "goecho", target: "127.0.0.1:7000" });
      // The Go node proves membership with its gossip, then holds a reservation on our relay.
      await waitFor(async () => {
        const info = (await nets.http("pub", "GET", `${API}/api/node`)).body as {
          relayService?: { reservations: number };
        };
        return (info.relayService?.reservations ?? 0) > 0;
      }, { timeoutMs: 45_000, intervalMs: 250, message: "the Go node's reservation on our relay" });
      // Behind NAT 2, our node dials the Go node through the relay and tunnels to its service.
      const circuit = `${relayAddr}/p2p-circuit/p2p/${goNode.peerId}`;
      await nets.p2p("b", [
        "connect",
        "--service",
        "goecho",
        "--listen",
        "127.0.0.1:9000",
        ...NODE,
        "--bootstrap-peers",
        `${relayAddr},${circuit}`,
        "--no-holepunch",
        "--api-listen",
        "127.0.0.1:8081",
      ], { P2P_TOKEN: token });
      const transfer = await waitFor(async () => {
        // Read back whole before closing: edgevpn ends both directions at the first EOF.
        const r = await nets.toolOnce("b", ["roundtrip-whole", "127.0.0.1:9000", "1000000"]);
        return r.ok === true ? r : false;
      }, { timeoutMs: 45_000, intervalMs: 500, message: "1 MB through the Go node's service" });
      assert.equal(transfer.received, 1_000_000);
      const seen = (await nets.http("b", "GET", "http://127.0.0.1:8081/api/peers")).body as Peer[];
      const path = seen.find((p) => p.peerId === goNode!.peerId);
      assert.equal(path?.relayed, true);
    } finally {
      await goNode?.stop();
      await nets.destroy();
    }
  },
});

Deno.test({
  name: "interop NAT lab: a Go node and a p2p node behind two NATs punch a direct connection",
  ...NODE_TEST,
  ignore,
  async fn() {
    const nets = new Namespaces();
    const token = encodeToken(generateTokenConfig());
    let goNode: GoPeer | undefined;
    try {
      natLab(nets, "drop", 3);
      const node = ["--no-mdns", "--no-dht", "--listen-maddrs", "/ip4/0.0.0.0/tcp/4001"];
      const relayAddr = (await startPublicNode(nets, { P2P_TOKEN: token }, [
        "--no-dht",
        "--api-listen",
        "127.0.0.1:8080",
      ])).addr;
      // go-libp2p trusts (and punches from) an observed address once 4 peers of distinct
      // addresses reported it: the relay and three more public hosts.
      const observers = [relayAddr];
      for (const i of [2, 3, 4]) {
        const observer = await startPublicNode(
          nets,
          { P2P_TOKEN: token },
          ["--no-dht", "--no-relay-service"],
          `pub${i}`,
        );
        observers.push(observer.addr);
      }
      goNode = await startGoPeer({
        token,
        netns: nets.name("a"),
        listen: ["/ip4/0.0.0.0/tcp/4001"],
        bootstrap: observers,
        relayStatic: [relayAddr],
      });
      await waitFor(async () => {
        const info = (await nets.http("pub", "GET", `${API}/api/node`)).body as {
          relayService?: { reservations: number };
        };
        return (info.relayService?.reservations ?? 0) > 0;
      }, { timeoutMs: 45_000, intervalMs: 250, message: "the Go node's reservation on our relay" });
      const circuit = `${relayAddr}/p2p-circuit/p2p/${goNode.peerId}`;
      await nets.p2p("b", [
        "node",
        ...node,
        "--bootstrap-peers",
        `${relayAddr},${circuit}`,
        "--api-listen",
        "127.0.0.1:8081",
      ], { P2P_TOKEN: token });
      const direct = await waitFor(async () => {
        const peers = (await nets.http("b", "GET", "http://127.0.0.1:8081/api/peers"))
          .body as (Peer & { addresses: string[] })[];
        const path = peers.find((p) => p.peerId === goNode!.peerId);
        return path?.relayed === false ? path : false;
      }, { timeoutMs: 45_000, intervalMs: 250, message: "a direct connection to the Go node" });
      assert.ok(direct.addresses[0]?.startsWith(`/ip4/${NAT_LAB.wan1}/tcp/4001`));
    } finally {
      await goNode?.stop();
      await nets.destroy();
    }
  },
});
