/**
 * Two nodes on one machine: Alice advertises a capability and serves requests, Bob finds her
 * by that capability, sends her a request and a topic message, and tries to replay a message.
 *
 * Run it with `deno run -A examples/two_nodes.ts`. Everything stays on 127.0.0.1.
 *
 * @module
 */

import {
  createNode,
  generateToken,
  MessageRejectedError,
  type P2PNode,
  type TopicMessage,
} from "../mod.ts";

const token = generateToken(); // share it with every member of the network
const loopback = { listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, dht: false };

/** Polls `check` every 50 ms until it returns a value, for at most `ms`. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

const alice: P2PNode = createNode({ token, ...loopback, bootstrapPeers: [] });
let bob: P2PNode | undefined;
try {
  // Alice: a seed node that completes prompts and listens to the "news" topic.
  alice.handle("complete", ({ from, payload }) => {
    const { prompt } = payload as { prompt: string };
    return { text: `${prompt} world`, servedTo: from.slice(-6) };
  });
  const news: TopicMessage[] = [];
  alice.subscribe("news", (message) => void news.push(message));
  await alice.start();
  await alice.advertise({ models: ["llama3"] }, { pools: ["worker"] });
  console.log(`alice: ${alice.peerId}`);

  // Bob: joins through Alice's address.
  bob = createNode({ token, ...loopback, bootstrapPeers: alice.addresses() });
  await bob.start();
  console.log(`bob: ${bob.peerId}`);

  // 1. Find a member that serves llama3 (online, fastest first).
  const [worker] = await until("a llama3 worker", async () => {
    const found = await bob!.findPeers({ pool: "worker", capabilities: { models: ["llama3"] } });
    return found.length > 0 ? found : undefined;
  });
  console.log(`found: ${worker!.peerId === alice.peerId ? "alice" : worker!.peerId}`);

  // 2. A request and its response.
  const answer = await bob.request<{ text: string }>(worker!.peerId, "complete", {
    prompt: "hello",
  });
  console.log(`request: ${answer.text}`);

  // 3. A topic message, sealed with the network token.
  await until(
    "alice on the topic",
    () => Promise.resolve(bob!.topicPeers("news").includes(alice.peerId) || undefined),
  );
  await bob.publish("news", { headline: "p2p works" });
  const message = await until("the news at alice", () => Promise.resolve(news[0]));
  console.log(`topic: alice got ${JSON.stringify(message.payload)} from bob`);

  // 4. The same signed bytes twice: accepted once, then refused as a replay.
  const frame = await bob.encodeMessage(alice.peerId, "complete", { prompt: "pay" }, {
    kind: "request",
  });
  await bob.sendFrame(alice.peerId, frame);
  try {
    await bob.sendFrame(alice.peerId, frame);
    console.log("replay: accepted (unexpected)");
  } catch (error) {
    if (!(error instanceof MessageRejectedError)) throw error;
    console.log(`replay: rejected (${error.reason})`);
  }
  console.log(`alice rejected: ${JSON.stringify(alice.stats().rejected)}`);
} finally {
  await bob?.stop();
  await alice.stop();
}
