// What the network picture draws, decided without a browser: nodes, groups and edges with
// their path (direct, relayed via X, limited), from the API's data as it is today (no NAT
// fields: direct) and as it will be (relayed, relay, limits, member).
import assert from "node:assert/strict";
import {
  buildGraphModel,
  type GraphModelInput,
  type GraphPeerInput,
} from "../../../src/api/dashboard/graph_model.ts";

const SELF = "12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf";
const id = (name: string) => `12D3KooW${name.padEnd(44, "x")}`;

function input(overrides: Partial<GraphModelInput>): GraphModelInput {
  return { selfId: SELF, role: "federated", pools: [], peers: [], members: [], ...overrides };
}

const demoWorkers = ["alpha", "bravo", "charlie"].map((name) => ({
  name,
  id: `demo-${name}`,
  peerId: id(name),
  online: true,
}));

Deno.test("graph model: the demo's balancer and three workers, one direct edge each", () => {
  const model = buildGraphModel(input({
    pools: [{ bucket: "federated", workers: demoWorkers }],
    // Today's /api/peers: no relayed, relay, limits or member fields.
    peers: demoWorkers.map((w) => ({ peerId: w.peerId, addresses: [], direction: "inbound" })),
    members: [SELF],
  }));
  assert.equal(model.self.id, SELF);
  assert.equal(model.self.kind, "self");
  assert.deepEqual(model.nodes.map((n) => [n.label, n.kind, n.state, n.group]), [
    ["alpha", "worker", "online", "federated"],
    ["bravo", "worker", "online", "federated"],
    ["charlie", "worker", "online", "federated"],
  ]);
  assert.deepEqual(model.groups, ["federated"]);
  assert.deepEqual(
    model.edges.map((e) => [e.from, e.to, e.path]),
    demoWorkers.map((w) => [SELF, w.peerId, "direct"]),
  );
  assert.equal(model.omitted, 0);
});

Deno.test("graph model: relayed through a relay in the picture is drawn from the relay", () => {
  const relay = id("relay");
  const peers: GraphPeerInput[] = [
    { peerId: relay, direction: "outbound", relayed: false, member: true },
    { peerId: id("behindnat"), direction: "outbound", relayed: true, relay, member: true },
    // Its relay is not connected to us: drawn from this node, still naming the relay.
    { peerId: id("farrelayed"), relayed: true, relay: id("unknown"), member: true },
    { peerId: id("limited"), relayed: true, relay, limits: { bytes: 131072, seconds: 120 } },
    // As the API reports a relay with edgevpn's limits: limits, but not tight.
    {
      peerId: id("roomy"),
      relayed: true,
      relay,
      limits: { bytes: 2 ** 30, seconds: 1799 },
      tight: false,
    },
    { peerId: id("stranger"), member: false },
  ];
  const model = buildGraphModel(input({ peers }));
  const edge = (to: string) => model.edges.find((e) => e.to === to)!;
  assert.deepEqual(edge(relay), {
    from: SELF,
    to: relay,
    path: "direct",
    title: edge(relay).title,
  });
  assert.equal(edge(id("behindnat")).from, relay);
  assert.equal(edge(id("behindnat")).path, "relayed");
  assert.equal(edge(id("behindnat")).via, relay);
  assert.equal(edge(id("farrelayed")).from, SELF);
  assert.equal(edge(id("farrelayed")).via, id("unknown"));
  assert.match(edge(id("farrelayed")).title, new RegExp(`relayed via ${id("unknown")}`));
  assert.equal(edge(id("limited")).path, "limited");
  assert.equal(edge(id("limited")).from, relay);
  assert.match(edge(id("limited")).title, /limited to 131072 B \/ 120 s/);
  assert.equal(edge(id("roomy")).path, "relayed");
  const state = (peer: string) => model.nodes.find((n) => n.id === peer)!.state;
  assert.equal(state(id("stranger")), "stranger");
  assert.equal(state(relay), "connected");
  assert.deepEqual(model.groups, ["peers"]);
});

Deno.test("graph model: membership falls back to proofs, then to the ledger's members", () => {
  const peers = [{ peerId: id("proved") }, { peerId: id("ledger") }, { peerId: id("neither") }];
  const model = buildGraphModel(input({ peers, members: [id("ledger")], proven: [id("proved")] }));
  const state = new Map(model.nodes.map((n) => [n.id, n.state]));
  assert.equal(state.get(id("proved")), "connected");
  assert.equal(state.get(id("ledger")), "connected");
  assert.equal(state.get(id("neither")), "stranger");
});

Deno.test("graph model: ledger members not connected are drawn without an edge", () => {
  const model = buildGraphModel(input({
    peers: [{ peerId: id("near") }],
    members: [SELF, id("near"), id("far")],
  }));
  assert.deepEqual(model.nodes.map((n) => [n.id, n.group, n.state, n.connected]), [
    [id("near"), "peers", "connected", true],
    [id("far"), "members", "known", false],
  ]);
  assert.deepEqual(model.edges.map((e) => e.to), [id("near")]);
  assert.deepEqual(model.groups, ["peers", "members"]);
});

Deno.test("graph model: offline workers, a peer in two pools, this node's own worker", () => {
  const model = buildGraphModel(input({
    pools: [
      {
        bucket: "worker",
        workers: [
          { name: "gpu", id: "h-gpu", peerId: id("box"), online: false, offlineReason: "stale" },
          { name: "mine", id: "h-mine", peerId: SELF, online: true },
          { name: "lost", id: "h-lost", peerId: null, online: false, offlineReason: "no-service" },
        ],
      },
      {
        bucket: "federated",
        workers: [{ name: "api", id: "h-api", peerId: id("box"), online: true }],
      },
    ],
  }));
  const box = model.nodes.find((n) => n.id === id("box"))!;
  // One node per peer, in the first pool by name, online if any of its workers is.
  assert.equal(box.label, "api, gpu");
  assert.equal(box.group, "federated");
  assert.equal(box.state, "online");
  assert.match(box.title, /worker\/gpu: offline \(stale\)/);
  const lost = model.nodes.find((n) => n.id === "worker:worker/lost")!;
  assert.equal(lost.state, "offline");
  assert.ok(!model.nodes.some((n) => n.id === SELF), "this node is not drawn twice");
  assert.match(model.self.title, /worker\/mine: online/);
  assert.deepEqual(model.groups, ["federated", "worker"]);
});

Deno.test("graph model: over maxNodes, members not connected are left out first", () => {
  const model = buildGraphModel(input({
    pools: [{ bucket: "federated", workers: demoWorkers }],
    peers: [{ peerId: id("peer") }],
    members: Array.from({ length: 20 }, (_, i) => id(`member${i}`)),
    maxNodes: 6,
  }));
  assert.equal(model.nodes.length, 6);
  assert.equal(model.omitted, 18);
  assert.deepEqual(model.nodes.map((n) => n.kind), [
    "worker",
    "worker",
    "worker",
    "peer",
    "member",
    "member",
  ]);
});
