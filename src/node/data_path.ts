/**
 * The data path of a node's libp2p, as its {@linkcode Tuning} chooses it: the noise encrypter
 * (framing, cipher, the buffers full messages are sealed into, the tunnels' reused read slabs)
 * and the yamux muxer (window sizes, the eager answer to a stream's proposal). `create_node.ts`
 * assembles the rest.
 *
 * @module
 */
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import type { StreamMuxerFactory } from "@libp2p/interface";
import { eagerSelect, type EagerSelectComponents } from "./eager_select.ts";
import { BufferPool } from "./buffer_pool.ts";
import { SendSlabs } from "./send_slabs.ts";
import { framedNoise } from "./noise_frames.ts";
import { denoNoiseCrypto } from "./noise_crypto.ts";
import { sharedOpenSslAead } from "./openssl_aead.ts";
import { opensStream } from "./yamux_window.ts";
import {
  NOISE_MAX_MESSAGE_BYTES,
  NOISE_OPENSSL_ON_DEMAND_FROM,
  NOISE_SEAL_BUFFERS_KEPT,
  SEND_SLAB_BYTES,
  SEND_SLABS_KEPT,
} from "./deno_tcp_constants.ts";
import {
  YAMUX_MAX_EARLY_STREAMS,
  YAMUX_MAX_STREAM_WINDOW,
  YAMUX_MAX_STREAMS,
} from "./constants.ts";
import type { Tuning } from "./tuning.ts";

/** The pool full noise messages are sealed into (none kept with `buffers:stock`). */
export function sealBuffersFor(tuning: Tuning): BufferPool {
  return new BufferPool(
    NOISE_MAX_MESSAGE_BYTES,
    tuning.buffers === "reused" ? NOISE_SEAL_BUFFERS_KEPT : 0,
  );
}

/** The read slabs a tunnel's TCP side reuses once sealed (none kept with `slabs:stock`). */
export function sendSlabsFor(tuning: Tuning): SendSlabs {
  return new SendSlabs(SEND_SLAB_BYTES, tuning.slabs === "reused" ? SEND_SLABS_KEPT : 0);
}

/** What the encrypter needs besides the tuning. */
export interface EncrypterInit {
  /** The private network's prologue, if any. */
  prologue: Uint8Array | undefined;
  /** When OpenSSL's cipher is loaded (`NodeOptions.openssl`). */
  openssl: "start" | "bulk" | undefined;
  /** Where full messages are sealed (shared with the TCP transport, which gives them back). */
  sealBuffers: BufferPool;
  /** Told of what the cipher sealed (shared with the tunnels, which read into its slabs). */
  sendSlabs: SendSlabs;
}

/** The noise encrypter the tuning chooses. */
export function noiseEncrypter(
  tuning: Tuning,
  init: EncrypterInit,
): ReturnType<typeof noise> {
  const lean = tuning.framing === "lean";
  return (lean ? framedNoise : noise)({
    // The one muxer is yamux: a stream's opening is sealed with what follows it in the turn.
    ...(lean ? { holdsTurn: opensStream } : {}),
    ...(init.prologue === undefined ? {} : { prologueBytes: init.prologue }),
    ...(tuning.noise === "stock" ? {} : {
      crypto: denoNoiseCrypto({
        sealBuffers: init.sealBuffers,
        sendSlabs: init.sendSlabs,
        ...tuning.noise === "node"
          ? { encryptFrom: 0, decryptFrom: 0 }
          : tuning.noise !== "openssl"
          ? {}
          : init.openssl === "bulk"
          ? { aeadOnDemand: { load: sharedOpenSslAead, from: NOISE_OPENSSL_ON_DEMAND_FROM } }
          : { aead: sharedOpenSslAead() },
      }),
    }),
  });
}

/** The yamux muxer the tuning chooses. */
export function yamuxMuxer(
  tuning: Tuning,
): (components: EagerSelectComponents) => StreamMuxerFactory {
  const muxer = yamux({
    maxEarlyStreams: YAMUX_MAX_EARLY_STREAMS,
    maxInboundStreams: YAMUX_MAX_STREAMS,
    maxOutboundStreams: YAMUX_MAX_STREAMS,
    streamOptions: { maxStreamWindowSize: YAMUX_MAX_STREAM_WINDOW },
  });
  return tuning.select === "eager" ? eagerSelect(muxer) : muxer;
}
