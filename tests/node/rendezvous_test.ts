import assert from "node:assert/strict";
import type {
  ComponentLogger,
  ContentRouting,
  Libp2pEvents,
  Logger,
  PeerId,
  TypedEventTarget,
} from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { waitFor } from "../_helpers/wait.ts";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { ConnectionManager } from "@libp2p/interface-internal";
import type { CID } from "multiformats/cid";
import {
  type Rendezvous,
  rendezvous,
  type RendezvousComponents,
} from "../../src/node/rendezvous.ts";
import { RENDEZVOUS_REPROVIDE_MS } from "../../src/node/constants.ts";
import { rendezvousAt, rendezvousCid } from "../../src/token/derive.ts";
import { generateTokenConfig, type NetworkToken } from "../../src/token/token.ts";
import { providerRecordPolicy } from "../../src/node/provider_records.ts";

const silent: Logger = Object.assign(() => {}, {
  error: () => {},
  trace: () => {},
  enabled: false,
  newScope: () => silent,
});
const logger: ComponentLogger = { forComponent: () => silent };

const self = peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
const newPeerId = async (): Promise<PeerId> =>
  peerIdFromPrivateKey(await generateKeyPair("Ed25519"));

/** A DHT and connection manager that record what the rendezvous loop asks of them. */
function fakeNetwork(failProvides = 0) {
  const provides: string[] = [];
  const cancelled: string[] = [];
  const connections: unknown[] = [];
  /** Providers every lookup finds (our own record among them); dials to them succeed… */
  const providers: PeerId[] = [self];
  /** …except to these, whose records hold no address we reach. */
  const unreachable = new Set<string>();
  /** Our own addresses, as the address manager gives them. */
  const addresses = [multiaddr("/ip4/10.0.0.2/tcp/4001")];
  const events = new EventTarget() as TypedEventTarget<Libp2pEvents>;
  let failures = failProvides;
  const components: RendezvousComponents = {
    peerId: self,
    addressManager: { getAddresses: () => [...addresses] },
    events,
    logger,
    contentRouting: {
      provide: (cid: CID) => {
        if (failures-- > 0) return Promise.reject(new Error("no peers answered"));
        provides.push(cid.toString());
        return Promise.resolve();
      },
      findProviders: async function* () {
        yield* providers.map((id) => ({ id, multiaddrs: [] }));
      },
    } as unknown as ContentRouting,
    connectionManager: {
      getConnections: () => connections,
      openConnection: (peer: PeerId) => {
        if (peer.toString() === self.toString()) {
          return Promise.reject(new Error("Can not dial self"));
        }
        if (unreachable.has(peer.toString())) {
          return Promise.reject(new Error("All multiaddr dials failed"));
        }
        connections.push({ remotePeer: peer });
        return Promise.resolve();
      },
    } as unknown as ConnectionManager,
    dht: {
      cancelReprovide: (cid: CID) => {
        cancelled.push(cid.toString());
        return Promise.resolve();
      },
    },
  };
  return {
    components,
    provides,
    cancelled,
    connections,
    providers,
    unreachable,
    addresses,
    events,
  };
}

const token = generateTokenConfig({ dhtInterval: 30 });
const cidAt = (ms: number): string => rendezvousCid(rendezvousAt(token, ms / 1000));
// The middle of a window, so that a few seconds either way stay in it.
const start = (Math.floor(Date.now() / 30_000) + 0.5) * 30_000;

/** What a test gets: the started loop, its fake network, and the clock it reads (settable). */
interface LoopRun {
  loop: Rendezvous;
  net: ReturnType<typeof fakeNetwork>;
  clock: { now: number };
}

/** Runs `body` against a started rendezvous loop on a fake network; stops the loop after. */
async function withLoop(
  body: (run: LoopRun) => Promise<void>,
  init: {
    failProvides?: number;
    token?: NetworkToken;
    startMs?: number;
    intervalMs?: number;
    bootstrapPeers?: string[];
  } = {},
): Promise<void> {
  const net = fakeNetwork(init.failProvides);
  const clock = { now: init.startMs ?? start };
  const loop = rendezvous({
    token: init.token ?? token,
    now: () => clock.now,
    ...(init.intervalMs === undefined ? {} : { intervalMs: init.intervalMs }),
    ...(init.bootstrapPeers === undefined ? {} : { bootstrapPeers: init.bootstrapPeers }),
  })(net.components);
  loop.start();
  try {
    await body({ loop, net, clock });
  } finally {
    await loop.stop();
  }
}

Deno.test("rendezvous provides each CID once while nobody joins", () =>
  withLoop(async ({ loop, net, clock }) => {
    const first = await loop.runCycle();
    assert.deepEqual(first.provided, [cidAt(start), cidAt(start - 30_000)]);
    clock.now += 10_000;
    const second = await loop.runCycle();
    assert.deepEqual(second.provided, []);
    assert.equal(second.cids.length, 2, "both CIDs are still in use");
    assert.equal(net.provides.length, 2);
  }));

/** Which of `count` cycles looked up providers, as a string of `L` (looked up) and `.`. */
async function lookups(loop: Rendezvous, clock: { now: number }, count: number): Promise<string> {
  let seen = "";
  for (let i = 0; i < count; i++) {
    seen += (await loop.runCycle()).searched.length > 0 ? "L" : ".";
    clock.now += 1_000;
  }
  return seen;
}

Deno.test("rendezvous looks up less often while lookups find nobody new", () =>
  withLoop(async ({ loop, net, clock }) => {
    net.connections.push({ remotePeer: "a" }, { remotePeer: "b" });
    assert.equal(await lookups(loop, clock, 20), "L.L...L.....L.....L.");
  }));

Deno.test("rendezvous looks up every cycle again after a lost connection or a new provider", () =>
  withLoop(async ({ loop, net, clock }) => {
    net.connections.push({ remotePeer: "a" }, { remotePeer: "b" });
    assert.equal(await lookups(loop, clock, 8), "L.L...L.");
    net.connections.pop();
    assert.equal(await lookups(loop, clock, 4), "LL.L", "the next cycle looks, then backs off");
    net.providers.push(await newPeerId());
    assert.equal(await lookups(loop, clock, 6), "...LL.", "the due lookup dials: every cycle");
    assert.equal(net.connections.length, 2);
  }));

Deno.test("rendezvous looks up every cycle while it finds a provider it cannot dial yet", () =>
  withLoop(async ({ loop, net, clock }) => {
    net.connections.push({ remotePeer: "a" });
    const behindNat = await newPeerId();
    net.providers.push(behindNat);
    net.unreachable.add(behindNat.toString());
    const first = await loop.runCycle();
    assert.deepEqual([first.found, first.dialed, first.unreached], [2, 0, 2], "one per CID");
    clock.now += 1_000;
    assert.equal(await lookups(loop, clock, 3), "LLL");
    net.unreachable.clear(); // its reservation is in its record now
    assert.equal(await lookups(loop, clock, 4), "LL.L", "dialed, then nobody new: backs off");
    assert.equal(net.connections.length, 2);
  }));

Deno.test("rendezvous leaves its own record out of what a lookup found", () =>
  withLoop(async ({ loop }) => {
    const cycle = await loop.runCycle();
    assert.equal(cycle.searched.length, 2);
    assert.deepEqual([cycle.found, cycle.dialed, cycle.unreached], [0, 0, 0]);
  }));

Deno.test("rendezvous provides again, within a second, when its addresses change", () =>
  withLoop(async ({ loop, net }) => {
    loop.afterStart?.();
    await waitFor(() => loop.cycles >= 1, { timeoutMs: 5_000, message: "the first cycle" });
    assert.equal(net.provides.length, 2);
    net.events.dispatchEvent(new CustomEvent("self:peer:update"));
    net.addresses.push(multiaddr("/ip4/11.0.0.1/tcp/4001/p2p-circuit")); // a reservation
    net.events.dispatchEvent(new CustomEvent("self:peer:update"));
    // The interval is a minute: only the address change brings a cycle within the wait.
    await waitFor(() => loop.cycles >= 2, { timeoutMs: 5_000, message: "a second cycle" });
    assert.equal(net.provides.length, 4, "both CIDs provided with the new address");
    await loop.runCycle();
    assert.equal(net.provides.length, 4, "and not again while the addresses stay");
  }, { intervalMs: 60_000 }));

Deno.test("rendezvous provides again when its connections more than doubled", () =>
  withLoop(async ({ loop, net, clock }) => {
    await loop.runCycle(); // alone
    net.connections.push({ remotePeer: "a" });
    clock.now += 1_000;
    assert.equal((await loop.runCycle()).provided.length, 2, "0 → 1 connection");
    net.connections.push({ remotePeer: "b" });
    clock.now += 1_000;
    assert.equal((await loop.runCycle()).provided.length, 0, "1 → 2: not more than doubled");
    net.connections.push({ remotePeer: "c" });
    clock.now += 1_000;
    assert.equal((await loop.runCycle()).provided.length, 2, "1 → 3");
    clock.now += 1_000;
    assert.equal((await loop.runCycle()).provided.length, 0);
  }));

Deno.test("rendezvous, alone, skips the DHT and dials its bootstrap peers again within seconds", async () => {
  const seed = `/ip4/10.0.0.1/tcp/4001/p2p/${await newPeerId()}`;
  return withLoop(async ({ loop, net }) => {
    net.unreachable.add(seed); // not up yet
    loop.afterStart?.();
    // The interval is a minute: only the backoff of a cycle without connections is this soon.
    await waitFor(() => loop.cycles >= 2, { timeoutMs: 5_000, message: "a second dial" });
    assert.deepEqual(net.provides, [], "no DHT step while alone");
    net.unreachable.delete(seed);
    await waitFor(() => net.provides.length === 2, {
      timeoutMs: 10_000,
      message: "the provides once the seed answers",
    });
    assert.equal(net.connections.length, 1);
  }, { intervalMs: 60_000, bootstrapPeers: [seed] });
});

Deno.test("rendezvous tries a failed provide again next cycle", () =>
  withLoop(async ({ loop, clock }) => {
    assert.deepEqual((await loop.runCycle()).provided, [cidAt(start - 30_000)]);
    clock.now += 5_000;
    assert.deepEqual((await loop.runCycle()).provided, [cidAt(start)]);
  }, { failProvides: 1 }));

Deno.test("rendezvous provides the new CID on rotation and cancels the one rotated out", () =>
  withLoop(async ({ loop, net, clock }) => {
    await loop.runCycle();
    clock.now += 30_000;
    assert.deepEqual((await loop.runCycle()).provided, [cidAt(clock.now)]);
    assert.deepEqual(net.cancelled, [cidAt(start - 30_000)]);
    clock.now += RENDEZVOUS_REPROVIDE_MS;
    const late = await loop.runCycle();
    assert.equal(late.provided.length, 2, "a fresh window: both CIDs are new");
  }));

Deno.test("rendezvous provides a long-lived CID again after the re-provide period", () => {
  const windowStart = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  return withLoop(async ({ loop, net, clock }) => {
    assert.equal((await loop.runCycle()).provided.length, 2);
    clock.now += RENDEZVOUS_REPROVIDE_MS - 1;
    assert.equal((await loop.runCycle()).provided.length, 0);
    clock.now += 1;
    assert.equal((await loop.runCycle()).provided.length, 2);
    assert.deepEqual(net.cancelled, []);
  }, { token: generateTokenConfig({ dhtInterval: 3600 }), startMs: windowStart + 60_000 });
});

Deno.test("provider records outlive their two DHT windows and are swept", () => {
  const policy = providerRecordPolicy(token);
  assert.ok(policy.validity > 2 * 30_000, "a record lives through current and previous window");
  assert.ok(policy.validity < 5 * 60_000, "and is gone minutes later, not after 48 hours");
  assert.equal(policy.threshold, 0, "our own records are not re-provided before they expire");
  assert.ok(policy.interval <= 60_000);
});
