// What the network picture shows, decided from the API's data with no DOM: which nodes, in
// which group, in which state, and which edges with which path. Pure and self-contained (no
// imports, no module constants): the page embeds its source (`String(buildGraphModel)`), and
// the unit tests run the very same function.

/** A connected peer as `GET /api/peers` shows it (fields from NAT traversal may be absent). */
export interface GraphPeerInput {
  peerId: string;
  addresses?: string[];
  direction?: string;
  /** Missing means direct (nodes without NAT traversal do not report it). */
  relayed?: boolean;
  /** The relay's peer ID, for a relayed connection. */
  relay?: string;
  /** Limits of a limited (relayed) connection. */
  limits?: { bytes?: number; seconds?: number };
  /** Whether the limits are tight (a stock relay's); missing: any limit counts. */
  tight?: boolean;
  /** Whether it proved it holds the token; missing: looked up in `proven` and `members`. */
  member?: boolean;
  latencyMs?: number;
}

/** A pool as `GET /api/dashboard` shows it. */
export interface GraphPoolInput {
  bucket: string;
  workers: {
    name: string;
    id: string;
    peerId?: string | null;
    online: boolean;
    offlineReason?: string | null;
  }[];
}

/** Everything the picture is drawn from. */
export interface GraphModelInput {
  selfId: string;
  /** What this node runs (`federated`, `worker`, …). */
  role: string;
  pools: GraphPoolInput[];
  peers: GraphPeerInput[];
  /** Peer IDs of the ledger's `users` bucket. */
  members: string[];
  /** Peers that proved they hold the token (when `/api/peers` has no `member` field). */
  proven?: string[];
  /** Nodes drawn at most (besides this node); the rest are counted in `omitted`. @default {80} */
  maxNodes?: number;
}

/** A node of the picture. */
export interface GraphModelNode {
  /** A peer ID, or `worker:<pool>/<name>` for a worker no peer serves. */
  id: string;
  /** Short text drawn next to it (a worker's name, or the end of a peer ID). */
  label: string;
  /** Everything known about it, for its tooltip. */
  title: string;
  /** A pool bucket, `peers` (connected, not a worker) or `members` (in the ledger only). */
  group: string;
  kind: "self" | "worker" | "peer" | "member";
  state: "self" | "online" | "offline" | "connected" | "stranger" | "known";
  connected: boolean;
}

/** An edge: a connection of this node, through a relay when it is relayed. */
export interface GraphModelEdge {
  from: string;
  to: string;
  path: "direct" | "relayed" | "limited";
  /** The relay's peer ID, for a relayed or limited connection whose relay is known. */
  via?: string;
  title: string;
}

/** What {@linkcode buildGraphModel} returns. */
export interface GraphModel {
  self: GraphModelNode;
  nodes: GraphModelNode[];
  /** Groups in drawing order: pools (by bucket), then `peers`, then `members`. */
  groups: string[];
  edges: GraphModelEdge[];
  /** Nodes left out over `maxNodes` (members not connected first). */
  omitted: number;
}

/** Builds the picture's nodes, groups and edges from the API's data. */
export function buildGraphModel(input: GraphModelInput): GraphModel {
  const maxNodes = input.maxNodes ?? 80;
  const short = (id: string): string => id.length > 10 ? "…" + id.slice(-6) : id;
  const peersById = new Map(input.peers.map((p) => [p.peerId, p]));
  const memberSet = new Set(input.members);
  const self: GraphModelNode = {
    id: input.selfId,
    label: "this node",
    title: "this node (" + input.role + ")\n" + input.selfId,
    group: "",
    kind: "self",
    state: "self",
    connected: true,
  };
  const selfWorkers: string[] = [];

  // Workers, one node per serving peer (a peer may serve several, even in several pools).
  const workerNodes = new Map<string, GraphModelNode & { names: string[]; lines: string[] }>();
  const pools = [...input.pools].sort((a, b) => a.bucket < b.bucket ? -1 : 1);
  for (const pool of pools) {
    for (const worker of pool.workers) {
      const line = pool.bucket + "/" + worker.name + ": " +
        (worker.online ? "online" : "offline (" + (worker.offlineReason || "unknown") + ")");
      if (worker.peerId === input.selfId) {
        selfWorkers.push(line);
        continue;
      }
      const id = worker.peerId || "worker:" + pool.bucket + "/" + worker.name;
      let node = workerNodes.get(id);
      if (node === undefined) {
        node = {
          id,
          label: "",
          title: "",
          group: pool.bucket,
          kind: "worker",
          state: "offline",
          connected: peersById.has(id),
          names: [],
          lines: [],
        };
        workerNodes.set(id, node);
      }
      node.names.push(worker.name);
      node.lines.push(line);
      if (worker.online) node.state = "online";
    }
  }
  if (selfWorkers.length > 0) self.title += "\n" + selfWorkers.join("\n");

  const peerTitle = (peer: GraphPeerInput | undefined): string => {
    if (peer === undefined) return "not connected";
    const path = peer.relayed ? "relayed" + (peer.relay ? " via " + peer.relay : "") : "direct";
    const limits = peer.limits && (peer.limits.bytes !== undefined ||
        peer.limits.seconds !== undefined)
      ? ", limited" + (peer.limits.bytes !== undefined ? " to " + peer.limits.bytes + " B" : "") +
        (peer.limits.seconds !== undefined ? " / " + peer.limits.seconds + " s" : "")
      : "";
    const latency = typeof peer.latencyMs === "number"
      ? ", " + peer.latencyMs.toFixed(1) + " ms"
      : "";
    return (peer.direction ? peer.direction + ", " : "") + path + limits + latency;
  };

  const chosen: GraphModelNode[] = [];
  for (const node of workerNodes.values()) {
    const { names, lines, ...plain } = node;
    chosen.push({
      ...plain,
      label: names.join(", "),
      title: lines.join("\n") + "\n" + node.id + "\n" + peerTitle(peersById.get(node.id)),
    });
  }
  const provenSet = new Set(input.proven ?? []);
  const isMember = (peer: GraphPeerInput): boolean =>
    peer.member !== undefined
      ? peer.member
      : provenSet.has(peer.peerId) || memberSet.has(peer.peerId);
  for (const peer of [...input.peers].sort((a, b) => a.peerId < b.peerId ? -1 : 1)) {
    if (peer.peerId === input.selfId || workerNodes.has(peer.peerId)) continue;
    chosen.push({
      id: peer.peerId,
      label: short(peer.peerId),
      title: (isMember(peer) ? "member" : "not a proven member") + "\n" + peer.peerId + "\n" +
        peerTitle(peer),
      group: "peers",
      kind: "peer",
      state: isMember(peer) ? "connected" : "stranger",
      connected: true,
    });
  }
  for (const id of [...memberSet].sort()) {
    if (id === input.selfId || workerNodes.has(id) || peersById.has(id)) continue;
    chosen.push({
      id,
      label: short(id),
      title: "member (in the ledger), not connected\n" + id,
      group: "members",
      kind: "member",
      state: "known",
      connected: false,
    });
  }
  const nodes = chosen.slice(0, maxNodes);
  const drawn = new Set(nodes.map((n) => n.id));

  const edges: GraphModelEdge[] = [];
  for (const peer of input.peers) {
    if (!drawn.has(peer.peerId)) continue;
    const limited = peer.tight ?? (peer.limits !== undefined &&
      (peer.limits.bytes !== undefined || peer.limits.seconds !== undefined));
    const path = limited ? "limited" : peer.relayed ? "relayed" : "direct";
    const via = peer.relayed && peer.relay ? peer.relay : undefined;
    // A relayed connection is drawn from its relay when the relay is in the picture.
    const from = via !== undefined && drawn.has(via) ? via : input.selfId;
    edges.push({
      from,
      to: peer.peerId,
      path,
      ...(via === undefined ? {} : { via }),
      title: "this node ↔ " + peer.peerId + ": " + peerTitle(peer),
    });
  }

  const groups: string[] = [];
  for (const node of nodes) if (!groups.includes(node.group)) groups.push(node.group);
  const rank = (g: string): number => g === "members" ? 2 : g === "peers" ? 1 : 0;
  groups.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return { self, nodes, groups, edges, omitted: chosen.length - nodes.length };
}
