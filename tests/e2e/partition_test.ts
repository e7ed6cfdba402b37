// A network partition between hosts, with hosts made of network namespaces the test creates:
//
//   a (10.x.y.1) ──veth── sw [bridge] ──veth── b (10.x.y.2)
//                           └──────────veth── c (10.x.y.3)
//
// a runs `p2p expose` of an echo server (its own 127.0.0.1), b runs `p2p connect` to it, c a
// plain `p2p node`; each serves its API on 127.0.0.1 inside its namespace (queried with curl
// run there). The link of a is cut until the nodes notice (no peers left on a); keys are
// written on both sides; the link comes back; the ledger converges on all three and the tunnel
// from b to a works again. Skipped where namespaces cannot be made (not root, no iproute2).
import { waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { encodeToken, generateTokenConfig } from "../../src/token/token.ts";
import { Namespaces, netnsUnavailable } from "./_netns.ts";

const unavailable = netnsUnavailable();
if (unavailable !== undefined) {
  console.warn(`partition test skipped: it needs network namespaces, but ${unavailable}`);
}

const API = "http://127.0.0.1:8080";
const P2P_PORT = 4001;

Deno.test({
  name:
    "partition: cut a host off, write on both sides, heal: ledger converges, tunnel works again",
  ignore: unavailable !== undefined,
  async fn() {
    const nets = new Namespaces();
    const subnet = `10.${64 + Math.floor(Math.random() * 180)}.${Math.floor(Math.random() * 250)}`;
    const ip = { a: `${subnet}.1`, b: `${subnet}.2`, c: `${subnet}.3` };
    const env = { P2P_TOKEN: encodeToken(generateTokenConfig()) };
    const timeline: string[] = [];
    const t0 = Date.now();
    const mark = (what: string) =>
      timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);
    try {
      nets.add("sw");
      nets.ip("-n", nets.name("sw"), "link", "add", "br0", "type", "bridge");
      nets.ip("-n", nets.name("sw"), "link", "set", "br0", "up");
      for (const host of ["a", "b", "c"] as const) {
        nets.add(host);
        nets.veth(host, "eth0", "sw", `port-${host}`);
        nets.ip("-n", nets.name("sw"), "link", "set", `port-${host}`, "master", "br0");
        nets.ip("-n", nets.name(host), "addr", "add", `${ip[host]}/24`, "dev", "eth0");
      }
      const listen = (host: "a" | "b" | "c") => [
        "--listen-maddrs",
        `/ip4/${ip[host]}/tcp/${P2P_PORT}`,
        "--no-mdns",
        "--api-listen",
        "127.0.0.1:8080",
      ];
      // a: the echo service and `p2p expose` (the seed).
      const echo = nets.tool("a", ["echo", "127.0.0.1:7000"]);
      await waitFor(() => echo.stdoutLines.length > 0, { message: "the echo server in a" });
      const a = await nets.p2p("a", [
        "expose",
        "--target",
        "127.0.0.1:7000",
        "--service",
        "echo",
        ...listen("a"),
        "--bootstrap-peers",
        "none",
      ], env);
      const seed = `/ip4/${ip.a}/tcp/${P2P_PORT}/p2p/${(await a.startLine()).peerId}`;
      const b = await nets.p2p("b", [
        "connect",
        "--service",
        "echo",
        "--listen",
        "127.0.0.1:9000",
        ...listen("b"),
        "--bootstrap-peers",
        seed,
      ], env);
      const seedB = `/ip4/${ip.b}/tcp/${P2P_PORT}/p2p/${(await b.startLine()).peerId}`;
      await nets.p2p("c", ["node", ...listen("c"), "--bootstrap-peers", `${seed},${seedB}`], env);
      mark("started");

      const ledger = async (host: string): Promise<Record<string, unknown>> => {
        const r = await nets.http(host, "GET", `${API}/api/ledger/partition`);
        return r.status === 200 ? r.body as Record<string, unknown> : {};
      };
      const peers = async (host: string): Promise<string[]> => {
        const r = await nets.http(host, "GET", `${API}/api/peers`);
        return (r.body as { peerId: string }[]).map((p) => p.peerId);
      };
      const roundtrip = () => nets.toolOnce("b", ["roundtrip", "127.0.0.1:9000", "200000"]);

      // Before: everyone connected, the tunnel works.
      await waitFor(async () => (await peers("a")).length >= 2, {
        timeoutMs: 20_000,
        intervalMs: 200,
        message: "a connected to b and c",
      });
      const before = await waitFor(async () => {
        const r = await roundtrip();
        return r.ok === true ? r : false;
      }, { timeoutMs: 20_000, intervalMs: 200, message: "the tunnel b → a before the cut" });
      mark(`tunnel ok before the cut (${before.ms} ms)`);

      // Cut a off (its switch port down) until a has no peer left: the nodes noticed.
      nets.ip("-n", nets.name("sw"), "link", "set", "port-a", "down");
      mark("link of a cut");
      assert.equal(
        (await nets.http("a", "PUT", `${API}/api/ledger/partition/a`, { side: "a" })).status,
        200,
      );
      assert.equal(
        (await nets.http("b", "PUT", `${API}/api/ledger/partition/b`, { side: "b" })).status,
        200,
      );
      mark("wrote partition/a on a, partition/b on b");
      // b's write reaches c (the b–c side still works) …
      await waitFor(async () => "b" in await ledger("c"), {
        timeoutMs: 15_000,
        intervalMs: 200,
        message: "partition/b on c during the cut",
      });
      // … and a's write reaches neither, nor b's a, until the connections to a are gone.
      await waitFor(async () => (await peers("a")).length === 0, {
        timeoutMs: 40_000,
        intervalMs: 500,
        message: "a to lose its connections (ping failure) during the cut",
      });
      mark("a has no peers left");
      assert.ok(!("b" in await ledger("a")), "partition/b crossed the cut");
      assert.ok(!("a" in await ledger("b")), "partition/a crossed the cut to b");
      assert.ok(!("a" in await ledger("c")), "partition/a crossed the cut to c");
      // A tunnel during the cut ends (never hangs past the tool's 10 s bound).
      const during = await roundtrip();
      mark(`tunnel during the cut: ${JSON.stringify(during)}`);
      assert.equal(during.ok, false, "the tunnel worked across the cut");

      // Heal: both keys everywhere, then the tunnel again.
      nets.ip("-n", nets.name("sw"), "link", "set", "port-a", "up");
      const healedAt = Date.now();
      mark("link of a restored");
      for (const host of ["a", "b", "c"]) {
        await waitFor(async () => {
          const entries = await ledger(host);
          return "a" in entries && "b" in entries;
        }, {
          timeoutMs: 40_000,
          intervalMs: 250,
          message: `both keys on ${host} after the link came back`,
        });
        mark(`both keys on ${host}`);
      }
      const convergedMs = Date.now() - healedAt;
      const after = await waitFor(async () => {
        const r = await roundtrip();
        return r.ok === true ? r : false;
      }, { timeoutMs: 20_000, intervalMs: 250, message: "the tunnel b → a after the heal" });
      mark(`tunnel ok after the heal (${after.ms} ms)`);
      for (const host of ["a", "b", "c"]) {
        const entries = await ledger(host);
        assert.deepEqual(entries.a, { side: "a" });
        assert.deepEqual(entries.b, { side: "b" });
      }
      console.log(
        `partition: converged ${convergedMs} ms after the heal\n  ${timeline.join("\n  ")}`,
      );
    } catch (err) {
      for (const p of nets.processes) {
        console.error(`--- stderr of ${p.child.pid}:\n${p.stderrLines.slice(-30).join("\n")}`);
      }
      console.error(timeline.join("\n"));
      throw err;
    } finally {
      await nets.destroy();
    }
  },
});
