import type { Ledger } from "../ledger/ledger.ts";
import { HEALTHCHECK_BUCKET, HEALTHCHECK_INTERVAL_MS } from "../ledger/constants.ts";

/**
 * Writes `healthcheck/<peerId>` now and every 30 s, as edgevpn's `services.Alive` does: how
 * LocalAI counts live nodes, and how a node proves membership to peers that cannot challenge.
 *
 * @returns A function that stops the heartbeat.
 */
export function startHeartbeat(ledger: Ledger, peerId: string, now: () => number): () => void {
  const beat = (): void => {
    // Go writes time.RFC3339 in UTC: whole seconds.
    const stamp = new Date(now()).toISOString().replace(/\.\d+Z$/, "Z");
    ledger.put(HEALTHCHECK_BUCKET, peerId, stamp).catch(() => {});
  };
  beat();
  const timer = setInterval(beat, HEALTHCHECK_INTERVAL_MS);
  return () => clearInterval(timer);
}
