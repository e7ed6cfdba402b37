// The shims come first, before anything from libp2p (see src/node/deno_shims.ts).
import "../../src/node/deno_shims.ts";

export * from "./wait.ts";
export * from "./process.ts";
export * from "./nodes.ts";
