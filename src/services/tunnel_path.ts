import type { Connection, PeerId } from "@libp2p/interface";
import type { P2PLibp2p } from "../node/create_node.ts";
import { TIGHT_RELAY_BYTES, TIGHT_RELAY_SECONDS } from "../node/constants.ts";
import type { RepeatedWarning } from "./repeated_warning.ts";

/**
 * Whether `connection` runs through a relay that would cut a tunnel soon: a stock Go or js
 * relay allows 128 KiB and 2 minutes per circuit.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTight } from "./tunnel_path.ts";
 *
 * assert.equal(isTight({ limits: { bytes: 128n * 1024n, seconds: 120 } } as never), true);
 * assert.equal(isTight({ limits: { bytes: 2n ** 31n - 1n, seconds: 1800 } } as never), false);
 * assert.equal(isTight({} as never), false);
 * ```
 */
export function isTight(connection: Connection): boolean {
  const limits = connection.limits;
  if (limits === undefined) return false;
  return (limits.bytes !== undefined && limits.bytes < BigInt(TIGHT_RELAY_BYTES)) ||
    (limits.seconds !== undefined && limits.seconds < TIGHT_RELAY_SECONDS);
}

function relayOf(connection: Connection): string | undefined {
  const parts = connection.remoteAddr.getComponents();
  const at = parts.findIndex((c) => c.name === "p2p-circuit");
  return at < 0 ? undefined : parts.slice(0, at).findLast((c) => c.name === "p2p")?.value;
}

/**
 * A connection to `peer` for a tunnel: the node's best one (direct before relayed), and when
 * that runs through a tight relay, another path if there is one: a direct address, or a relay
 * that allows more. Without one the tight connection is used (its cut is loud: see `bridge`).
 *
 * @param node The libp2p node.
 * @param peer The serving peer (its addresses already in the peer store).
 * @param tightOnly Warns when only a tight path was found.
 * @param signal Aborts the dials.
 * @returns The connection to open the tunnel's stream on.
 */
export async function tunnelConnection(
  node: P2PLibp2p,
  peer: PeerId,
  tightOnly: RepeatedWarning,
  signal?: AbortSignal,
): Promise<Connection> {
  const options = signal === undefined ? {} : { signal };
  const first = await node.dial(peer, options);
  if (!isTight(first)) return first;
  const tightRelay = relayOf(first);
  const known = await node.peerStore.get(peer).catch(() => undefined);
  for (const { multiaddr: ma } of known?.addresses ?? []) {
    const text = ma.toString();
    if (tightRelay !== undefined && text.includes(`/p2p/${tightRelay}/p2p-circuit`)) continue;
    const full = text.includes(`/p2p/${peer}`) ? ma : ma.encapsulate(`/p2p/${peer}`);
    try {
      const other = await node.dial(full, options);
      if (!isTight(other)) return other;
    } catch {
      // not this way
    }
  }
  const limits = first.limits;
  tightOnly.warn({
    peer: peer.toString(),
    relay: tightRelay ?? "?",
    limit: `${limits?.bytes ?? "?"} bytes, ${limits?.seconds ?? "?"} s`,
  });
  return first;
}
