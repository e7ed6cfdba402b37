import assert from "node:assert/strict";
import { messageIdKey, receivedMessageKey } from "../../src/node/gossip_ids.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

Deno.test("messageIdKey: one code unit per byte, equal only for equal bytes", () => {
  assert.equal(messageIdKey(bytes()), "");
  assert.equal(messageIdKey(bytes(0, 65, 255)), "\u0000A\u00ff");
  assert.notEqual(messageIdKey(bytes(1, 2)), messageIdKey(bytes(1, 2, 0)));
  // Longer than one call of String.fromCharCode takes: chunked, nothing lost or reordered.
  const long = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) % 256);
  const key = messageIdKey(long);
  assert.equal(key.length, long.length);
  assert.ok([...key].every((char, i) => char.charCodeAt(0) === long[i]));
});

Deno.test("receivedMessageKey: author and sequence number, unambiguous, empty when either is missing", () => {
  const from = bytes(0, 36, 8, 1);
  const seqno = bytes(0, 0, 0, 0, 0, 0, 0, 7);
  assert.equal(
    receivedMessageKey({ from, seqno, topic: "t" }),
    receivedMessageKey({ from, seqno, topic: "u", data: bytes(1) }),
  );
  assert.notEqual(
    receivedMessageKey({ from, seqno, topic: "t" }),
    receivedMessageKey({ from, seqno: bytes(0, 0, 0, 0, 0, 0, 0, 8), topic: "t" }),
  );
  // The boundary between the fields cannot move: (ab, c) and (a, bc) differ.
  assert.notEqual(
    receivedMessageKey({ from: bytes(1, 2), seqno: bytes(3), topic: "t" }),
    receivedMessageKey({ from: bytes(1), seqno: bytes(2, 3), topic: "t" }),
  );
  assert.equal(receivedMessageKey({ seqno, topic: "t" }), "");
  assert.equal(receivedMessageKey({ from, topic: "t" }), "");
  assert.equal(receivedMessageKey({ from: new Uint8Array(257), seqno, topic: "t" }), "");
});
