// A membership challenge that fails for a reason other than a wrong proof (a busy peer, a
// reset stream) is tried again: a peer that never proves itself gets no service from members.
// Loopback only, in process.
import { NODE_TEST, startLibp2pPair, waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Connection, Stream } from "@libp2p/interface";
import type { P2PLibp2p } from "../../src/node/create_node.ts";
import { MEMBERSHIP_PROTOCOL } from "../../src/node/constants.ts";
import { generateTokenConfig } from "../../src/token/token.ts";

interface HandlerRecord {
  handler: (stream: Stream, connection: Connection) => void | Promise<void>;
  options: Record<string, unknown>;
}

/** Makes `node` reset the first `count` challenges it is asked to answer. */
async function resetFirstChallenges(node: P2PLibp2p, count: number): Promise<() => number> {
  const { registrar } = (node as unknown as {
    components: { registrar: { getHandler(protocol: string): HandlerRecord } };
  }).components;
  const original = registrar.getHandler(MEMBERSHIP_PROTOCOL);
  let asked = 0;
  await node.unhandle(MEMBERSHIP_PROTOCOL);
  await node.handle(MEMBERSHIP_PROTOCOL, (stream, connection) => {
    asked++;
    if (asked <= count) return stream.abort(new Error("busy"));
    return original.handler(stream, connection);
  }, original.options);
  return () => asked;
}

Deno.test({
  name: "membership: a challenge the peer reset is tried again until the peer proved itself",
  ...NODE_TEST,
  async fn() {
    const pair = await startLibp2pPair();
    const [a, b] = [pair.server, pair.client];
    try {
      // The node with the smaller ID challenges; the other answers (and resets twice).
      const [asker, answerer] = a.peerId.toString() < b.peerId.toString() ? [a, b] : [b, a];
      const asked = await resetFirstChallenges(answerer, 2);
      await asker.dial(answerer.getMultiaddrs()[0]!);
      // The asker's proof reaches the answerer a moment after the answer reached the asker.
      await waitFor(
        () =>
          asker.services.membership.isMember(answerer.peerId) &&
          answerer.services.membership.isMember(asker.peerId),
        { timeoutMs: 20_000, message: "both proved membership to each other" },
      );
      assert.equal(asked(), 3, "two reset challenges, then the one that went through");
    } finally {
      await pair.stop();
    }
  },
});

Deno.test({
  name: "membership: a peer of another network is challenged once, not again",
  ...NODE_TEST,
  async fn() {
    const pair = await startLibp2pPair({}, { token: generateTokenConfig() });
    const [a, b] = [pair.server, pair.client];
    try {
      const [asker, answerer] = a.peerId.toString() < b.peerId.toString() ? [a, b] : [b, a];
      const asked = await resetFirstChallenges(answerer, 0);
      await asker.dial(answerer.getMultiaddrs()[0]!);
      await waitFor(() => asker.services.membership.failedProof(answerer.peerId), {
        timeoutMs: 10_000,
        message: "the other network's peer failed the proof",
      });
      // A retry would come within the backoff's first 1 s; give it three times that.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(asked(), 1);
      assert.equal(asker.services.membership.isMember(answerer.peerId), false);
    } finally {
      await pair.stop();
    }
  },
});
