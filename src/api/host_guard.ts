/**
 * DNS rebinding and cross-site writes. A web page can make its own name resolve to 127.0.0.1:
 * its script then talks to the loopback API as a same-origin page, with `Host: its-name`. So
 * the API answers only requests whose `Host` names it — a loopback name or literal, the
 * address it is bound to, or a host the user listed — and accepts state changes only with no
 * `Origin` (not a browser) or the API's own origin.
 */
import { json } from "./router.ts";

/** A `--api-allowed-hosts` entry that cannot be used. */
export class AllowedHostError extends Error {
  /**
   * @param message What is wrong, naming the entry.
   */
  constructor(message: string) {
    super(message);
    this.name = "AllowedHostError";
  }
}

/** A host the API answers for: a normalized host name, and a port if the entry named one. */
export interface AllowedHost {
  /** Lower case, IPv4 in dotted form, IPv6 in brackets. */
  hostname: string;
  /** Only this port, when given. */
  port?: string;
}

/** What the API answers for, besides loopback. */
export interface HostPolicy {
  /** Addresses the API is bound to (every local address when bound to a wildcard); any port. */
  bound: string[];
  /** From `--api-allowed-hosts`. */
  allowed: AllowedHost[];
}

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const ENTRY = new RegExp(
  `^(?:${LABEL}(?:\\.${LABEL})*\\.?|\\[[0-9a-f:.]+\\])(?::(\\d{1,5}))?$`,
  "i",
);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** `host[:port]` normalized as a browser sends it, or `undefined` when it is not one. */
function parseAuthority(text: string): Authority | undefined {
  try {
    const url = new URL(`http://${text}`);
    // Anything the URL parser reads as more than a host and port is not one.
    if (url.username !== "" || url.password !== "" || url.pathname !== "/") return undefined;
    if (url.search !== "" || url.hash !== "" || text.includes("?") || text.includes("#")) {
      return undefined;
    }
    return { hostname: url.hostname, port: url.port };
  } catch {
    return undefined;
  }
}

/** A host name and port as the URL parser normalizes them (`""` for the default port). */
interface Authority {
  hostname: string;
  port: string;
}

function sameAuthority(a: Authority, b: Authority): boolean {
  return a.hostname === b.hostname && a.port === b.port;
}

/**
 * A host name or address (IPv6 with or without brackets) normalized as in a `Host` header.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeHostname } from "./host_guard.ts";
 * assert.equal(normalizeHostname("LocalHost"), "localhost");
 * assert.equal(normalizeHostname("::1"), "[::1]");
 * assert.equal(normalizeHostname("127.1"), "127.0.0.1");
 * ```
 */
export function normalizeHostname(text: string): string {
  const bracketed = text.includes(":") && !text.startsWith("[") ? `[${text}]` : text;
  try {
    return new URL(`http://${bracketed}`).hostname;
  } catch {
    return text.toLowerCase();
  }
}

/**
 * Whether `hostname` is loopback: `localhost`, an IPv4 literal in 127.0.0.0/8, or `::1`. A
 * name that merely starts with "127." (`127.attacker.example`) is not.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopback } from "./host_guard.ts";
 * assert.ok(isLoopback("127.0.0.1") && isLoopback("127.9.8.7") && isLoopback("::1"));
 * assert.ok(isLoopback("[::1]") && isLoopback("localhost"));
 * assert.ok(!isLoopback("127.attacker.example") && !isLoopback("localhost.attacker.example"));
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const name = normalizeHostname(hostname);
  return name === "localhost" || name === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * Parses `--api-allowed-hosts`: comma-separated host names or IP literals (IPv6 in brackets),
 * each with an optional `:PORT`.
 *
 * @throws {AllowedHostError} An empty list, or an entry that is not a host (a URL, a wildcard).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAllowedHosts } from "./host_guard.ts";
 * assert.deepEqual(parseAllowedHosts("p2p.lan, [fd00::1]:8090"), [
 *   { hostname: "p2p.lan" },
 *   { hostname: "[fd00::1]", port: "8090" },
 * ]);
 * assert.throws(() => parseAllowedHosts("http://p2p.lan"), /expected a host name/);
 * ```
 */
export function parseAllowedHosts(text: string, flag = "--api-allowed-hosts"): AllowedHost[] {
  const entries = text.split(",").map((e) => e.trim()).filter((e) => e !== "");
  if (entries.length === 0) throw new AllowedHostError(`Cannot use ${flag} "${text}": empty list`);
  return entries.map((entry) => {
    const match = ENTRY.exec(entry);
    const authority = match === null ? undefined : parseAuthority(entry.toLowerCase());
    const port = match?.[1];
    if (authority === undefined || (port !== undefined && Number(port) > 65535)) {
      throw new AllowedHostError(
        `Cannot use ${flag} entry "${entry}": expected a host name or IP address ` +
          `(IPv6 in brackets), with an optional :PORT`,
      );
    }
    return port === undefined ? { hostname: authority.hostname } : {
      hostname: authority.hostname,
      port,
    };
  });
}

function listed(hostname: string, port: string, allowed: AllowedHost[]): boolean {
  return allowed.some((a) => a.hostname === hostname && (a.port === undefined || a.port === port));
}

/** Whether the API answers a request whose `Host` header is `host`. */
export function hostAllowed(host: string, policy: HostPolicy): boolean {
  const authority = parseAuthority(host);
  if (authority === undefined) return false;
  const { hostname, port } = authority;
  return isLoopback(hostname) || policy.bound.includes(hostname) ||
    listed(hostname, port, policy.allowed);
}

/**
 * Whether a state change from `origin` may go to the API reached as `host`: the same host and
 * port (the API's own page, whatever the scheme of a proxy in front), or a listed host.
 */
export function originAllowed(origin: string, host: string, policy: HostPolicy): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and garbage
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  const self = parseAuthority(host);
  if (self !== undefined && sameAuthority(url, self)) return true;
  return listed(url.hostname, url.port, policy.allowed);
}

/**
 * Wraps `handler`: requests for a foreign `Host` get 403, and so do state changes (not GET,
 * HEAD or OPTIONS) from a foreign `Origin`; each with a JSON error naming the header.
 */
export function withHostGuard(
  policy: HostPolicy,
  handler: (request: Request) => Promise<Response>,
): (request: Request) => Promise<Response> {
  return (request) => {
    const host = request.headers.get("host") ?? "";
    if (!hostAllowed(host, policy)) {
      return Promise.resolve(json({
        error: `Cannot answer for Host "${host}": not loopback, not the API's address, ` +
          `not in --api-allowed-hosts`,
      }, 403));
    }
    const origin = request.headers.get("origin");
    if (
      origin !== null && !SAFE_METHODS.has(request.method) &&
      !originAllowed(origin, host, policy)
    ) {
      return Promise.resolve(json({
        error: `Cannot accept ${request.method} from Origin "${origin}": not the API's own ` +
          `origin, not in --api-allowed-hosts`,
      }, 403));
    }
    return handler(request);
  };
}
