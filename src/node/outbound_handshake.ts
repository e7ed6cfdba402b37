import type { Upgrader } from "@libp2p/interface";
import { OUTBOUND_HANDSHAKE_TIMEOUT_MS } from "./constants.ts";

/**
 * Gives every connection this node dials the time its handshake takes, whatever the transport
 * (TCP, a relayed circuit, WebSockets). libp2p bounds the dial of one address by its
 * `addressDialTimeout` (1.5 s here, so that an address a firewall drops leaves time for the
 * next), handshake included; a busy peer's noise and yamux handshake, or one that crosses a
 * relay between continents (several round trips of the whole path), takes longer, and every
 * dial then failed. From the moment a transport hands its connection to the upgrader, the
 * dial's timeouts (per address, per dial, a caller's) give way to
 * `OUTBOUND_HANDSHAKE_TIMEOUT_MS`, the bound the other side already gives an inbound
 * handshake. Reaching the address stays bounded as before, and any other abort (a cancelled
 * dial, the node stopping) still ends the handshake at once. A caller whose own timeout passed
 * has its answer already (libp2p's dial queue rejects it then); the connection, if it
 * completes, stays.
 *
 * @param upgrader The node's upgrader (patched in place).
 */
export function boundOutboundHandshakes(upgrader: Upgrader): void {
  const upgradeOutbound = upgrader.upgradeOutbound.bind(upgrader);
  upgrader.upgradeOutbound = async (maConn, options) => {
    const handshake = handshakeSignal(options.signal);
    try {
      return await upgradeOutbound(maConn, { ...options, signal: handshake.signal });
    } finally {
      handshake.release();
    }
  };
}

function handshakeSignal(dial: AbortSignal): { signal: AbortSignal; release(): void } {
  const cancelled = new AbortController();
  const onAbort = (): void => {
    const name = (dial.reason as { name?: unknown } | undefined)?.name;
    if (name !== "TimeoutError") cancelled.abort(dial.reason);
  };
  if (dial.aborted) onAbort();
  else dial.addEventListener("abort", onAbort, { once: true });
  return {
    signal: AbortSignal.any([cancelled.signal, AbortSignal.timeout(OUTBOUND_HANDSHAKE_TIMEOUT_MS)]),
    release: () => dial.removeEventListener("abort", onAbort),
  };
}
