// Outsiders: peers without the network's token. Members are `p2p` processes on loopback; the
// outsiders are a `p2p node` process with another token and, for what a process cannot do
// (publish raw bytes on the members' topic, open raw service streams, time handshakes), an
// in-process libp2p node of its own.
import {
  getJson,
  loopbackFlags,
  NODE_TEST,
  type RunningNode,
  runP2P,
  spawnNode,
  stopAll,
  waitFor,
  withTimeout,
} from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import { genesisBlock, nextBlock, withValue } from "../../src/ledger/block.ts";
import { encodeEnvelope } from "../../src/ledger/envelope.ts";
import { createLibp2pNode, type P2PLibp2p } from "../../src/node/create_node.ts";
import { SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL } from "../../src/services/constants.ts";
import { sealKeyAt, topicAt } from "../../src/token/derive.ts";
import { decodeToken, encodeToken, generateTokenConfig } from "../../src/token/token.ts";
import { TestBackend } from "./_fixtures.ts";

interface NodeInfo {
  ledger: { dropped: Record<string, number>; published: number; index: number };
}

/** An in-process node with `token` (private mode or not), on loopback, no discovery. */
async function inProcessNode(tokenText: string, isPrivate: boolean): Promise<P2PLibp2p> {
  const node = await createLibp2pNode({
    token: decodeToken(tokenText),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrapPeers: [],
    mdns: false,
    dht: false,
    private: isPrivate,
  });
  await node.start();
  return node;
}

/** Every key of every bucket of a node's ledger, as `bucket/key`. */
async function ledgerKeys(node: RunningNode): Promise<string[]> {
  const storage = await getJson(node.api, "/api/ledger") as Record<string, Record<string, string>>;
  return Object.entries(storage).flatMap(([b, keys]) => Object.keys(keys).map((k) => `${b}/${k}`));
}

Deno.test({
  name:
    "outsiders: no ledger reads, no adopted injections, no service streams; --private handshakes fail fast; API auth",
  ...NODE_TEST,
  async fn(t) {
    const memberToken = encodeToken(generateTokenConfig());
    const outsiderToken = encodeToken(generateTokenConfig());
    const backend = new TestBackend("svc");
    const processes: RunningNode[] = [];
    const inProcess: P2PLibp2p[] = [];
    const report: string[] = [];
    try {
      const m1 = await spawnNode(
        ["expose", "--target", backend.address, "--service", "svc", ...loopbackFlags()],
        { P2P_TOKEN: memberToken },
      );
      processes.push(m1);
      const [m2, outsider, privateMember] = await Promise.all([
        spawnNode(["node", ...loopbackFlags([m1.addr])], { P2P_TOKEN: memberToken }),
        spawnNode(["node", ...loopbackFlags([m1.addr])], { P2P_TOKEN: outsiderToken }),
        spawnNode(
          ["node", "--private", "--api-token", "api-secret-1", ...loopbackFlags()],
          { P2P_TOKEN: memberToken },
        ),
      ]);
      processes.push(m2, outsider, privateMember);

      await t.step("an outsider connected to a member reads none of the ledger", async () => {
        await getJson(m1.api, "/api/node");
        const put = await fetch(`${m1.api}/api/ledger/secret/k1`, {
          method: "PUT",
          body: JSON.stringify({ value: "members only" }),
        });
        assert.equal(put.status, 200, await put.text());
        // Control: a member that joined with the outsider gets it.
        await waitFor(async () => (await ledgerKeys(m2)).includes("secret/k1"), {
          message: "secret/k1 on the second member",
        });
        const peersOfOutsider = await getJson(outsider.api, "/api/peers") as { peerId: string }[];
        assert.ok(
          peersOfOutsider.some((p) => p.peerId === m1.start.peerId),
          "the outsider is not even connected to the member (the check would prove nothing)",
        );
        const keys = await ledgerKeys(outsider);
        const memberIds = [m1.start.peerId, m2.start.peerId];
        assert.ok(!keys.includes("secret/k1"), `the outsider read secret/k1: ${keys}`);
        assert.ok(!keys.some((k) => k.startsWith("services/")), `services leaked: ${keys}`);
        assert.ok(!keys.some((k) => memberIds.some((id) => k.endsWith(id))), `${keys}`);
        report.push(`outsider ledger while connected to a member: ${JSON.stringify(keys)}`);
      });

      await t.step("an outsider's writes (its own topic) are not adopted by members", async () => {
        const before = (await getJson(outsider.api, "/api/node") as NodeInfo).ledger.published;
        const put = await fetch(`${outsider.api}/api/ledger/secret/injected`, {
          method: "PUT",
          body: JSON.stringify("from outside"),
        });
        assert.equal(put.status, 200);
        await waitFor(
          async () =>
            (await getJson(outsider.api, "/api/node") as NodeInfo).ledger.published > before,
          { message: "the outsider to publish its block" },
        );
        // Control for the wait below: a member write after it reaches the other member.
        await fetch(`${m1.api}/api/ledger/secret/k2`, { method: "PUT", body: "2" });
        await waitFor(async () => (await ledgerKeys(m2)).includes("secret/k2"), {
          message: "secret/k2 on the second member",
        });
        for (const m of [m1, m2]) {
          const keys = await ledgerKeys(m);
          assert.ok(!keys.includes("secret/injected"), `a member adopted the outsider's key`);
        }
      });

      await t.step(
        "raw and forged messages on the members' topic are dropped, node alive",
        async () => {
          // The attacker knows the topic name (a test shortcut: without the token it cannot).
          const attacker = await inProcessNode(outsiderToken, false);
          inProcess.push(attacker);
          const token = decodeToken(memberToken);
          const topic = topicAt(token, Date.now() / 1000);
          attacker.services.pubsub.subscribe(topic);
          await attacker.dial(multiaddr(m1.addr));
          // A hostile node sends to everyone (a p2p node sends strangers nothing).
          attacker.services.membership.prove(m1.start.peerId, "challenge");
          await waitFor(
            () =>
              attacker.services.pubsub.getSubscribers(topic).some((p) =>
                p.toString() === m1.start.peerId
              ),
            { message: "the member's subscription to reach the attacker" },
          );
          const dropped = async () =>
            (await getJson(m1.api, "/api/node") as NodeInfo).ledger.dropped;
          const before = await dropped();
          const outsiderKey = sealKeyAt(decodeToken(outsiderToken), Date.now() / 1000);
          const forged = nextBlock(
            genesisBlock(new Date()),
            withValue({}, "secret", "forged", '"forged"'),
            new Date(),
          );
          forged.Index = 1_000_000; // would win any merge if it were opened
          const payloads: [string, Uint8Array][] = [
            ["not-json", crypto.getRandomValues(new Uint8Array(512))],
            ["bad-envelope", new TextEncoder().encode('{"Message":7}')],
            ["bad-hex", new TextEncoder().encode('{"Message":"zz"}')],
            ["wrong-key", encodeEnvelope(forged, outsiderKey)],
          ];
          for (const [, data] of payloads) {
            await attacker.services.pubsub.publish(topic, data);
          }
          // The first one is dropped before it is forwarded, and the attacker is cut off: the
          // rest never arrive.
          const after = await waitFor(async () => {
            const d = await dropped();
            const total = (r: Record<string, number>) =>
              Object.values(r).reduce((a, b) => a + b, 0);
            return total(d) > total(before) &&
                attacker.getConnections(peerIdFromString(m1.start.peerId)).length === 0
              ? d
              : false;
          }, { message: "the member to drop the first forged message and hang up" });
          report.push(`member dropped counters after forged messages: ${JSON.stringify(after)}`);
          // Held off: a redial is closed at once by the member.
          await attacker.dial(multiaddr(m1.addr)).catch(() => undefined);
          await waitFor(
            () => attacker.getConnections(peerIdFromString(m1.start.peerId)).length === 0,
            { message: "the member to refuse the held-off attacker's redial" },
          );
          for (const m of [m1, m2]) {
            assert.ok(
              !(await ledgerKeys(m)).includes("secret/forged"),
              "a forged block was adopted",
            );
            assert.equal((await fetch(`${m.api}/healthz`)).status, 200);
          }
        },
      );

      await t.step(
        "an outsider cannot open a service stream (reset, no bytes, target untouched)",
        async () => {
          // Another outsider (the first one is held off, so it cannot even connect).
          const attacker = await inProcessNode(outsiderToken, false);
          inProcess.push(attacker);
          const acceptedBefore = backend.accepted;
          for (const protocol of [SERVICE_PROTOCOL, SERVICE_ACK_PROTOCOL]) {
            const started = Date.now();
            const stream: Stream = await attacker.dialProtocol(multiaddr(m1.addr), protocol);
            let received = 0;
            stream.addEventListener("message", (e) => void (received += e.data.byteLength));
            const closed = new Promise<Error | undefined>((resolve) =>
              stream.addEventListener("close", (e) => resolve(e.error), { once: true })
            );
            stream.send(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
            const error = await withTimeout(
              closed.then((e) => ({ e })),
              10_000,
              "the service stream to be closed",
            );
            const ms = Date.now() - started;
            assert.ok(error.e !== undefined, `${protocol}: closed without a reset`);
            assert.equal(received, 0, `${protocol}: the outsider received bytes`);
            report.push(
              `service stream ${protocol} from an outsider: reset after ${ms} ms, 0 bytes`,
            );
          }
          assert.equal(backend.accepted, acceptedBefore, "the target saw a connection");
          assert.equal((await fetch(`${m1.api}/healthz`)).status, 200);
        },
      );

      await t.step("--private: outsiders fail the handshake (refused, not timed out)", async () => {
        const addr = multiaddr(privateMember.addr);
        const attempt = async (tokenText: string, isPrivate: boolean) => {
          const node = await inProcessNode(tokenText, isPrivate);
          inProcess.push(node);
          const started = performance.now();
          try {
            await node.dial(addr, { signal: AbortSignal.timeout(5_000) });
            return { ok: true, ms: performance.now() - started, error: "" };
          } catch (err) {
            return { ok: false, ms: performance.now() - started, error: String(err).slice(0, 120) };
          }
        };
        // Control: a member in private mode gets in.
        const member = await attempt(memberToken, true);
        assert.ok(member.ok, `a private member could not connect: ${member.error}`);
        for (
          const [what, tokenText, isPrivate] of [
            ["same token, no --private", memberToken, false],
            ["other token, --private", outsiderToken, true],
            ["other token, no --private", outsiderToken, false],
          ] as const
        ) {
          const tries = [];
          for (let i = 0; i < 5; i++) tries.push(await attempt(tokenText, isPrivate));
          assert.ok(tries.every((r) => !r.ok), `${what}: an outsider connected`);
          const ms = tries.map((r) => Math.round(r.ms));
          report.push(`--private, ${what}: refused in ${ms.join(", ")} ms (${tries[0]!.error})`);
          // Refused by the handshake itself, not left to the dial's 5 s bound (times reported).
          for (const { error } of tries) {
            assert.doesNotMatch(error, /abort|timeout|timed out/i, `${what}: ${error}`);
          }
        }
        const peers = await fetch(`${privateMember.api}/api/peers`, {
          headers: { authorization: "Bearer api-secret-1" },
        }).then((r) => r.json()) as { peerId: string }[];
        assert.equal(peers.length, 1, `only the member is connected: ${JSON.stringify(peers)}`);
      });

      await t.step(
        "the API: refused off loopback without a token (exit 1), 401 without the bearer",
        async () => {
          for (const listen of ["0.0.0.0:0", "[::]:0"]) {
            const r = await runP2P(
              ["node", "--api-listen", listen, ...loopbackFlags().slice(0, 5)],
              { env: { P2P_TOKEN: memberToken } },
            );
            assert.equal(r.code, 1, r.stderr);
            assert.match(r.stderr, /^error: Cannot serve the API on .*requires --api-token\n$/);
            assert.equal(r.stdout, "");
          }
          const api = privateMember.api;
          // The dashboard page itself is public: it holds no data and asks for the token.
          const page = await fetch(`${api}/`);
          assert.equal(page.status, 200);
          assert.ok(!(await page.text()).includes(privateMember.start.peerId));
          for (
            const path of ["/api/ledger", "/api/node", "/healthz", "/metrics", "/api/dashboard"]
          ) {
            for (const auth of [undefined, "Bearer wrong", "Basic api-secret-1", "Bearer"]) {
              const r = await fetch(
                `${api}${path}`,
                auth ? { headers: { authorization: auth } } : {},
              );
              const body = await r.text();
              assert.equal(r.status, 401, `${path} with ${auth}: ${r.status}`);
              assert.match(body, /"error"/);
              assert.ok(!body.includes("api-secret-1"));
            }
          }
          const ok = await fetch(`${api}/api/node`, {
            headers: { authorization: "Bearer api-secret-1" },
          });
          assert.equal(ok.status, 200);
          await ok.body?.cancel();
        },
      );
    } finally {
      console.log(`outsiders:\n  ${report.join("\n  ")}`);
      await Promise.allSettled(inProcess.map((n) => n.stop()));
      await stopAll(processes);
      await backend.stop();
    }
  },
});
