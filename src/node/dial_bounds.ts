/**
 * How long a dial may take, phase by phase. libp2p bounds the dial of one address by its
 * `addressDialTimeout` (1.5 s here, so that an address a firewall drops leaves time for the
 * next), everything included. That bound is for reaching an address; two phases get their own:
 *
 * - The handshake (noise, yamux) of a connection this node dialed, once its transport reached
 *   the address, whatever the transport: a busy peer's handshake, or one crossing a relay
 *   between far places (several round trips of the whole path), takes longer, and every such
 *   dial failed.
 * - A relayed dial's own steps (reaching the relay, asking it for the circuit): the relay is a
 *   peer known to be up, reached last (see `dialOrder`), and a circuit across continents takes
 *   round trips to the relay and from it to the target.
 *
 * In both, the dial's timeouts (per address, per dial, a caller's) give way to the phase's
 * bound, and any other abort (a cancelled dial, the node stopping) still ends it at once. A
 * caller whose own timeout passed has its answer already (libp2p's dial queue rejects it then);
 * the connection, if it completes, stays.
 *
 * @module
 */
import type { Transport, Upgrader } from "@libp2p/interface";
import { OUTBOUND_HANDSHAKE_TIMEOUT_MS, RELAYED_DIAL_TIMEOUT_MS } from "./constants.ts";

/**
 * Gives every outbound handshake `OUTBOUND_HANDSHAKE_TIMEOUT_MS` (the bound the other side
 * gives an inbound one), from the moment a transport hands its connection to the upgrader.
 *
 * @param upgrader The node's upgrader (patched in place).
 */
export function boundOutboundHandshakes(upgrader: Upgrader): void {
  const upgradeOutbound = upgrader.upgradeOutbound.bind(upgrader);
  upgrader.upgradeOutbound = (maConn, options) =>
    inPhase(
      options.signal,
      OUTBOUND_HANDSHAKE_TIMEOUT_MS,
      (signal) => upgradeOutbound(maConn, { ...options, signal }),
    );
}

/**
 * Gives a transport's dials `RELAYED_DIAL_TIMEOUT_MS` instead of the dial's timeouts (for the
 * circuit relay transport: see the module's comment).
 *
 * @param transport The transport factory, as given to libp2p.
 * @returns The same factory, its dials bounded so.
 */
export function patientDials<C>(
  transport: (components: C) => Transport,
): (components: C) => Transport {
  return (components) => {
    const inner = transport(components);
    const dial = inner.dial.bind(inner);
    inner.dial = (ma, options) =>
      inPhase(
        options.signal,
        RELAYED_DIAL_TIMEOUT_MS,
        (signal) => dial(ma, { ...options, signal }),
      );
    return inner;
  };
}

/** Runs a phase of a dial under `boundMs` instead of the dial's timeouts (see the module). */
async function inPhase<T>(
  dial: AbortSignal,
  boundMs: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const cancelled = new AbortController();
  const onAbort = (): void => {
    const name = (dial.reason as { name?: unknown } | undefined)?.name;
    if (name !== "TimeoutError") cancelled.abort(dial.reason);
  };
  if (dial.aborted) onAbort();
  else dial.addEventListener("abort", onAbort, { once: true });
  try {
    return await run(AbortSignal.any([cancelled.signal, AbortSignal.timeout(boundMs)]));
  } finally {
    dial.removeEventListener("abort", onAbort);
  }
}
