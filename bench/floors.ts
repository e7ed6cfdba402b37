/**
 * Floors and ceilings measured in the same run as the paths they bound, so that the closing
 * question of each ratio ("is the target reachable here at all?") has a number:
 *
 * - the cost of ChaCha20-Poly1305 as the nodes run it (the host's OpenSSL through FFI where it
 *   loads, else `node:crypto`), the cipher every wire-compatible noise session must run once to
 *   seal and once to open each byte;
 * - the RSS of an empty Deno process and of one that has loaded `p2p expose`'s module graph.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { sharedOpenSslAead } from "../src/node/openssl_aead.ts";
import { Child, rssMiB, sleep } from "./lib/proc.ts";
import { p2pTaskRuntimeFlags } from "./lib/entry.ts";

/** Largest noise plaintext per message: 65535 bytes less the 16-byte tag. */
const NOISE_PLAINTEXT = 65519;

/** ChaCha20-Poly1305 cost at the largest noise message, with the nodes' implementation. */
export interface CipherCost {
  /** `OpenSSL (libcrypto.so.3, FFI)` or `node:crypto`. */
  cipher: string;
  sealMsPerMiB: number;
  openMsPerMiB: number;
}

/** Seals, then opens, full-size noise messages for about `ms` each (best of three slices). */
export function chachaCost(ms: number): CipherCost {
  const key = new Uint8Array(32).fill(7);
  const plaintext = new Uint8Array(NOISE_PLAINTEXT).fill(0x61);
  const nonce = new Uint8Array(12);
  const ad = new Uint8Array(0);
  const aead = sharedOpenSslAead();
  if (aead !== undefined) {
    const sealed = aead.seal(plaintext, nonce, ad, key);
    const dst = new Uint8Array(NOISE_PLAINTEXT);
    // Into one reused buffer, as the tunnel seals full messages: a fresh 64 KiB output per
    // message (V8 zeroes it, the collector takes it back) measured 0.50 against 0.38 ms/MiB.
    const sealInto = new Uint8Array(sealed.byteLength);
    return {
      cipher: `OpenSSL (${aead.source}, FFI)`,
      sealMsPerMiB: msPerMiB(() => aead.seal(plaintext, nonce, ad, key, sealInto), ms),
      openMsPerMiB: msPerMiB(() => aead.open(sealed, nonce, ad, key, dst), ms),
    };
  }
  const seal = (): Uint8Array => {
    const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
    const body = c.update(plaintext);
    c.final();
    const out = new Uint8Array(body.byteLength + 16);
    out.set(body);
    out.set(c.getAuthTag(), body.byteLength);
    return out;
  };
  const sealed = seal();
  const open = (): void => {
    const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
    d.setAuthTag(sealed.subarray(NOISE_PLAINTEXT));
    d.update(sealed.subarray(0, NOISE_PLAINTEXT));
    d.final();
  };
  return {
    cipher: "node:crypto",
    sealMsPerMiB: msPerMiB(seal, ms),
    openMsPerMiB: msPerMiB(open, ms),
  };
}

function msPerMiB(fn: () => unknown, ms: number): number {
  let best = Infinity;
  for (let slice = 0; slice < 3; slice++) {
    let bytes = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms / 3) {
      fn();
      bytes += NOISE_PLAINTEXT;
    }
    best = Math.min(best, (performance.now() - t0) / (bytes / (1024 * 1024)));
  }
  return best;
}

/**
 * The bulk rate a two-process relay could reach on this machine if it did the mandatory
 * encryption and nothing else on top of the plain relaying it was measured doing.
 *
 * Each direction adds a seal to one relay process and an open to the other. The rate is
 * bounded by the busier process (one JS thread: 1000 ms of CPU per second) and by the
 * machine (`cores` × 1000 ms per second for every process on the path).
 *
 * @param relayMsPerMiB CPU ms per MiB of every process on the plain relay path (client,
 * relays, service) in one direction.
 * @param sealSide The relay that seals in this direction (`front` for an upload).
 * @param openSide The relay that opens.
 */
export function cryptoBoundMiBs(
  relayMsPerMiB: Record<string, number>,
  sealSide: string,
  openSide: string,
  cipher: Pick<CipherCost, "sealMsPerMiB" | "openMsPerMiB">,
  cores: number,
): number {
  const sealer = (relayMsPerMiB[sealSide] ?? NaN) + cipher.sealMsPerMiB;
  const opener = (relayMsPerMiB[openSide] ?? NaN) + cipher.openMsPerMiB;
  const total = Object.values(relayMsPerMiB).reduce((a, b) => a + b, 0) + cipher.sealMsPerMiB +
    cipher.openMsPerMiB;
  return Math.min(1000 / sealer, 1000 / opener, (cores * 1000) / total);
}

/** VmRSS of an empty Deno process and of one with `p2p expose`'s module graph loaded. */
export interface RssFloors {
  emptyMiB: number;
  importsMiB: number;
}

/** Spawns each probe with the `p2p` task's runtime flags and reads its RSS after `settleMs`. */
export async function rssFloors(settleMs: number): Promise<RssFloors> {
  const probe = async (what: "empty" | "imports"): Promise<number> => {
    const child = new Child({
      name: `rss-${what}`,
      cmd: Deno.execPath(),
      args: [
        "run",
        "-A",
        ...p2pTaskRuntimeFlags(),
        new URL("./servers/rss_probe.ts", import.meta.url).pathname,
        what,
      ],
      stdin: "piped",
    });
    try {
      await child.waitLine((l) => l.startsWith("{"), 30_000);
      await sleep(settleMs);
      return rssMiB(child.pid);
    } finally {
      await child.stop();
    }
  };
  return { emptyMiB: await probe("empty"), importsMiB: await probe("imports") };
}
