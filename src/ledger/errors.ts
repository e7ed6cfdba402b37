/** A ledger write was refused (for example: the block would exceed the gossip limit). */
export class LedgerWriteError extends Error {
  /**
   * @param message What was refused and why.
   * @param options The underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LedgerWriteError";
  }
}
