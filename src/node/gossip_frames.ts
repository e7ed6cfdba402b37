import type { GossipSub } from "@libp2p/gossipsub";
import { appendVarint } from "./varint.ts";

/** The part of a gossipsub outbound stream this module replaces. */
interface OutboundStream {
  push(data: Uint8Array): void;
  pushPrefixed(data: Uint8Array): void;
}

/**
 * Lets gossipsub send RPC frames up to `maxBytes`. Its outbound streams length-prefix every
 * frame with it-length-prefixed's default cap of 4 MiB and throw above it, so a ledger block
 * between 4 MiB and the token's `max_message_size` (20 MiB in LocalAI), which Go peers send
 * and accept, could not leave a js node. Each outbound stream gets a `push` that prefixes
 * the frame itself (unsigned varint length, as it-length-prefixed writes it) up to `maxBytes`.
 *
 * @param pubsub The node's gossipsub service (patched in place, per instance).
 * @param maxBytes Largest frame to send.
 */
export function allowLargeGossipFrames(pubsub: GossipSub, maxBytes: number): void {
  const streams = (pubsub as unknown as { streamsOutbound: Map<string, OutboundStream> })
    .streamsOutbound;
  const set = streams.set.bind(streams);
  streams.set = (id, stream) => {
    stream.push = (data) => {
      if (data.byteLength > maxBytes) {
        throw new RangeError(
          `Cannot send a gossip frame of ${data.byteLength} bytes: above ${maxBytes}`,
        );
      }
      stream.pushPrefixed(lengthPrefixed(data));
    };
    return set(id, stream);
  };
}

function lengthPrefixed(data: Uint8Array): Uint8Array {
  const header: number[] = [];
  appendVarint(data.byteLength, header);
  const frame = new Uint8Array(header.length + data.byteLength);
  frame.set(header);
  frame.set(data, header.length);
  return frame;
}
