import type { NetworkToken } from "../token/token.ts";
import { RENDEZVOUS_INTERVAL_MS } from "./constants.ts";

/** How long kad-dht keeps provider records and how often it sweeps them (its `reprovide`). */
export interface ProviderRecordPolicy {
  /** A record older than this is dropped (others') or provided again (ours), ms. */
  validity: number;
  /** How often records are swept, ms. */
  interval: number;
  /** Ours are provided again only once expired (the rendezvous loop provides them). */
  threshold: number;
}

/** How often kad-dht sweeps its provider records. */
export const PROVIDER_SWEEP_MS = 60_000;

/**
 * For a DHT of the network's own (private protocol, or an explicit bootstrap list): its only
 * records are rendezvous CIDs, each searched for two DHT windows (current and previous).
 * kad-dht keeps every record 48 hours and never drops our own: with LocalAI's 30 s window a
 * node of a 20-node network gains some 2,400 records an hour, and every GET_PROVIDERS scans
 * them all. Records outlive their use by one rendezvous cycle and a sweep; the rendezvous
 * loop cancels our own when they rotate out.
 *
 * @param token The network token (its DHT window).
 * @returns kad-dht's `reprovide` options.
 */
export function providerRecordPolicy(token: NetworkToken): ProviderRecordPolicy {
  return {
    validity: 2 * token.otp.dht.interval * 1000 + RENDEZVOUS_INTERVAL_MS + PROVIDER_SWEEP_MS,
    interval: PROVIDER_SWEEP_MS,
    threshold: 0,
  };
}
