// The UPnP service maps once the node's addresses settle: a burst of address changes (or a
// gateway's answer) leads to one mapping attempt, `settleMs` after the last, where upnp-nat
// alone waits 5 s.
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { UPnPNATComponents } from "@libp2p/upnp-nat";
import { promptUPnPNAT } from "../../src/node/upnp.ts";

/** A logger that prints nothing (libp2p's shape: a function with levels and scopes). */
function silentLogger(): UPnPNATComponents["logger"] {
  const log: object = Object.assign(() => {}, {
    enabled: false,
    error: () => {},
    trace: () => {},
    newScope: () => log,
  });
  return { forComponent: () => log } as unknown as UPnPNATComponents["logger"];
}

async function components(): Promise<UPnPNATComponents> {
  return {
    peerId: peerIdFromPrivateKey(await generateKeyPair("Ed25519")),
    nodeInfo: { name: "p2p", version: "0", userAgent: "p2p/0" },
    logger: silentLogger(),
    addressManager: {} as UPnPNATComponents["addressManager"],
    events: new EventTarget() as unknown as UPnPNATComponents["events"],
  };
}

type Startable = { start(): Promise<void>; stop(): Promise<void> };

/** Long against the 30 ms between the burst's changes, so a loaded machine still sees a burst. */
const SETTLE_MS = 300;

Deno.test("a burst of address changes leads to one mapping, settleMs after the last", async () => {
  const parts = await components();
  // No gateways given: nothing is searched for on the network.
  const service = promptUPnPNAT({ gateways: [] }, SETTLE_MS)(parts) as unknown as Startable & {
    mapIpAddresses(): Promise<void>;
  };
  const calls: number[] = [];
  let mapped!: () => void;
  const firstCall = new Promise<void>((resolve) => mapped = resolve);
  service.mapIpAddresses = () => {
    calls.push(performance.now());
    mapped();
    return Promise.resolve();
  };
  await service.start();
  let bound: ReturnType<typeof setTimeout> | undefined;
  try {
    const events = parts.events as unknown as EventTarget;
    let lastChange = 0;
    for (let i = 0; i < 3; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 30));
      events.dispatchEvent(new CustomEvent("self:peer:update"));
      lastChange = performance.now();
    }
    // Bounded well below upnp-nat's own 5 s, so the stock trigger cannot pass this test.
    const timedOut = new Promise<"timeout">((resolve) => {
      bound = setTimeout(() => resolve("timeout"), 3_000);
    });
    assert.notEqual(await Promise.race([firstCall, timedOut]), "timeout", "no mapping within 3 s");
    assert.ok(
      calls[0]! - lastChange >= SETTLE_MS - 10,
      `mapped ${calls[0]! - lastChange} ms after the last change`,
    );
    // Nothing else was pending: one attempt for the burst.
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(calls.length, 1);
  } finally {
    clearTimeout(bound);
    await service.stop();
  }
});

Deno.test("stopping the service cancels a pending mapping", async () => {
  const parts = await components();
  const service = promptUPnPNAT({ gateways: [] }, 50)(parts) as unknown as Startable & {
    mapIpAddresses(): Promise<void>;
  };
  let calls = 0;
  service.mapIpAddresses = () => {
    calls++;
    return Promise.resolve();
  };
  await service.start();
  (parts.events as unknown as EventTarget).dispatchEvent(new CustomEvent("self:peer:update"));
  await service.stop();
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(calls, 0);
});
