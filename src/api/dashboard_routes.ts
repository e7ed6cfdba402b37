import { VERSION } from "../node/version.ts";
import { USERS_BUCKET } from "../services/constants.ts";
import { asNodeData } from "../services/records.ts";
import { DASHBOARD_HTML } from "./dashboard/page.ts";
import { poolWorkers } from "./p2p_routes.ts";
import { HttpError, json, type Router } from "./router.ts";
import type { ApiState } from "./state.ts";

/** Buckets whose entries are worker NodeData: pools, whether or not this node follows them. */
function poolBuckets(state: ApiState): string[] {
  const buckets = new Set(state.pools.buckets());
  for (const [bucket, entries] of Object.entries(state.network.ledger.storage)) {
    const values = Object.values(entries);
    if (values.length === 0) continue;
    const first = values[0];
    try {
      if (first !== undefined && asNodeData(JSON.parse(first)) !== undefined) buckets.add(bucket);
    } catch {
      // not JSON: not a pool
    }
  }
  return [...buckets].sort();
}

/**
 * Members the ledger knows (the `users` bucket: peers that announced themselves), for the
 * network picture; at most this many, so that a huge network cannot bloat every poll.
 */
const MAX_LEDGER_MEMBERS = 500;

/** Everything the dashboard shows but its charts (`/api/history`), in one document. */
export function dashboardSnapshot(state: ApiState): unknown {
  const { network } = state;
  const storage = network.ledger.storage;
  return {
    node: {
      peerId: network.peerId.toString(),
      role: state.role,
      version: VERSION,
      uptimeS: Math.round((network.now() - network.startedAt) / 1000),
      addresses: network.node.getMultiaddrs().map(String),
      ledgerIndex: network.ledger.block.Index,
    },
    peers: network.node.getConnections().map((c) => ({
      peerId: c.remotePeer.toString(),
      address: c.remoteAddr.toString(),
      direction: c.direction,
    })),
    pools: poolBuckets(state)
      .map((bucket) => ({ bucket, workers: poolWorkers(state, bucket) }))
      .filter((pool) => pool.workers.length > 0),
    members: Object.keys(storage[USERS_BUCKET] ?? {}).sort().slice(0, MAX_LEDGER_MEMBERS),
    // Peers that proved they hold the token (what `member` of /api/peers will say, when it does).
    proven: network.membership.members().sort().slice(0, MAX_LEDGER_MEMBERS),
    federated: state.federated?.() ?? null,
    ledger: Object.keys(storage).sort().map((bucket) => ({
      bucket,
      keys: Object.keys(storage[bucket] ?? {}).length,
    })),
    at: network.now(),
  };
}

/** The `since` query parameter of `/api/history`: ms since the epoch, or none. */
function sinceOf(request: Request): number {
  const text = new URL(request.url).searchParams.get("since");
  if (text === null || text === "") return -Infinity;
  const since = Number(text);
  if (!Number.isFinite(since)) {
    throw new HttpError(400, `Cannot read since "${text}": expected ms since the epoch`);
  }
  return since;
}

/**
 * Adds the dashboard page at `GET /`, its data at `GET /api/dashboard` and the charts' data
 * at `GET /api/history[?since=MS]` (the samples taken after `since`, so that a page that
 * polls gets only what is new).
 */
export function addDashboardRoutes(router: Router, state: ApiState): Router {
  return router
    .add("GET", "/", () =>
      new Response(DASHBOARD_HTML, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy":
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; form-action 'none'; frame-ancestors 'none'",
        },
      }))
    .add("GET", "/api/dashboard", () => json(dashboardSnapshot(state)))
    .add("GET", "/api/history", (request) =>
      // Compact (not json()'s indented form): a full history is thousands of numbers.
      new Response(JSON.stringify(state.history.read(sinceOf(request))), {
        headers: { "content-type": "application/json; charset=utf-8" },
      }));
}
