import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Network } from "../network/network.ts";
import { VERSION } from "../node/version.ts";
import { HttpError, json, readJson, type Router } from "./router.ts";
import { natOf, peersOf } from "./peer_views.ts";

/** Adds the node and ledger routes of `network` to `router`. */
export function addNodeRoutes(router: Router, network: Network): Router {
  const { ledger, node } = network;
  return router
    .add("GET", "/healthz", () => json({ status: "ok" }))
    .add("GET", "/api/node", () =>
      json({
        peerId: node.peerId.toString(),
        addresses: node.getMultiaddrs().map(String),
        version: VERSION,
        uptimeS: Math.round((network.now() - network.startedAt) / 1000),
        members: network.members().length,
        ledger: ledger.stats,
        ...natOf(network),
      }))
    .add("GET", "/api/peers", () => json(peersOf(network)))
    .add("GET", "/api/ping/:peer", async (_req, { peer }) => {
      const id = parsePeer(required(peer, "peer"));
      const started = performance.now();
      try {
        const rttMs = await node.services.ping.ping(id, { signal: AbortSignal.timeout(5_000) });
        return json({ peerId: id.toString(), rttMs, totalMs: performance.now() - started });
      } catch (err) {
        throw new HttpError(
          504,
          `Cannot ping ${id}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    })
    .add("GET", "/api/ledger", () => json(ledger.storage))
    .add("GET", "/api/ledger/:bucket", (_req, { bucket }) => {
      const name = required(bucket, "bucket");
      if (!Object.hasOwn(ledger.storage, name)) {
        throw new HttpError(404, `Cannot find bucket "${name}"`);
      }
      return json(ledger.bucket(name));
    })
    .add("GET", "/api/ledger/:bucket/:key", (_req, { bucket, key }) => {
      const [b, k] = [required(bucket, "bucket"), required(key, "key")];
      if (!ledger.has(b, k)) throw new HttpError(404, `Cannot find key "${k}" in bucket "${b}"`);
      return json(ledger.get(b, k));
    })
    .add("PUT", "/api/ledger/:bucket/:key", async (req, { bucket, key }) => {
      const [b, k] = [required(bucket, "bucket"), required(key, "key")];
      const value = await readJson(req);
      await ledger.put(b, k, value);
      return json({ bucket: b, key: k, value, index: ledger.block.Index });
    })
    .add("DELETE", "/api/ledger/:bucket/:key", async (_req, { bucket, key }) => {
      const [b, k] = [required(bucket, "bucket"), required(key, "key")];
      const existed = ledger.has(b, k);
      await ledger.delete(b, k);
      return json({ bucket: b, key: k, deleted: existed, index: ledger.block.Index });
    });
}

function parsePeer(text: string): PeerId {
  try {
    return peerIdFromString(text);
  } catch {
    throw new HttpError(400, `Cannot ping "${text}": not a peer ID`);
  }
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === "") throw new HttpError(400, `Cannot use empty ${name}`);
  return value;
}
