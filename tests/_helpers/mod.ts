// The shims are installed before any test touches libp2p (see src/node/deno_shims.ts).
import { installDenoShims } from "../../src/node/deno_shims.ts";
installDenoShims();

export * from "./wait.ts";
export * from "./process.ts";
export * from "./nodes.ts";
export * from "./networks.ts";
export * from "./metrics.ts";
