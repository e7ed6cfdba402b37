/**
 * A ledger write was refused (for example: the block would exceed the gossip limit).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BlockChannel } from "./block_channel.ts";
 * import { Ledger } from "./ledger.ts";
 * import { LedgerWriteError } from "@p2p/p2p";
 *
 * // A channel that refuses every block, as the hub does above the gossip limit.
 * const channel: BlockChannel = {
 *   encode() {
 *     throw new LedgerWriteError("Cannot write to the ledger: the block is too large");
 *   },
 *   publish: () => Promise.resolve(0),
 *   onBlock() {},
 *   onReject() {},
 *   onPeerJoin() {},
 *   peerCount: () => 0,
 * };
 * const ledger = new Ledger({ channel });
 * await assert.rejects(ledger.put("big", "key", "value"), LedgerWriteError);
 * assert.equal(ledger.has("big", "key"), false);
 * ```
 */
export class LedgerWriteError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was refused and why.
   * @param options The underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LedgerWriteError";
  }
}
