import {
  assertCliError,
  getJson,
  loopbackFlags,
  runP2P,
  type RunResult,
  spawnNode,
  stopAll,
} from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";

Deno.test({
  name: "p2p node: bad flags exit 1 with one error line naming the input, before starting",
  async fn() {
    const env = { P2P_TOKEN: generateToken() };
    const base = ["node", "--no-mdns", "--bootstrap-peers", "none"];
    const loopback = ["--listen-maddrs", "/ip4/127.0.0.1/tcp/0"];
    const cases: [string[], RegExp][] = [
      [[...base, "--listen-maddrs", "nonsense"], /--listen-maddrs "nonsense"/],
      [
        [...base.slice(0, 2), ...loopback, "--bootstrap-peers", "/ip4/127.0.0.1/tcp/1"],
        /--bootstrap-peers "\/ip4\/127\.0\.0\.1\/tcp\/1": missing \/p2p\//,
      ],
      [[...base, ...loopback, "--log-level", "loud"], /log level "loud"/],
      [[...base, ...loopback, "--api-listen", "0.0.0.0:0"], /"0\.0\.0\.0:0".*--api-token/],
      [[...base, ...loopback, "--api-listen", "nowhere"], /--api-listen "nowhere"/],
      [[...base, ...loopback, "--token", "bm90IGEgdG9rZW4="], /token/i],
      [
        [...base, ...loopback, "--announce", "11.0.0.1:4001"],
        /--announce "11\.0\.0\.1:4001": not a multiaddr/,
      ],
      [
        [...base, ...loopback, "--relay-peers", "relay.example"],
        /--relay-peers "relay\.example": not a multiaddr/,
      ],
      [
        [...base, ...loopback, "--relay-peers", "/ip4/11.0.0.1/tcp/4001"],
        /--relay-peers "\/ip4\/11\.0\.0\.1\/tcp\/4001": missing \/p2p\//,
      ],
      [[...base, ...loopback, "--relay-max-duration", "soon"], /--relay-max-duration "soon"/],
      [[...base, ...loopback, "--relay-max-circuits", "-1"], /--relay-max-circuits "-1"/],
    ];
    // The environment aliases are checked too (edgevpn's names).
    cases.push([
      [...base, ...loopback],
      /EDGEVPNDHTANNOUNCEMADDRS.*"garbage"|"garbage": not a multiaddr/,
    ]);
    // Four at a time: a dozen `deno run`s starting at once wait on each other's lock of
    // node_modules, and Deno says so on stderr.
    const results: RunResult[] = [];
    for (let i = 0; i < cases.length; i += 4) {
      results.push(
        ...await Promise.all(
          cases.slice(i, i + 4).map(([args], j) =>
            runP2P(args, {
              env: i + j === cases.length - 1
                ? { ...env, EDGEVPNDHTANNOUNCEMADDRS: "garbage" }
                : env,
            })
          ),
        ),
      );
    }
    for (const [i, [args, pattern]] of cases.entries()) {
      const result = results[i]!;
      assert.doesNotMatch(result.stderr, /started|listening/i, `nothing starts: ${args}`);
      assertCliError(result, pattern);
    }
  },
});

Deno.test({
  name: "p2p node: a listen address it cannot use exits 1 with one error line naming it",
  async fn() {
    const env = { P2P_TOKEN: generateToken() };
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const busy = `/ip4/127.0.0.1/tcp/${taken.addr.port}`;
      const flags = ["node", "--no-mdns", "--no-dht", "--bootstrap-peers", "none"];
      const [inUse, noTransport] = await Promise.all([
        runP2P([...flags, "--listen-maddrs", `/ip4/127.0.0.1/tcp/0,${busy}`], { env }),
        runP2P([...flags, "--listen-maddrs", "/ip4/127.0.0.1/udp/9"], { env }),
      ]);
      for (const result of [inUse, noTransport]) {
        assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
      }
      assertCliError(
        inUse,
        new RegExp(`Cannot listen on .*"${busy}": .*(EADDRINUSE|AddrInUse)`),
      );
      assertCliError(
        noTransport,
        /Cannot listen on .*"\/ip4\/127\.0\.0\.1\/udp\/9": No transport/,
      );
    } finally {
      taken.close();
    }
  },
});

Deno.test({
  name: "p2p ledger put/get/list/delete round-trip through a running node",
  async fn() {
    const node = await spawnNode(["node", ...loopbackFlags()], { P2P_TOKEN: generateToken() });
    try {
      const api = ["--api", node.api];
      const put = await runP2P(["ledger", "put", "demo", "greeting", '{"hello":"world"}', ...api]);
      assert.equal(put.code, 0, put.stderr);
      assert.deepEqual(JSON.parse(put.stdout).value, { hello: "world" });

      const [get, bare, list, listBucket, slash, ...dots] = await Promise.all([
        runP2P(["ledger", "get", "demo", "greeting", ...api]),
        runP2P(["ledger", "put", "demo", "word", "plain", ...api]),
        runP2P(["ledger", "list", ...api]),
        runP2P(["ledger", "list", "demo"], { env: { P2P_API: node.api } }),
        // Names are path segments: a slash stays in the key, and a dot segment, which would
        // address another route ("api/ledger/../node" is the node info), is refused.
        runP2P(["ledger", "put", "other", "a/b c", "1", ...api]),
        runP2P(["ledger", "get", "..", "node", ...api]),
        runP2P(["ledger", "put", "demo", ".", "1", ...api]),
      ]);
      assert.equal(slash.code, 0, slash.stderr);
      assert.equal(JSON.parse(slash.stdout).key, "a/b c");
      assert.equal(await getJson(node.api, "/api/ledger/other/a%2Fb%20c"), 1);
      for (const result of dots) {
        assertCliError(result, /Cannot use "\.\.?" as a bucket or key/);
      }
      assert.equal(get.code, 0, get.stderr);
      assert.deepEqual(JSON.parse(get.stdout), { hello: "world" });
      assert.equal(bare.code, 0, bare.stderr);
      assert.equal(JSON.parse(bare.stdout).value, "plain", "a bare word is a string");
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout).demo?.greeting, '{"hello":"world"}');
      assert.ok(node.start.peerId in JSON.parse(list.stdout).healthcheck);
      assert.equal(listBucket.code, 0, listBucket.stderr);
      assert.ok(JSON.parse(listBucket.stdout).includes("greeting"));
      assert.deepEqual(await getJson(node.api, "/api/ledger/demo/word"), "plain");

      const del = await runP2P(["ledger", "delete", "demo", "greeting", ...api]);
      assert.equal(del.code, 0, del.stderr);
      assert.equal(JSON.parse(del.stdout).deleted, true);

      const [missing, missingBucket] = await Promise.all([
        runP2P(["ledger", "get", "demo", "greeting", ...api]),
        runP2P(["ledger", "get", "nosuchbucket", ...api]),
      ]);
      assertCliError(missing, /404.*Cannot find key "greeting" in bucket "demo"/);
      assertCliError(missingBucket, /404.*Cannot find bucket "nosuchbucket"/);
    } finally {
      await stopAll([node]);
    }
  },
});

Deno.test("p2p ledger: an unreachable or missing API exits 1 with one error line", async () => {
  const [unreachable, noApi, notUrl] = await Promise.all([
    runP2P(["ledger", "get", "demo", "k", "--api", "http://127.0.0.1:1"]),
    runP2P(["ledger", "list"], { env: { P2P_API: "" } }),
    runP2P(["ledger", "list", "--api", "not a url"]),
  ]);
  assertCliError(unreachable, /Cannot reach the API at "http:\/\/127\.0\.0\.1:1"/);
  assertCliError(noApi, /--api/);
  assertCliError(notUrl, /"not a url"/);
});

Deno.test({
  name: "p2p node API: bad requests get JSON errors, the node keeps serving, SIGTERM exits 0",
  async fn() {
    const node = await spawnNode(["node", ...loopbackFlags()], { P2P_TOKEN: generateToken() });
    let stopped = false;
    try {
      const call = async (method: string, path: string, body?: string) => {
        const response = await fetch(`${node.api}${path}`, {
          method,
          ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }),
        });
        assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
        return { status: response.status, body: await response.json() };
      };
      const notJson = await call("PUT", "/api/ledger/demo/k", "{not json");
      assert.equal(notJson.status, 400);
      assert.match(notJson.body.error, /not JSON/);
      assert.equal(await getJson(node.api, "/api/ledger/demo/k"), undefined, "nothing written");

      const unknown = await call("GET", "/api/nothing-here");
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.error, /\/api\/nothing-here/);

      const wrongMethod = await call("POST", "/api/ledger/demo/k", "1");
      assert.equal(wrongMethod.status, 405);
      assert.match(wrongMethod.body.error, /POST/);

      const info = await call("GET", "/api/node");
      assert.equal(info.status, 200);
      assert.equal(info.body.peerId, node.start.peerId);
      const health = await call("GET", "/healthz");
      assert.equal(health.status, 200);

      const status = await node.process.stop("SIGTERM");
      stopped = true;
      assert.equal(status.code, 0, node.process.stderrText);
      assert.equal(status.signal, null);
      assert.deepEqual(node.process.stdoutLines.filter((l) => l !== ""), [
        JSON.stringify(node.start),
      ], "stdout carries only the start line");
    } finally {
      if (!stopped) await stopAll([node]);
    }
  },
});
