import "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { backoffDelay } from "../../src/node/backoff.ts";
import { matchCapabilities } from "../../src/messaging/capabilities.ts";
import { type MemberRecord, parseMemberRecord } from "../../src/messaging/member_record.ts";
import { matchesQuery, type PeerMatch, rankMatches } from "../../src/messaging/peer_query.ts";
import { percentile, StatsRecorder } from "../../src/messaging/stats.ts";
import { topicName, topicSealKey } from "../../src/token/derive.ts";
import { generateTokenConfig } from "../../src/token/token.ts";

const ADVERTISED = {
  models: ["llama3", "phi3"],
  gpu: true,
  vram: 24,
  region: "eu",
  hw: { arch: "x86_64", cores: 16, accel: ["cuda", "vulkan"] },
};

Deno.test("matchCapabilities() needs every queried array item to be advertised", () => {
  assert.equal(matchCapabilities({ models: ["phi3"] }, ADVERTISED), true);
  assert.equal(matchCapabilities({ models: ["phi3", "llama3"] }, ADVERTISED), true);
  assert.equal(matchCapabilities({ models: ["phi3", "mistral"] }, ADVERTISED), false);
  assert.equal(matchCapabilities({ models: [] }, ADVERTISED), true);
  assert.equal(matchCapabilities({ region: ["eu"] }, ADVERTISED), false); // not an array there
});

Deno.test("matchCapabilities() compares scalars by equality, or as an item of an array", () => {
  assert.equal(matchCapabilities({ gpu: true, vram: 24 }, ADVERTISED), true);
  assert.equal(matchCapabilities({ gpu: false }, ADVERTISED), false);
  assert.equal(matchCapabilities({ vram: "24" }, ADVERTISED), false);
  assert.equal(matchCapabilities({ models: "llama3" }, ADVERTISED), true);
  assert.equal(matchCapabilities({ models: "mistral" }, ADVERTISED), false);
});

Deno.test("matchCapabilities() needs every key, recursing into objects", () => {
  assert.equal(matchCapabilities({ missing: 1 }, ADVERTISED), false);
  assert.equal(matchCapabilities({}, ADVERTISED), true);
  assert.equal(matchCapabilities({ hw: { arch: "x86_64" } }, ADVERTISED), true);
  assert.equal(matchCapabilities({ hw: { accel: ["cuda"] } }, ADVERTISED), true);
  assert.equal(matchCapabilities({ hw: { accel: ["metal"] } }, ADVERTISED), false);
  assert.equal(matchCapabilities({ hw: { arch: "arm64" } }, ADVERTISED), false);
  assert.equal(matchCapabilities({ region: { a: 1 } }, ADVERTISED), false);
  assert.equal(matchCapabilities({ toString: "x" }, ADVERTISED), false); // own keys only
});

function record(peerId: string, overrides: Partial<MemberRecord> = {}): MemberRecord {
  return {
    peerId,
    capabilities: ADVERTISED,
    pools: ["worker"],
    startedAt: 1_000_000,
    addresses: [`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`],
    updatedAt: 1_000_000,
    ...overrides,
  };
}

Deno.test("parseMemberRecord() keeps valid records and drops anything else", () => {
  const good = record("A");
  assert.deepEqual(parseMemberRecord("A", good), good);
  assert.equal(parseMemberRecord("B", good), undefined);
  for (
    const broken of [
      null,
      [],
      "x",
      { ...good, capabilities: [] },
      { ...good, pools: "worker" },
      { ...good, addresses: [1] },
      { ...good, startedAt: "now" },
      { ...good, updatedAt: -1 },
    ]
  ) {
    assert.equal(parseMemberRecord("A", broken), undefined, JSON.stringify(broken));
  }
});

Deno.test("parseMemberRecord() hands out copies of a frozen ledger value", () => {
  const frozen = structuredClone(record("A"));
  for (const inner of [frozen.capabilities, frozen.pools, frozen.addresses]) Object.freeze(inner);
  Object.freeze(frozen);
  const parsed = parseMemberRecord("A", frozen)!;
  parsed.pools.push("extra");
  parsed.addresses.length = 0;
  (parsed.capabilities as Record<string, unknown>).gpu = false;
  assert.deepEqual(frozen, record("A"));
});

Deno.test("matchesQuery() checks pool, capabilities and uptime", () => {
  const now = 1_000_000 + 120_000;
  const r = record("A");
  assert.equal(matchesQuery(r, {}, now), true);
  assert.equal(matchesQuery(r, { pool: "worker" }, now), true);
  assert.equal(matchesQuery(r, { pool: "federated" }, now), false);
  assert.equal(matchesQuery(r, { capabilities: { gpu: true } }, now), true);
  assert.equal(matchesQuery(r, { capabilities: { gpu: false } }, now), false);
  assert.equal(matchesQuery(r, { minUptimeS: 120 }, now), true);
  assert.equal(matchesQuery(r, { minUptimeS: 121 }, now), false);
});

Deno.test("rankMatches() orders by latency, then peer ID, within the bound and the limit", () => {
  const match = (peerId: string, rttMs: number): PeerMatch => ({
    ...record(peerId),
    rttMs,
    uptimeS: 1,
    connected: true,
  });
  const all = [match("d", 5), match("b", 1), match("c", 5), match("a", 30)];
  assert.deepEqual(rankMatches(all, {}).map((m) => m.peerId), ["b", "c", "d", "a"]);
  assert.deepEqual(rankMatches(all, { maxLatencyMs: 5 }).map((m) => m.peerId), ["b", "c", "d"]);
  assert.deepEqual(rankMatches(all, { limit: 2 }).map((m) => m.peerId), ["b", "c"]);
  assert.deepEqual(rankMatches(all, { maxLatencyMs: 0 }), []);
});

Deno.test("backoffDelay() doubles up to the cap, with jitter in the upper half", () => {
  const init = { baseMs: 100, maxMs: 1_000 };
  for (let attempt = 0; attempt < 8; attempt++) {
    const ceiling = Math.min(1_000, 100 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, { ...init, random: () => 0 }), ceiling / 2);
    assert.equal(backoffDelay(attempt, { ...init, random: () => 0.9999999 }), ceiling);
    const random = backoffDelay(attempt, init);
    assert.ok(random >= ceiling / 2 && random <= ceiling);
  }
});

Deno.test("percentile() uses the nearest rank", () => {
  assert.equal(percentile([5], 99), 5);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4], 90), 4);
  assert.equal(percentile([1, 2, 3, 4], 0), 1);
});

Deno.test("StatsRecorder counts per type and topic, and keeps only recent latencies", () => {
  const stats = new StatsRecorder(4);
  stats.sent("type", "a", 10);
  stats.sent("type", "a", 5);
  stats.received("topic", "news", 7);
  stats.rejected("stale");
  stats.rejected("stale");
  for (const ms of [1000, 1000, 1000, 1000, 1, 2, 3, 4]) stats.latency(ms);
  const s = stats.snapshot();
  assert.deepEqual(s.types.a, { messagesIn: 0, messagesOut: 2, bytesIn: 0, bytesOut: 15 });
  assert.deepEqual(s.topics.news, { messagesIn: 1, messagesOut: 0, bytesIn: 7, bytesOut: 0 });
  assert.deepEqual(s.total, { messagesIn: 1, messagesOut: 2, bytesIn: 7, bytesOut: 15 });
  assert.deepEqual(s.rejected, { stale: 2 });
  assert.deepEqual(s.requestLatencyMs, { count: 8, p50: 2, p90: 4, p99: 4 });
  // A snapshot is a copy.
  s.types.a!.messagesOut = 99;
  assert.equal(stats.snapshot().types.a!.messagesOut, 2);
});

Deno.test("topicName() and topicSealKey() depend on the token and the topic only", () => {
  const token = generateTokenConfig();
  const other = generateTokenConfig();
  assert.equal(topicName(token, "news"), topicName(structuredClone(token), "news"));
  assert.notEqual(topicName(token, "news"), topicName(token, "sport"));
  assert.notEqual(topicName(token, "news"), topicName(other, "news"));
  assert.ok(!topicName(token, "news").includes("news"));
  assert.notEqual(topicSealKey(token, "news"), topicSealKey(token, "sport"));
  assert.notEqual(topicSealKey(token, "news"), topicSealKey(other, "news"));
  assert.equal(topicSealKey(token, "news").length, 32);
});
