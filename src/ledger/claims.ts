import { CLAIM_TTL_MS, MAX_CLAIMS } from "./constants.ts";
import { entrySigner } from "./signed_entry.ts";

/** Longer entry texts are verified and parsed on every read rather than kept. */
const MAX_CACHED_ENTRY_CHARS = 4096;

/** What a reader of the ledger sees at a key: the value it honours and who signed it. */
export interface EffectiveEntry {
  /** The parsed value: frozen, as reads of an unchanged entry share it. */
  value: unknown;
  /** The peer that signed it; `undefined` for an unsigned entry (LocalAI and edgevpn write those). */
  signer: string | undefined;
}

/** Where {@linkcode EntryClaims} reads entries and learns whether an owner is around. */
export interface EntryClaimsInit {
  /** The JSON text under `bucket`/`key` in the current block, `undefined` when absent. */
  read: (bucket: string, key: string) => string | undefined;
  /** The keys of `bucket` in the current block. */
  keys: (bucket: string) => string[];
  /**
   * Whether this node is connected to `peer` now, lost its connection to it (`gone`), or
   * has not been connected to it (`unknown`).
   */
  ownerState: (peer: string) => "connected" | "gone" | "unknown";
  /** The clock, in milliseconds. */
  now: () => number;
  /**
   * How long a signed entry is honoured after it was last seen in the ledger, when this node
   * has not been connected to its owner. @default {60000}
   */
  ttlMs?: number;
}

interface Claim {
  owner: string;
  json: string;
  seenAt: number;
}

/** An entry text as last read at one key: its signer and its parsed value. */
interface EntryRead {
  json: string;
  signer: string | undefined;
  value: unknown;
}

/**
 * The signed-entry rule on top of edgevpn's last-writer-wins ledger: a signed entry is never
 * displaced by an unsigned one, by one signed by another key, or by a deletion, while its
 * owner is around (connected; or, never connected to this node, its entry seen in the last
 * `ttlMs`). An owner whose connection closed loses its claim at once: a restarted or moved
 * service can be taken over by its new owner. Unsigned entries from LocalAI peers are
 * honoured wherever no signed entry competes.
 *
 * The ledger itself still holds whatever the last writer wrote (Go peers read that); this is
 * what p2p's readers (the balancer, `connect`, discovery, pool views) honour. Signatures are
 * checked once per distinct entry text.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair } from "@libp2p/crypto/keys";
 * import { peerIdFromPrivateKey } from "@libp2p/peer-id";
 * import { EntryClaims } from "./claims.ts";
 * import { signEntry } from "./signed_entry.ts";
 *
 * const key = await generateKeyPair("Ed25519");
 * const owner = peerIdFromPrivateKey(key).toString();
 * const ledger = new Map<string, string>();
 * const claims = new EntryClaims({
 *   read: (_bucket, k) => ledger.get(k),
 *   keys: () => [...ledger.keys()],
 *   ownerState: (peer) => peer === owner ? "connected" : "unknown",
 *   now: () => 0,
 * });
 * ledger.set("web", JSON.stringify(await signEntry(key, "services", "web", { PeerID: owner })));
 * assert.equal(claims.get("services", "web")?.signer, owner);
 * // Another member overwrites it with its own peer: readers keep the owner's entry.
 * ledger.set("web", JSON.stringify({ PeerID: "12D3KooWspoofer" }));
 * assert.equal((claims.get("services", "web")?.value as { PeerID: string }).PeerID, owner);
 * ```
 */
export class EntryClaims {
  #init: EntryClaimsInit;
  #claims = new Map<string, Claim>();
  #signers = new Map<string, string | null>();
  /** Per bucket/key: `connect` resolves its service on every client connection. */
  #lastRead = new Map<string, EntryRead>();

  /**
   * Creates the claims of one ledger.
   *
   * @param init How to read the ledger, the owners' state and the clock.
   */
  constructor(init: EntryClaimsInit) {
    this.#init = init;
  }

  /**
   * The entry readers honour at `bucket`/`key`.
   *
   * @returns The value and its signer, or `undefined` when there is none.
   */
  get(bucket: string, key: string): EffectiveEntry | undefined {
    const id = `${bucket}\u0000${key}`;
    const json = this.#init.read(bucket, key);
    const read = json === undefined ? undefined : this.#read(id, bucket, key, json);
    const signer = read?.signer;
    const claim = this.#claims.get(id);
    const now = this.#init.now();
    if (claim !== undefined && claim.owner !== signer && this.#isLive(claim, now)) {
      return { value: deepFreeze(JSON.parse(claim.json)), signer: claim.owner };
    }
    if (read === undefined) {
      this.#claims.delete(id);
      return undefined;
    }
    if (signer !== undefined) this.#remember(id, { owner: signer, json: read.json, seenAt: now });
    else this.#claims.delete(id);
    return { value: read.value, signer };
  }

  /**
   * Every entry readers honour in `bucket`: the current keys, plus signed entries a later
   * block dropped while their owner is around.
   *
   * @returns Key → entry.
   */
  entries(bucket: string): Map<string, EffectiveEntry> {
    const prefix = `${bucket}\u0000`;
    const keys = new Set(this.#init.keys(bucket));
    for (const id of this.#claims.keys()) {
      if (id.startsWith(prefix)) keys.add(id.slice(prefix.length));
    }
    const result = new Map<string, EffectiveEntry>();
    for (const key of keys) {
      const entry = this.get(bucket, key);
      if (entry !== undefined) result.set(key, entry);
    }
    return result;
  }

  #isLive(claim: Claim, now: number): boolean {
    const state = this.#init.ownerState(claim.owner);
    if (state !== "unknown") return state === "connected";
    return now - claim.seenAt <= (this.#init.ttlMs ?? CLAIM_TTL_MS);
  }

  #remember(id: string, claim: Claim): void {
    this.#claims.delete(id);
    this.#claims.set(id, claim);
    if (this.#claims.size > MAX_CLAIMS) {
      const oldest = this.#claims.keys().next().value;
      if (oldest !== undefined) this.#claims.delete(oldest);
    }
  }

  #read(id: string, bucket: string, key: string, json: string): EntryRead {
    const last = this.#lastRead.get(id);
    if (last !== undefined && last.json === json) return last;
    // One parse serves the signature check and the readers (frozen after the check).
    const parsed = parseJson(json);
    const read = {
      json,
      signer: this.#signerOf(bucket, key, json, parsed),
      value: deepFreeze(parsed),
    };
    if (json.length <= MAX_CACHED_ENTRY_CHARS) {
      if (this.#lastRead.size >= MAX_CLAIMS) this.#lastRead.clear();
      this.#lastRead.set(id, read);
    }
    return read;
  }

  /** The signer of `json` (whose parsed form is `parsed`), verified once per small text. */
  #signerOf(bucket: string, key: string, json: string, parsed: unknown): string | undefined {
    // Records are small; a large value is verified each time rather than kept as a map key.
    if (json.length > MAX_CACHED_ENTRY_CHARS) return entrySigner(bucket, key, parsed);
    const id = `${bucket}\u0000${key}\u0000${json}`;
    let signer = this.#signers.get(id);
    if (signer === undefined) {
      signer = entrySigner(bucket, key, parsed) ?? null;
      if (this.#signers.size >= MAX_CLAIMS) this.#signers.clear();
      this.#signers.set(id, signer);
    }
    return signer ?? undefined;
  }
}

function deepFreeze(value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
