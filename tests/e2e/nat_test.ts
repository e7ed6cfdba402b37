// Reaching across NATs, in the namespace lab of `_netns_nat.ts` (NAT_LAB): a relay on the public
// host, a worker and its HTTP backend behind NAT 1, `p2p federated` and `p2p connect` behind
// NAT 2, each node given only the relay's address. The routers drop unsolicited packets, so
// the NATed nodes meet through the relay only. Skipped where namespaces or iptables are not
// available.
import { NODE_TEST, waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { encodeToken, generateTokenConfig } from "../../src/token/token.ts";
import { Namespaces, type NsProcess } from "./_netns.ts";
import {
  miniupnpd,
  miniupnpdUnavailable,
  NAT_LAB,
  natLab,
  natLabUnavailable,
  startPublicNode,
} from "./_netns_nat.ts";

const unavailable = natLabUnavailable();
if (unavailable !== undefined) {
  console.warn(
    `NAT lab tests skipped: they need network namespaces and iptables, but ${unavailable}`,
  );
}

const noUpnp = miniupnpdUnavailable();
if (unavailable === undefined && noUpnp !== undefined) {
  console.warn(`NAT lab UPnP test skipped: ${noUpnp}`);
}

const API = "http://127.0.0.1:8080";
const node = ["--no-mdns", "--listen-maddrs", "/ip4/0.0.0.0/tcp/4001"];

interface Peer {
  peerId: string;
  relayed: boolean;
  relay?: string;
  limits?: { bytes?: number; seconds?: number };
}

async function startRelay(
  nets: Namespaces,
  env: Record<string, string>,
  keyFile: string,
  extra: string[] = [],
): Promise<{ process: NsProcess; addr: string }> {
  return await startPublicNode(nets, env, [
    "--identity",
    keyFile,
    "--api-listen",
    "127.0.0.1:8080",
    ...extra,
  ]);
}

Deno.test({
  name: "NAT lab: worker behind NAT 1, balancer and connect behind NAT 2, through the relay",
  ...NODE_TEST,
  ignore: unavailable !== undefined,
  async fn() {
    const nets = new Namespaces();
    const dir = await Deno.makeTempDir();
    const env = { P2P_TOKEN: encodeToken(generateTokenConfig()) };
    try {
      natLab(nets, "drop");
      const started = Date.now();
      let relay = await startRelay(nets, env, `${dir}/relay.key`);
      nets.tool("a", ["serve", "127.0.0.1:7000", "backend-behind-nat1"]);
      // The DHT off: ledger records carry the (relayed) addresses the nodes dial. Hole
      // punching off: the relayed path is what this test is about (holepunch_test.ts upgrades it).
      const peers = ["--bootstrap-peers", relay.addr, "--no-dht", "--no-holepunch"];
      const worker = await nets.p2p("a", [
        "worker",
        "--target",
        "127.0.0.1:7000",
        "--name",
        "gpu",
        ...node,
        ...peers,
        "--api-listen",
        "127.0.0.1:8080",
      ], env);
      const workerId = (await worker.startLine()).peerId as string;
      await nets.p2p("b", [
        "federated",
        "--listen",
        "0.0.0.0:8080",
        ...node,
        ...peers,
        "--api-listen",
        "127.0.0.1:8081",
      ], env);
      const balancer = `http://${NAT_LAB.b}:8080/`;
      const answer = async () => String((await nets.http("b", "GET", balancer)).body).trim();
      await waitFor(async () => await answer() === "backend-behind-nat1", {
        timeoutMs: 30_000,
        intervalMs: 200,
        message: "the balancer behind NAT 2 to answer from the backend behind NAT 1",
      });
      console.log(`first answer through the relay ${Date.now() - started} ms after start`);

      // 100 requests, each its own connection and tunnel, all answered by that backend.
      let answered = 0;
      for (let i = 0; i < 100; i++) if (await answer() === "backend-behind-nat1") answered++;
      assert.equal(answered, 100);
      const seen = (await nets.http("b", "GET", "http://127.0.0.1:8081/api/peers")).body as Peer[];
      const path = seen.find((p) => p.peerId === workerId);
      assert.equal(path?.relayed, true);
      assert.equal(path?.relay, relay.addr.split("/p2p/")[1]);
      assert.ok((path?.limits?.seconds ?? 0) > 0);

      // 20 MB byte-exact through `p2p connect` between the NATed nodes.
      await nets.p2p("b", [
        "connect",
        "--service",
        "gpu",
        "--listen",
        "127.0.0.1:9000",
        "--no-mdns",
        "--listen-maddrs",
        "/ip4/0.0.0.0/tcp/4002",
        ...peers,
      ], env);
      const transfer = await nets.toolOnce("b", ["roundtrip", "127.0.0.1:9000", "20000000"]);
      assert.equal(transfer.ok, true, JSON.stringify(transfer));
      console.log(`20 MB each way through the relay in ${transfer.ms} ms`);

      // A node with another token is refused a reservation on the relay.
      const reservations = async () =>
        ((await nets.http("pub", "GET", `${API}/api/node`)).body as {
          relayService: { reservations: number };
        }).relayService.reservations;
      const members = 3; // worker, balancer, connect
      await waitFor(async () => await reservations() === members, {
        timeoutMs: 10_000,
        intervalMs: 200,
        message: "the three members' reservations",
      });
      const stranger = await nets.p2p("b", [
        "node",
        "--no-mdns",
        "--listen-maddrs",
        "/ip4/0.0.0.0/tcp/4003",
        "--bootstrap-peers",
        relay.addr,
        "--relay-peers",
        relay.addr,
        "--api-listen",
        "127.0.0.1:8083",
      ], { P2P_TOKEN: encodeToken(generateTokenConfig()) });
      const strangerId = (await stranger.startLine()).peerId as string;
      await waitFor(async () => {
        const peersOfRelay = (await nets.http("pub", "GET", `${API}/api/peers`)).body as Peer[];
        return peersOfRelay.some((p) => p.peerId === strangerId);
      }, { timeoutMs: 15_000, intervalMs: 200, message: "the stranger connected to the relay" });
      await new Promise((resolve) => setTimeout(resolve, 3_000)); // its attempts (1 s apart)
      const strangerNode = (await nets.http("b", "GET", "http://127.0.0.1:8083/api/node")).body as {
        reservations: unknown[];
      };
      assert.deepEqual(strangerNode.reservations, []);
      assert.equal(await reservations(), members);
      await stranger.stop();

      // The ledger converges across the three.
      const put = await nets.http("a", "PUT", `${API}/api/ledger/lab/from-nat1`, { ok: 1 });
      assert.equal(put.status, 200);
      for (const [host, api] of [["pub", API], ["b", "http://127.0.0.1:8081"]] as const) {
        await waitFor(
          async () =>
            (await nets.http(host, "GET", `${api}/api/ledger/lab/from-nat1`)).status === 200,
          {
            timeoutMs: 15_000,
            intervalMs: 200,
            message: `the write from NAT 1 on ${host}`,
          },
        );
      }

      // The relay restarts (same key): reservations and tunnels come back by themselves.
      await relay.process.stop();
      relay = await startRelay(nets, env, `${dir}/relay.key`);
      const restarted = Date.now();
      await waitFor(async () => {
        const info = (await nets.http("a", "GET", `${API}/api/node`)).body as {
          reservations: unknown[];
        };
        return info.reservations.length > 0;
      }, { timeoutMs: 30_000, intervalMs: 100, message: "the worker's reservation back" });
      const reserved = Date.now() - restarted;
      await waitFor(async () => await answer() === "backend-behind-nat1", {
        timeoutMs: 30_000,
        intervalMs: 100,
        message: "a request through the balancer after the relay restarted",
      });
      console.log(
        `relay restarted: reservation back in ${reserved} ms, requests in ${
          Date.now() - restarted
        } ms`,
      );
    } finally {
      await nets.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "NAT lab: a relay with stock 128 KiB limits cuts a tunnel loudly, never silently",
  ...NODE_TEST,
  ignore: unavailable !== undefined,
  async fn() {
    const nets = new Namespaces();
    const dir = await Deno.makeTempDir();
    const env = { P2P_TOKEN: encodeToken(generateTokenConfig()) };
    try {
      natLab(nets, "drop");
      // js counts both directions in one budget: 64 KiB each way is a stock 128 KiB relay.
      const relay = await startRelay(nets, env, `${dir}/relay.key`, [
        "--relay-max-data",
        "65536",
        "--relay-max-duration",
        "2m",
      ]);
      nets.tool("a", ["echo", "127.0.0.1:7000"]);
      const peers = ["--bootstrap-peers", relay.addr, "--no-holepunch"];
      await nets.p2p("a", [
        "expose",
        "--target",
        "127.0.0.1:7000",
        "--service",
        "echo",
        ...node,
        ...peers,
      ], env);
      await nets.p2p("b", [
        "connect",
        "--service",
        "echo",
        "--listen",
        "127.0.0.1:9000",
        ...node,
        ...peers,
      ], env);
      // Small exchanges fit; a 1 MB one is cut and the client sees an error, not an end.
      await waitFor(async () => {
        const small = await nets.toolOnce("b", ["roundtrip", "127.0.0.1:9000", "1000"]);
        return small.ok === true;
      }, { timeoutMs: 30_000, intervalMs: 500, message: "a small exchange through the relay" });
      const big = await nets.toolOnce("b", ["roundtrip", "127.0.0.1:9000", "1000000"]);
      assert.equal(big.ok, false);
      assert.ok((big.received as number) < 1_000_000);
      assert.match(String(big.error), /reset|Reset/, JSON.stringify(big));
    } finally {
      await nets.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "NAT lab: with UPnP on NAT 1, a node behind NAT 2 dials the node behind NAT 1 directly",
  ...NODE_TEST,
  ignore: noUpnp !== undefined,
  async fn() {
    const nets = new Namespaces();
    const dir = await Deno.makeTempDir();
    const env = { P2P_TOKEN: encodeToken(generateTokenConfig()) };
    try {
      natLab(nets, "drop");
      await miniupnpd(nets, "nat1", dir);
      const relay = await startRelay(nets, env, `${dir}/relay.key`);
      const started = Date.now();
      const a = await nets.p2p("a", [
        "node",
        ...node,
        "--bootstrap-peers",
        relay.addr,
        "--api-listen",
        "127.0.0.1:8080",
      ], env);
      const aId = (await a.startLine()).peerId as string;
      const mapped = `/ip4/${NAT_LAB.wan1}/tcp/4001`;
      await waitFor(async () => {
        const info = (await nets.http("a", "GET", `${API}/api/node`)).body as {
          reachability: string;
          verified: string[];
        };
        return info.reachability === "public" && info.verified.includes(mapped);
      }, { timeoutMs: 30_000, intervalMs: 200, message: "a's mapped address verified" });
      console.log(`UPnP: ${mapped} advertised ${Date.now() - started} ms after a started`);
      // b finds a through the relay's DHT and dials the mapped address. a may reach b first,
      // through the relay (it looks up again while b's record has no address it can dial, and b
      // is behind its NAT): that connection turns direct, to the mapped address.
      await nets.p2p("b", [
        "node",
        ...node,
        "--bootstrap-peers",
        relay.addr,
        "--api-listen",
        "127.0.0.1:8081",
      ], env);
      const path = await waitFor(async () => {
        const peers = (await nets.http("b", "GET", "http://127.0.0.1:8081/api/peers"))
          .body as (Peer & { addresses: string[] })[];
        const peer = peers.find((p) => p.peerId === aId);
        return peer?.relayed === false ? peer : undefined;
      }, { timeoutMs: 30_000, intervalMs: 200, message: "b connected to a directly" });
      assert.ok(path.addresses[0]?.startsWith(mapped), path.addresses.join(" "));
    } finally {
      await nets.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
