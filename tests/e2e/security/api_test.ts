// Issue 14 point 1, raw: the loopback API answers only for its own names. A request for a
// foreign Host (what a DNS-rebinding page sends) gets 403 and changes nothing; a state change
// from a foreign Origin gets 403; loopback names, the bound address and --api-allowed-hosts
// are answered. Bad --api-allowed-hosts values stop the command with one error line.
import { loopbackFlags, type RunningNode, runP2P, spawnNode, stopAll } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";
import { rawRequest } from "../../security/_raw_http.ts";

const OUTSIDER = { PeerID: "12D3KooWHijackerHijackerHijackerHijackerHijacker", Name: "web" };

function spawnApiNode(extra: string[] = [], env: Record<string, string> = {}) {
  return spawnNode(["node", ...loopbackFlags(), ...extra], { P2P_TOKEN: generateToken(), ...env });
}

function apiAddress(node: RunningNode): { address: string; port: string } {
  const url = new URL(node.api);
  return { address: url.host, port: url.port };
}

/** Writes `demo/keep` the legitimate way (no Origin, loopback Host). */
async function putKeep(node: RunningNode): Promise<void> {
  const answer = await fetch(`${node.api}/api/ledger/demo/keep`, {
    method: "PUT",
    body: JSON.stringify({ kept: true }),
  });
  assert.equal(answer.status, 200, await answer.text());
}

/** The attacked keys: nothing written, nothing deleted. */
async function assertUntouched(node: RunningNode): Promise<void> {
  assert.equal((await fetch(`${node.api}/api/ledger/services/web`)).status, 404);
  assert.equal((await fetch(`${node.api}/api/ledger/federated/hijack`)).status, 404);
  const kept = await fetch(`${node.api}/api/ledger/demo/keep`);
  assert.deepEqual(await kept.json(), { kept: true });
}

Deno.test({
  name: "API: a foreign Host gets 403 naming it, for reads and writes; the ledger is unchanged",
  async fn() {
    const node = await spawnApiNode();
    try {
      const { address, port } = apiAddress(node);
      const host = `attacker.example:${port}`;
      await putKeep(node);
      const paths = ["/", "/api/ledger", "/api/dashboard", "/api/history", "/api/node", "/metrics"];
      for (const path of paths) {
        const answer = await rawRequest(address, "GET", path, { Host: host });
        assert.equal(answer.status, 403, `GET ${path}: ${answer.body}`);
        assert.match(answer.headers["content-type"] ?? "", /^application\/json/);
        assert.match(JSON.parse(answer.body).error, /Host "attacker\.example:\d+"/);
        assert.doesNotMatch(answer.body, new RegExp(node.start.peerId));
      }
      for (
        const [method, path] of [
          ["PUT", "/api/ledger/services/web"],
          ["PUT", "/api/ledger/federated/hijack"],
          ["DELETE", "/api/ledger/demo/keep"],
        ]
      ) {
        const answer = await rawRequest(address, method!, path!, { Host: host }, OUTSIDER);
        assert.equal(answer.status, 403, `${method} ${path}: ${answer.body}`);
      }
      // Names that only look local are foreign.
      for (const foreign of [`127.attacker.example:${port}`, `localhost.attacker.example`]) {
        const answer = await rawRequest(address, "GET", "/healthz", { Host: foreign });
        assert.equal(answer.status, 403, foreign);
      }
      await assertUntouched(node);
    } finally {
      await stopAll([node]);
    }
  },
});

Deno.test({
  name: "API: loopback names and literals are answered, on any port",
  async fn() {
    const node = await spawnApiNode();
    try {
      const { address, port } = apiAddress(node);
      for (
        const host of [
          `127.0.0.1:${port}`,
          `localhost:${port}`,
          `LocalHost:${port}`,
          `[::1]:${port}`,
          `127.1.2.3:${port}`,
          "localhost",
          "127.0.0.1:8090",
        ]
      ) {
        const answer = await rawRequest(address, "GET", "/api/node", { Host: host });
        assert.equal(answer.status, 200, `Host ${host}: ${answer.body}`);
      }
    } finally {
      await stopAll([node]);
    }
  },
});

Deno.test({
  name: "API: state changes need no Origin or the API's own; a foreign or null Origin gets 403",
  async fn() {
    const node = await spawnApiNode();
    try {
      const { address, port } = apiAddress(node);
      const host = `127.0.0.1:${port}`;
      await putKeep(node);
      for (
        const origin of [
          `http://attacker.example:${port}`,
          "null",
          `http://localhost:${Number(port) === 3000 ? 3001 : 3000}`,
          `file://`,
        ]
      ) {
        for (const [method, path] of [["PUT", "services/web"], ["DELETE", "demo/keep"]]) {
          const answer = await rawRequest(
            address,
            method!,
            `/api/ledger/${path}`,
            { Host: host, Origin: origin },
            OUTSIDER,
          );
          assert.equal(answer.status, 403, `${method} from ${origin}: ${answer.body}`);
          assert.match(JSON.parse(answer.body).error, /Origin "/);
        }
      }
      await assertUntouched(node);
      // Reads from a foreign origin are answered, with no CORS header: a browser hides them.
      const read = await rawRequest(address, "GET", "/api/node", {
        Host: host,
        Origin: "http://attacker.example",
      });
      assert.equal(read.status, 200);
      assert.equal(read.headers["access-control-allow-origin"], undefined);
      // The API's own origin, and no origin at all (curl, the CLI), may write.
      const own = await rawRequest(address, "PUT", "/api/ledger/demo/own", {
        Host: host,
        Origin: `http://${host}`,
      }, { ok: 1 });
      assert.equal(own.status, 200, own.body);
      const none = await rawRequest(address, "PUT", "/api/ledger/demo/none", { Host: host }, {
        ok: 2,
      });
      assert.equal(none.status, 200, none.body);
    } finally {
      await stopAll([node]);
    }
  },
});

Deno.test({
  name: "API: --api-allowed-hosts and P2P_API_ALLOWED_HOSTS admit those hosts and their origins",
  async fn() {
    const flagged = await spawnApiNode(["--api-allowed-hosts", "p2p.example, pinned.example:1"]);
    const envNode = await spawnApiNode([], { P2P_API_ALLOWED_HOSTS: "env.example" });
    try {
      const { address, port } = apiAddress(flagged);
      const status = async (host: string): Promise<number> =>
        (await rawRequest(address, "GET", "/api/node", { Host: host })).status;
      assert.equal(await status(`p2p.example:${port}`), 200);
      assert.equal(await status("P2P.example"), 200);
      assert.equal(await status("pinned.example:1"), 200);
      assert.equal(await status(`pinned.example:${port}`), 403);
      assert.equal(await status(`env.example:${port}`), 403);
      const put = await rawRequest(address, "PUT", "/api/ledger/demo/proxied", {
        Host: `127.0.0.1:${port}`,
        Origin: "https://p2p.example",
      }, { ok: true });
      assert.equal(put.status, 200, put.body);
      const env = apiAddress(envNode);
      const answer = await rawRequest(env.address, "GET", "/api/node", {
        Host: `env.example:${env.port}`,
      });
      assert.equal(answer.status, 200, answer.body);
    } finally {
      await stopAll([flagged, envNode]);
    }
  },
});

Deno.test({
  name: "bad --api-allowed-hosts values: one error line naming the entry, exit 1",
  async fn() {
    const cases: [string, RegExp][] = [
      ["", /^error: Cannot use --api-allowed-hosts "": empty list$/],
      [" , ", /^error: Cannot use --api-allowed-hosts " , ": empty list$/],
      ["http://p2p.example", /entry "http:\/\/p2p\.example": expected a host name/],
      ["*", /entry "\*": expected a host name/],
      ["p2p.example/admin", /entry "p2p\.example\/admin"/],
      ["user@p2p.example", /entry "user@p2p\.example"/],
      ["::1", /entry "::1": expected a host name or IP address \(IPv6 in brackets\)/],
      ["ok.example,p2p.example:99999", /entry "p2p\.example:99999"/],
    ];
    for (const [value, message] of cases) {
      const result = await runP2P(["node", ...loopbackFlags(), "--api-allowed-hosts", value], {
        env: { P2P_TOKEN: generateToken() },
        timeoutMs: 15_000,
      });
      const context = `--api-allowed-hosts ${JSON.stringify(value)}\n${result.stderr}`;
      assert.equal(result.code, 1, context);
      assert.equal(result.stdout, "", context);
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, context);
      assert.match(lines[0]!, message, context);
    }
  },
});
