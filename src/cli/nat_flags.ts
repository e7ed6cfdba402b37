import { Option } from "@commander-js/extra-typings";
import type { Command } from "@commander-js/extra-typings";
import { multiaddr } from "@multiformats/multiaddr";
import type { NatOptions } from "../node/nat.ts";
import { type EnvReader, firstEnv } from "./env.ts";
import { UsageError } from "./errors.ts";

/** Environment names of the NAT flags, P2P_* first, then LocalAI's and edgevpn's. */
export const NAT_ENV = {
  announce: ["P2P_ANNOUNCE_MADDRS", "LOCALAI_P2P_DHT_ANNOUNCE_MADDRS", "EDGEVPNDHTANNOUNCEMADDRS"],
  relayPeers: ["P2P_RELAY_PEERS", "EDGEVPNAUTORELAYPEERS"],
  relayService: ["P2P_RELAY_SERVICE", "EDGEVPN_RELAY_SERVICE"],
  relayMaxData: ["P2P_RELAY_MAX_DATA", "EDGEVPN_RELAY_MAX_DATA"],
  relayMaxDuration: ["P2P_RELAY_MAX_DURATION", "EDGEVPN_RELAY_MAX_DURATION"],
  relayMaxCircuits: ["P2P_RELAY_MAX_CIRCUITS", "EDGEVPN_RELAY_MAX_CIRCUITS"],
  relayReservationTtl: ["P2P_RELAY_RESERVATION_TTL", "EDGEVPN_RELAY_RESERVATION_TTL"],
  natmap: ["P2P_NATMAP", "EDGEVPNNATMAP"],
  natService: ["P2P_NATSERVICE", "EDGEVPNNATSERVICE"],
  natRateLimit: ["P2P_NAT_RATELIMIT", "EDGEVPNNATRATELIMIT"],
  natRateLimitGlobal: ["P2P_NAT_RATELIMIT_GLOBAL", "EDGEVPNNATRATELIMITGLOBAL"],
  natRateLimitPeer: ["P2P_NAT_RATELIMIT_PEER", "EDGEVPNNATRATELIMITPEER"],
  natRateLimitInterval: ["P2P_NAT_RATELIMIT_INTERVAL", "EDGEVPNNATRATELIMITINTERVAL"],
  holepunch: ["P2P_HOLEPUNCH", "EDGEVPNHOLEPUNCH"],
} as const;

/** The raw values of the NAT flags, as commander parses them. */
export interface NatFlags {
  announce?: string;
  relayPeers?: string;
  relayService?: boolean;
  relayMaxData?: string;
  relayMaxDuration?: string;
  relayMaxCircuits?: string;
  relayReservationTtl?: string;
  natmap?: boolean;
  natservice?: boolean;
  natRatelimit?: boolean;
  natRatelimitGlobal?: string;
  natRatelimitPeer?: string;
  natRatelimitInterval?: string;
  holepunch?: boolean;
}

const env = (names: readonly string[]): string => `(env: ${names.join(", ")})`;

/**
 * Adds the NAT and relay flags (edgevpn's names where it has them) to a node command.
 *
 * @param command The command.
 * @returns The same command.
 */
export function addNatFlags<T extends Command<never[], Record<string, unknown>>>(command: T): T {
  const on = (name: string, what: string, names: readonly string[]) => {
    command.addOption(new Option(`--${name}`, `${what} (default) ${env(names)}=true|false`));
    command.addOption(new Option(`--no-${name}`, `do not ${what}`));
  };
  command.addOption(
    new Option(
      "--announce <list>",
      `comma-separated multiaddrs to advertise at once besides the verified ones (a public relay's address) ${
        env(NAT_ENV.announce)
      }`,
    ),
  );
  command.addOption(
    new Option(
      "--relay-peers <list>",
      `comma-separated relays (multiaddrs with /p2p/<id>) to keep reservations on when not publicly reachable; default: relays are found among members ${
        env(NAT_ENV.relayPeers)
      }`,
    ),
  );
  on("relay-service", "relay circuits for network members", NAT_ENV.relayService);
  command.addOption(
    new Option(
      "--relay-max-data <bytes>",
      `bytes one relayed circuit may carry each way (default: 1073741824) ${
        env(NAT_ENV.relayMaxData)
      }`,
    ),
  );
  command.addOption(
    new Option(
      "--relay-max-duration <duration>",
      `how long one relayed circuit may last (default: 30m) ${env(NAT_ENV.relayMaxDuration)}`,
    ),
  );
  command.addOption(
    new Option(
      "--relay-max-circuits <n>",
      `circuits relayed at once (default: 64) ${env(NAT_ENV.relayMaxCircuits)}`,
    ),
  );
  command.addOption(
    new Option(
      "--relay-reservation-ttl <duration>",
      `how long a relay reservation lasts (default: 1h) ${env(NAT_ENV.relayReservationTtl)}`,
    ),
  );
  on(
    "holepunch",
    "upgrade relayed connections to direct ones by hole punching (DCUtR)",
    NAT_ENV.holepunch,
  );
  on("natmap", "map the listen port on the router (UPnP / NAT-PMP)", NAT_ENV.natmap);
  on("natservice", "run AutoNAT (verify our addresses, dial back others')", NAT_ENV.natService);
  on("nat-ratelimit", "rate-limit the AutoNAT service", NAT_ENV.natRateLimit);
  command.addOption(
    new Option(
      "--nat-ratelimit-global <n>",
      `AutoNAT dial-backs per interval, all peers (default: 10) ${env(NAT_ENV.natRateLimitGlobal)}`,
    ),
  );
  command.addOption(
    new Option(
      "--nat-ratelimit-peer <n>",
      `AutoNAT dial-backs per interval and peer (default: 10) ${env(NAT_ENV.natRateLimitPeer)}`,
    ),
  );
  command.addOption(
    new Option(
      "--nat-ratelimit-interval <duration>",
      `AutoNAT rate-limit interval, seconds or a duration (default: 60s) ${
        env(NAT_ENV.natRateLimitInterval)
      }`,
    ),
  );
  return command;
}

/**
 * Applies flag → environment → default precedence to the NAT flags and validates them.
 *
 * @throws {UsageError} A value that cannot be used, named in the message.
 */
export function resolveNatFlags(flags: NatFlags, reader: EnvReader): NatOptions {
  const text = (value: string | undefined, names: readonly string[]) =>
    value ?? firstEnv(reader, names);
  const bool = (value: boolean | undefined, flag: string, names: readonly string[]) =>
    value ?? envBool(reader, flag, names);
  const announce = text(flags.announce, NAT_ENV.announce);
  const relays = text(flags.relayPeers, NAT_ENV.relayPeers);
  const options: NatOptions = {};
  if (announce !== undefined) options.announce = multiaddrList("--announce", announce);
  if (relays !== undefined) {
    options.relayPeers = multiaddrList("--relay-peers", relays);
    for (const addr of options.relayPeers) {
      if (!addr.includes("/p2p/")) {
        throw new UsageError(`Cannot use --relay-peers "${addr}": missing /p2p/<peer id>`);
      }
    }
  }
  const relayService = bool(flags.relayService, "--relay-service", NAT_ENV.relayService);
  if (relayService !== undefined) options.relayService = relayService;
  const maxData = text(flags.relayMaxData, NAT_ENV.relayMaxData);
  const maxDuration = text(flags.relayMaxDuration, NAT_ENV.relayMaxDuration);
  const maxCircuits = text(flags.relayMaxCircuits, NAT_ENV.relayMaxCircuits);
  const ttl = text(flags.relayReservationTtl, NAT_ENV.relayReservationTtl);
  options.relayLimits = {
    ...(maxData === undefined ? {} : { maxDataBytes: positive("--relay-max-data", maxData) }),
    ...(maxDuration === undefined
      ? {}
      : { maxDurationMs: durationMs("--relay-max-duration", maxDuration) }),
    ...(maxCircuits === undefined
      ? {}
      : { maxCircuits: positive("--relay-max-circuits", maxCircuits) }),
    ...(ttl === undefined ? {} : { reservationTtlMs: durationMs("--relay-reservation-ttl", ttl) }),
  };
  const holepunch = bool(flags.holepunch, "--holepunch", NAT_ENV.holepunch);
  if (holepunch !== undefined) options.holepunch = holepunch;
  const natmap = bool(flags.natmap, "--natmap", NAT_ENV.natmap);
  if (natmap !== undefined) options.natmap = natmap;
  const natService = bool(flags.natservice, "--natservice", NAT_ENV.natService);
  if (natService !== undefined) options.natService = natService;
  if (bool(flags.natRatelimit, "--nat-ratelimit", NAT_ENV.natRateLimit) === false) {
    options.natRateLimit = false;
  } else {
    const global = text(flags.natRatelimitGlobal, NAT_ENV.natRateLimitGlobal);
    const peer = text(flags.natRatelimitPeer, NAT_ENV.natRateLimitPeer);
    const interval = text(flags.natRatelimitInterval, NAT_ENV.natRateLimitInterval);
    options.natRateLimit = {
      ...(global === undefined ? {} : { global: positive("--nat-ratelimit-global", global) }),
      ...(peer === undefined ? {} : { peer: positive("--nat-ratelimit-peer", peer) }),
      ...(interval === undefined
        ? {}
        : { intervalMs: durationMs("--nat-ratelimit-interval", interval, 1000) }),
    };
  }
  return options;
}

/** `true`/`false` (also `1`/`0`, `yes`/`no`) from the first set variable of `names`. */
function envBool(reader: EnvReader, flag: string, names: readonly string[]): boolean | undefined {
  const value = firstEnv(reader, names);
  if (value === undefined) return undefined;
  const lower = value.trim().toLowerCase();
  if (["true", "1", "yes"].includes(lower)) return true;
  if (["false", "0", "no"].includes(lower)) return false;
  throw new UsageError(`Cannot use ${flag} from ${names.join("/")} "${value}": not true or false`);
}

function multiaddrList(flag: string, text: string): string[] {
  const addrs = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const addr of addrs) {
    try {
      multiaddr(addr);
    } catch {
      throw new UsageError(`Cannot use ${flag} "${addr}": not a multiaddr`);
    }
  }
  return addrs;
}

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(`Cannot use ${flag} "${text}": not a positive integer`);
  }
  return value;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Go duration (`90s`, `30m`, `1h30m`, `500ms`) in ms; a bare number is in `bareUnitMs`.
 *
 * @throws {UsageError} Not a positive duration.
 */
export function durationMs(flag: string, text: string, bareUnitMs?: number): number {
  const trimmed = text.trim();
  if (bareUnitMs !== undefined && /^\d+$/.test(trimmed) && Number(trimmed) > 0) {
    return Number(trimmed) * bareUnitMs;
  }
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  const total = parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit!]!, 0);
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed || total <= 0) {
    throw new UsageError(`Cannot use ${flag} "${text}": not a duration like 90s, 30m or 1h`);
  }
  return Math.round(total);
}
