/** The version of p2p; the release workflow checks it against the tag and deno.json. */
export const VERSION = "0.1.0";

/** The identify agent version p2p nodes announce. */
export const AGENT_VERSION: string = `p2p/${VERSION}`;
