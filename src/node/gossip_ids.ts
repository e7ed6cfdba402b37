/**
 * How gossipsub keys the messages it has seen. Its defaults cost a node of a busy network most
 * of its gossip work: every copy of a message (a 20-member network floods each block to 19
 * peers, and meshes forward it again) is signature-checked before gossipsub notices it is a
 * duplicate, and every message ID it handles (its own caches, and every ID in every IHAVE) is
 * turned into a base64 string first.
 *
 * @module
 */
import type { RPC } from "@libp2p/gossipsub/message";

/** `String.fromCharCode` takes its arguments on the stack: at most this many at once. */
const CHARS_PER_CALL = 4_096;
/** A peer ID's bytes: a multihash, 34 to 42 bytes for the keys libp2p uses. */
const MAX_AUTHOR_BYTES = 256;

/**
 * One UTF-16 code unit per byte: a string that is equal for equal bytes only, built without
 * encoding. Message IDs only key gossipsub's own maps; the wire carries their bytes.
 *
 * @param bytes A message ID.
 * @returns Its map key.
 */
export function messageIdKey(bytes: Uint8Array): string {
  if (bytes.byteLength <= CHARS_PER_CALL) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  const parts: string[] = [];
  for (let at = 0; at < bytes.byteLength; at += CHARS_PER_CALL) {
    parts.push(messageIdKey(bytes.subarray(at, at + CHARS_PER_CALL)));
  }
  return parts.join("");
}

/**
 * The key of a received message before its signature is checked: its author and sequence
 * number, which is what the message ID is made of (the author's public key in js-libp2p, its
 * peer ID in go-libp2p; one determines the other), so the key of a valid message stands for
 * its ID one to one. gossipsub files a key only once the message passed validation, so a copy
 * that matches is a copy of a valid message: dropping it unchecked is what its ID would have
 * done one step later. A message without both fields keys to nothing, and is checked.
 *
 * @param message A message as it came off the wire.
 * @returns Its key, or `""` (never filed: no valid message has it) when it lacks an author or
 * a sequence number, or its author field is longer than any peer ID.
 */
export function receivedMessageKey(message: RPC.Message): string {
  const { from, seqno } = message;
  if (from === undefined || seqno === undefined || from.byteLength > MAX_AUTHOR_BYTES) return "";
  // The author's length first: no two (author, sequence number) pairs give one key.
  return String.fromCharCode(from.byteLength) + messageIdKey(from) + messageIdKey(seqno);
}
