// Shared pieces of the interop suites: a `p2p node` and a Go edgevpn peer on one token, and
// ledger reads on both sides. Loopback only, DHT off, bootstrap by address.
import {
  getJson,
  loopbackFlags,
  NODE_TEST,
  type RunningNode,
  sendJson,
  spawnNode,
  stopAll,
  waitFor,
} from "../../_helpers/mod.ts";
import { GO, type GoPeer, startGoPeer } from "./_go_peer.ts";

export { NODE_TEST };

/** Options of every interop test: skipped (one line said why) when Go is missing. */
export const INTEROP_TEST = { ...NODE_TEST, ignore: GO === undefined } as const;

/** Gossip reaches the other side within a few seconds; edgevpn re-announces within ≤ 15 s. */
export const GOSSIP_MS = 20_000;

/**
 * A Go peer's `users` entry at our node: LocalAI writes it every 10 s, and a write that ties
 * with one of our blocks at the same index is lost when our hash is higher (edgevpn's rule;
 * the README's differences from edgevpn): three of its writes.
 */
export const GO_USERS_MS = 30_000;

/** A Go peer and a `p2p node` (DHT off) bootstrapped to it. */
export interface Pair {
  go: GoPeer;
  ours: RunningNode;
  stop(): Promise<void>;
}

/**
 * Starts a Go peer (or takes `started`), then a `p2p node` that dials it; waits until they
 * share the ledger topic.
 */
export async function startPair(
  token: string,
  { ourArgs = [], started }: { ourArgs?: string[]; started?: GoPeer } = {},
): Promise<Pair> {
  const go = started ?? await startGoPeer({ token });
  let ours: RunningNode | undefined;
  try {
    ours = await spawnNode(["node", "--no-dht", ...ourArgs, ...loopbackFlags([go.addr])], {
      P2P_TOKEN: token,
    });
    await untilTopicPeers(go, [ours.start.peerId]);
    const both = ours;
    return { go, ours: both, stop: () => stopAll([both, go.process]) };
  } catch (err) {
    await stopAll([ours, go.process]);
    throw err;
  }
}

/** Waits (bounded) until the Go peer sees `peerIds` on its ledger topic. */
export async function untilTopicPeers(
  go: GoPeer,
  peerIds: string[],
  timeoutMs = GOSSIP_MS,
): Promise<void> {
  await waitFor(async () => {
    const { topic } = await go.command<{ topic: string[] }>("peers");
    return peerIds.every((id) => topic.includes(id));
  }, { timeoutMs, intervalMs: 100, message: `${peerIds.join(", ")} on the Go peer's topic` });
}

/** The value under bucket/key on the Go peer (parsed), or `undefined`. */
export async function goValue(go: GoPeer, bucket: string, key: string): Promise<unknown> {
  const { found, json } = await go.command<{ found: boolean; json: string }>("get", {
    bucket,
    key,
  });
  return found ? JSON.parse(json) : undefined;
}

/** The value under bucket/key on our node (parsed), or `undefined`. */
export async function ourValue(node: RunningNode, bucket: string, key: string): Promise<unknown> {
  return await getJson(node.api, `/api/ledger/${bucket}/${key}`);
}

/** Writes through our node's API; throws with the API's message on failure. */
export async function ourPut(
  node: RunningNode,
  bucket: string,
  key: string,
  value: unknown,
): Promise<void> {
  const { status, body } = await sendJson(node.api, "PUT", `/api/ledger/${bucket}/${key}`, value);
  if (status !== 200) throw new Error(`PUT ${bucket}/${key}: ${status} ${JSON.stringify(body)}`);
}

/** Deletes through our node's API. */
export async function ourDelete(node: RunningNode, bucket: string, key: string): Promise<void> {
  const { status, body } = await sendJson(node.api, "DELETE", `/api/ledger/${bucket}/${key}`);
  if (status !== 200) throw new Error(`DELETE ${bucket}/${key}: ${status} ${JSON.stringify(body)}`);
}

/** Waits (bounded) until `read` returns a value deep-equal (as JSON) to `expected`. */
export async function until(
  what: string,
  read: () => Promise<unknown>,
  expected: unknown,
  timeoutMs = GOSSIP_MS,
): Promise<void> {
  const want = JSON.stringify(expected);
  let last: unknown;
  await waitFor(async () => {
    last = await read();
    return JSON.stringify(last) === want;
  }, { timeoutMs, intervalMs: 100, message: `${what} (want ${clip(want)})` }).catch((err) => {
    throw new Error(`${err.message}; last seen ${clip(JSON.stringify(last))}`);
  });
}

function clip(text: string | undefined): string {
  if (text === undefined) return "undefined";
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text;
}
