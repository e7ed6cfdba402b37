// Secrets and limits, with processes on loopback.
//
// A full run (`p2p node` + `worker` + `connect` + `federated`, every one at --log-level trace,
// once with --log-format json and libp2p's own debug logs on, once in text) moves traffic
// through the balancer and the tunnel and writes the ledger; then no process's stderr (nor its
// stdout) contains the token, an otp key, the room, the rendezvous or mDNS secrets, a seal key
// or a TOTP the topic and rendezvous are derived from (computed with src/token/derive.ts), or
// the API token. Identity files are mode 0600. Limits are enforced by refusal, never by a crash:
// `federated --max-connections 2` closes a 3rd client, more streams than a connection allows
// from one peer are reset, and ledger writes over the gossip cap get a 413 JSON error.
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
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { type Block, genesisBlock, nextBlock, withValue } from "../../src/ledger/block.ts";
import { encodeEnvelope } from "../../src/ledger/envelope.ts";
import { createLibp2pNode } from "../../src/node/create_node.ts";
import { PRIVATE_NETWORK_LABEL, YAMUX_MAX_STREAMS } from "../../src/node/constants.ts";
import { SERVICE_PROTOCOL } from "../../src/services/constants.ts";
import { sealKeyAt, topicAt, totp } from "../../src/token/derive.ts";
import { encodeToken, generateTokenConfig, type NetworkToken } from "../../src/token/token.ts";
import { type FederatedView, fetchThrough, hold, TestBackend } from "./_fixtures.ts";

const API_TOKEN = "api-bearer-secret-0123456789";

/** Every secret a log line must never show, with a name for the failure message. */
function secretsOf(token: NetworkToken, tokenText: string): Map<string, string> {
  const secrets = new Map<string, string>([
    ["token", tokenText],
    ["token (first 32 characters)", tokenText.slice(0, 32)],
    ["otp.dht.key", token.otp.dht.key],
    ["otp.crypto.key", token.otp.crypto.key],
    ["room", token.room],
    ["rendezvous", token.rendezvous],
    ["mdns", token.mdns],
    ["api token", API_TOKEN],
  ]);
  const now = Date.now() / 1000;
  const { dht, crypto } = token.otp;
  // Every window a run of this test can touch, with the rotation grace on both sides.
  for (const t of [now - 3600, now - 60, now - 30, now, now + 30, now + 60, now + 3600]) {
    secrets.set(`seal key at ${Math.round(t)}`, sealKeyAt(token, t));
    secrets.set(
      `room TOTP at ${Math.round(t)}`,
      totp(token.room, crypto.interval, crypto.length, t),
    );
    secrets.set(`dht TOTP at ${Math.round(t)}`, totp(dht.key, dht.interval, dht.length, t));
  }
  // The noise prologue of --private (sha256 of the label and the secrets), in hex and base64.
  const prologue = createHash("sha256")
    .update(`${PRIVATE_NETWORK_LABEL}\nnoise\n${token.room}\n${token.otp.crypto.key}`).digest();
  secrets.set("private prologue (hex)", prologue.toString("hex"));
  secrets.set("private prologue (base64)", prologue.toString("base64"));
  return secrets;
}

function findLeaks(secrets: Map<string, string>, text: string): string[] {
  const leaks: string[] = [];
  for (const [name, secret] of secrets) {
    if (secret.length < 8) continue; // too short to grep meaningfully
    const at = text.indexOf(secret);
    if (at >= 0) {
      const line = text.slice(text.lastIndexOf("\n", at) + 1, text.indexOf("\n", at));
      leaks.push(`${name} in: ${line.slice(0, 300)}`);
    }
  }
  return leaks;
}

async function modeOf(path: string): Promise<string> {
  return ((await Deno.stat(path)).mode! & 0o777).toString(8);
}

for (const format of ["json", "text"] as const) {
  Deno.test({
    name: `secrets (${format} logs, trace level): no secret in any log; identity files 0600${
      format === "json" ? "; max connections and max streams refused, not crashed" : ""
    }`,
    ...NODE_TEST,
    async fn(t) {
      const token = generateTokenConfig();
      const tokenText = encodeToken(token);
      const dir = await Deno.makeTempDir({ prefix: "p2p-secrets-" });
      const env: Record<string, string> = {
        P2P_TOKEN: tokenText,
        P2P_LOG_LEVEL: "trace",
        P2P_LOG_FORMAT: format,
        ...(format === "json" ? { DEBUG: "libp2p:*" } : {}),
      };
      const backend = new TestBackend("w1");
      const processes: RunningNode[] = [];
      const report: string[] = [];
      try {
        const node = await spawnNode(
          [
            "node",
            "--identity",
            `${dir}/node.key`,
            "--api-token",
            API_TOKEN,
            "--log-level",
            "trace",
            "--log-format",
            format,
            ...loopbackFlags(),
          ],
          env,
        );
        processes.push(node);
        const [worker, federated, connect] = await Promise.all([
          spawnNode(
            [
              "worker",
              "--target",
              backend.address,
              "--name",
              "w1",
              "--identity",
              `${dir}/worker.key`,
              ...loopbackFlags([node.addr]),
            ],
            env,
          ),
          spawnNode(
            [
              "federated",
              "--listen",
              "127.0.0.1:0",
              "--max-connections",
              "2",
              ...loopbackFlags([node.addr]),
            ],
            env,
          ),
          spawnNode(["connect", "--service", "w1", ...loopbackFlags([node.addr])], env),
        ]);
        processes.push(worker, federated, connect);
        const balancer = String(federated.start.listen);
        const tunnel = String(connect.start.listen);

        await t.step("identity files are created with mode 0600", async () => {
          assert.equal(await modeOf(`${dir}/node.key`), "600");
          assert.equal(await modeOf(`${dir}/worker.key`), "600");
        });

        await t.step("traffic: balancer, tunnel, ledger writes", async () => {
          await waitFor(async () => {
            const r = await fetchThrough(balancer, 64 * 1024);
            return r.outcome === "ok";
          }, { timeoutMs: 20_000, intervalMs: 100, message: "a download through the balancer" });
          const viaTunnel = await waitFor(async () => {
            const r = await fetchThrough(tunnel, 64 * 1024);
            return r.outcome === "ok" ? r : false;
          }, { timeoutMs: 20_000, intervalMs: 100, message: "a download through the tunnel" });
          assert.equal(viaTunnel.worker, "w1");
          const auth = { authorization: `Bearer ${API_TOKEN}` };
          for (let i = 0; i < 3; i++) {
            const r = await fetch(`${node.api}/api/ledger/secrets/k${i}`, {
              method: "PUT",
              headers: auth,
              body: JSON.stringify({ i }),
            });
            assert.equal(r.status, 200, await r.text());
          }
          await waitFor(async () => {
            const v = await getJson(worker.api, "/api/ledger/secrets").catch(() => undefined);
            return v !== undefined && Object.keys(v as object).length === 3;
          }, { message: "the ledger writes on the worker" });
          // A bad token is refused without echoing any of it.
          const bad = Buffer.from(
            Buffer.from(tokenText, "base64").toString().replace(/interval: 9000/, "interval: x"),
          ).toString("base64");
          const refused = await runP2P(["worker", "--target", "127.0.0.1:1"], {
            env: { P2P_TOKEN: bad },
          });
          assert.equal(refused.code, 1);
          assert.deepEqual(findLeaks(secretsOf(token, tokenText), refused.stderr), []);
          assert.ok(!refused.stderr.includes(bad.slice(0, 24)));
        });

        if (format === "json") {
          await t.step("federated --max-connections 2 refuses the 3rd client cleanly", async () => {
            const held = [await hold(balancer), await hold(balancer)];
            const third = await fetchThrough(balancer, 0, 5_000);
            // Closed at once: no answer, no hang.
            assert.equal(third.outcome, "closed", JSON.stringify(third));
            assert.equal(third.bytes, 0);
            const view = await getJson(federated.api, "/api/federated") as FederatedView;
            assert.equal(view.refused, 1);
            assert.ok(held.every((h) => !h.done), "a held connection was dropped");
            held[0]!.close();
            await withTimeout(held[0]!.ended, 5_000, "the held connection to end");
            // A slot is free again: the next client is served.
            await waitFor(async () => (await fetchThrough(balancer, 0)).outcome === "ok", {
              timeoutMs: 5_000,
              message: "a client served after a slot freed",
            });
            held[1]!.close();
            report.push(`3rd client closed with 0 bytes; refused=${view.refused}`);
          });

          await t.step(
            "more streams than a connection allows from one peer: reset, node alive",
            async () => {
              // A plain libp2p peer that allows itself many outbound streams (our muxer takes
              // YAMUX_MAX_STREAMS per connection).
              const peer = await createLibp2p({
                addresses: { listen: [] },
                transports: [tcp()],
                connectionEncrypters: [noise()],
                streamMuxers: [yamux({ maxOutboundStreams: 10_000, maxEarlyStreams: 10_000 })],
                connectionManager: { dialTimeout: 5_000 },
              });
              await peer.start();
              try {
                const count = YAMUX_MAX_STREAMS + 500;
                await peer.dial(multiaddr(worker.addr));
                const backendBefore = backend.accepted;
                const started = Date.now();
                const outcomes = await Promise.all(
                  Array.from({ length: count }, async () => {
                    let s;
                    try {
                      s = await peer.dialProtocol(multiaddr(worker.addr), SERVICE_PROTOCOL, {
                        maxOutboundStreams: 10_000,
                        signal: AbortSignal.timeout(10_000),
                      });
                    } catch {
                      return { outcome: "refused", ms: Date.now() - started };
                    }
                    // Streams past the per-protocol limit are reset right after the protocol
                    // answer: both frames can arrive in one read, and the reset is then
                    // handled before this line runs (its 'close' event already fired).
                    if (s.status !== "open") return { outcome: "closed", ms: Date.now() - started };
                    try {
                      const ms = await withTimeout(
                        new Promise<number>((resolve) =>
                          s.addEventListener("close", () => resolve(Date.now() - started), {
                            once: true,
                          })
                        ),
                        15_000,
                        "an accepted stream to be closed",
                      );
                      return { outcome: "closed", ms };
                    } catch {
                      return { outcome: "left open", ms: Date.now() - started };
                    }
                  }),
                );
                const by = (outcome: string) => outcomes.filter((o) => o.outcome === outcome);
                const [refused, closed] = [by("refused"), by("closed")];
                report.push(
                  `${count} streams from one peer: ${refused.length} refused (last after ${
                    Math.max(0, ...refused.map((o) => o.ms))
                  } ms), ${closed.length} accepted then reset (not a member) by ${
                    Math.max(0, ...closed.map((o) => o.ms))
                  } ms`,
                );
                // Not one stream stays open, and none reaches the service: a stranger.
                assert.deepEqual(by("left open"), []);
                assert.equal(refused.length + closed.length, count);
                assert.equal(backend.accepted, backendBefore);
              } finally {
                await peer.stop();
              }
              // Alive and serving.
              assert.equal((await fetch(`${worker.api}/healthz`)).status, 200);
              const after = await fetchThrough(balancer, 64 * 1024);
              assert.equal(after.outcome, "ok", JSON.stringify(after));
            },
          );
        }

        await t.step("no secret in any log or output; clean exits", async () => {
          const statuses = await Promise.all(processes.map((p) => p.process.stop("SIGTERM")));
          const secrets = secretsOf(token, tokenText);
          const names = ["node", "worker", "federated", "connect"];
          let bytes = 0;
          for (const [i, p] of processes.entries()) {
            const stderr = p.process.stderrText;
            const stdout = p.process.stdoutLines.join("\n");
            bytes += stderr.length;
            assert.deepEqual(findLeaks(secrets, stderr), [], `stderr of ${names[i]}`);
            assert.deepEqual(findLeaks(secrets, stdout), [], `stdout of ${names[i]}`);
            assert.equal(statuses[i]!.code, 0, `${names[i]} exit code\n${stderr.slice(-2000)}`);
            if (format === "json") {
              // Our own lines are JSON Lines; libp2p's debug lines (DEBUG) are its own text.
              const ours = stderr.split("\n").filter((l) => l.startsWith("{"));
              assert.ok(ours.length > 0, `no JSON log line from ${names[i]}`);
              for (const line of ours) JSON.parse(line);
            }
          }
          report.push(
            `${processes.length} processes, ${(bytes / 1024).toFixed(0)} KiB of stderr (${format}${
              format === "json" ? " + DEBUG=libp2p:*" : ""
            }), ${secrets.size} secrets grepped: none found`,
          );
        });
      } finally {
        console.log(`secrets (${format}):\n  ${report.join("\n  ")}`);
        await stopAll(processes);
        await backend.stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name:
    "limits: ledger writes over the gossip cap get 413 JSON; oversize gossip is dropped; nodes live",
  ...NODE_TEST,
  async fn() {
    const token = { ...generateTokenConfig(), maxMessageSize: 64 * 1024 };
    const tokenText = encodeToken(token);
    const processes: RunningNode[] = [];
    let attacker: Awaited<ReturnType<typeof createLibp2pNode>> | undefined;
    try {
      const n1 = await spawnNode(["node", ...loopbackFlags()], { P2P_TOKEN: tokenText });
      processes.push(n1);
      const n2 = await spawnNode(["node", ...loopbackFlags([n1.addr])], { P2P_TOKEN: tokenText });
      processes.push(n2);
      const put = (api: string, key: string, body: string) =>
        fetch(`${api}/api/ledger/limits/${key}`, { method: "PUT", body });
      // Random hex does not compress: 100 KB of it seals to more than the 64 KiB cap.
      const big = JSON.stringify(
        Buffer.from(crypto.getRandomValues(new Uint8Array(50_000)))
          .toString("hex"),
      );
      const tooBig: [string, string][] = [
        ["over the gossip cap", big],
        ["over 1 MiB", `"${"x".repeat(1_100_000)}"`],
      ];
      for (const [what, body] of tooBig) {
        const r = await put(n1.api, "big", body);
        const answer = await r.json() as { error?: string };
        assert.equal(r.status, 413, `${what}: ${JSON.stringify(answer)}`);
        assert.equal(typeof answer.error, "string", what);
        assert.match(r.headers.get("content-type") ?? "", /application\/json/);
      }
      assert.equal((await fetch(`${n1.api}/api/ledger/limits/big`)).status, 404);
      // An oversize message from a peer that has the token (its own cap is higher) is dropped.
      attacker = await createLibp2pNode({
        token: { ...token, maxMessageSize: 8 * 1024 * 1024 },
        listen: ["/ip4/127.0.0.1/tcp/0"],
        bootstrapPeers: [],
        mdns: false,
        dht: false,
      });
      await attacker.start();
      await attacker.dial(multiaddr(n1.addr));
      // It holds the token: n1 sees it as a member once the challenge is answered.
      const attackerId = attacker.peerId.toString();
      await waitFor(async () => {
        const peers = await getJson(n1.api, "/api/peers") as { peerId: string; member: boolean }[];
        return peers.some((p) => p.peerId === attackerId && p.member);
      }, { message: "n1 to see the peer with the token as a member" });
      const pubsub = attacker.services.pubsub;
      // The topic and key rotate every few seconds (edgevpn's TOTP windows): each try publishes
      // under the current ones, once n1's subscription to that topic has reached the peer.
      const publishUntil = (block: Block, done: () => Promise<boolean>, message: string) =>
        waitFor(async () => {
          if (await done()) return true;
          const now = Date.now() / 1000;
          const topic = topicAt(token, now);
          pubsub.subscribe(topic);
          if (pubsub.getSubscribers(topic).some((p) => p.toString() === n1.start.peerId)) {
            // A window that closes between the check and the send only costs this try.
            await pubsub.publish(topic, encodeEnvelope(block, sealKeyAt(token, now)))
              .catch(() => {});
          }
          return false;
        }, { timeoutMs: 15_000, intervalMs: 500, message });
      const block = nextBlock(
        genesisBlock(new Date()),
        withValue({}, "limits", "oversize", big),
        new Date(),
      );
      block.Index = 1_000_000;
      // n1's hub drops it as oversize (counted), the node lives and still replicates.
      await publishUntil(block, async () => {
        const info = await getJson(n1.api, "/api/node") as {
          ledger: { dropped: { oversize?: number } };
        };
        return (info.ledger.dropped.oversize ?? 0) > 0;
      }, "n1 to count the oversize message as dropped");
      // A normal write on n2 reaches n1.
      assert.equal((await put(n2.api, "small", '"ok"')).status, 200);
      await waitFor(async () => (await fetch(`${n1.api}/api/ledger/limits/small`)).status === 200, {
        message: "a normal write to replicate after the oversize message",
      });
      assert.equal((await fetch(`${n1.api}/api/ledger/limits/oversize`)).status, 404);
      for (const n of [n1, n2]) assert.equal((await fetch(`${n.api}/healthz`)).status, 200);
      // Control: the same peer's next, normal-sized block is adopted (the path works, and the
      // oversize message did not cut it).
      const current = await getJson(n1.api, "/api/node") as { ledger: { index: number } };
      const storage = await getJson(n1.api, "/api/ledger") as Record<
        string,
        Record<string, string>
      >;
      const follow = nextBlock(
        { ...genesisBlock(new Date()), Index: current.ledger.index + 5 },
        withValue(storage, "limits", "from-peer", '"small"'),
        new Date(),
      );
      await publishUntil(
        follow,
        async () => (await fetch(`${n1.api}/api/ledger/limits/from-peer`)).status === 200,
        "the peer's normal block after its oversize one",
      );
      const info = await getJson(n1.api, "/api/node") as { ledger: { dropped: object } };
      console.log(
        `limits: n1 dropped ${JSON.stringify(info.ledger.dropped)} after the oversize message`,
      );
      const statuses = await Promise.all(processes.map((p) => p.process.stop("SIGTERM")));
      assert.deepEqual(statuses.map((s) => s.code), [0, 0]);
    } finally {
      await attacker?.stop();
      await stopAll(processes);
    }
  },
});
