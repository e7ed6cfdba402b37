/**
 * The runtime object of p2p: a {@linkcode Network} runs the node, the ledger and the
 * components a program adds, with typed events and one `stop()`.
 *
 * @module
 */

export * from "./network.ts";
export * from "./options.ts";
export * from "./events.ts";
export * from "./components.ts";
