import { waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { connectService } from "../../src/services/connect.ts";
import { exposeService } from "../../src/services/expose.ts";
import { type Network, startNetwork } from "../../src/network/network.ts";
import { generateTokenConfig } from "../../src/token/token.ts";
import {
  type Backend,
  connectTo,
  echo,
  greeter,
  LOOPBACK_LISTEN,
  loopbackAddr,
  NODE_TEST,
  readLine,
  roundTrip,
  startBackend,
  startCluster,
  stopNetworks,
} from "./_fixtures.ts";

Deno.test({
  name: "connect dials a member it never met at the addresses of its signed service record",
  ...NODE_TEST,
  async fn() {
    // A seed and two members that bootstrapped to it, the DHT off: the serving member and the
    // client know of each other only through the ledger, as two NATed nodes behind a relay.
    const token = generateTokenConfig();
    const options = { token, listen: LOOPBACK_LISTEN, mdns: false, dht: false };
    const networks: Network[] = [];
    let backend: Backend | undefined;
    try {
      const seed = await startNetwork({ ...options, bootstrapPeers: [] });
      networks.push(seed);
      const [server, client] = await Promise.all([
        startNetwork({ ...options, bootstrapPeers: [loopbackAddr(seed)] }),
        startNetwork({ ...options, bootstrapPeers: [loopbackAddr(seed)] }),
      ]);
      networks.push(server, client);
      backend = startBackend(echo);
      await exposeService(server, { target: backend.address, service: "db" });
      const serverId = server.node.peerId;
      await waitFor(() => client.claims.get("services", "db"), {
        message: "the service record at the client",
      });
      // The client learns that the server is a member from the server's own gossip; whether
      // such a message reached it yet depends on gossip timing, so the test says it.
      client.membership.prove(serverId.toString(), "gossip");
      // What a NATed client knows of the server: its gossip, no connection, no address.
      await client.node.hangUp(serverId);
      await client.node.peerStore.delete(serverId);

      const connected = await connectService(client, { service: "db" });
      const payload = new TextEncoder().encode("through a connection made for this tunnel");
      assert.deepEqual(await roundTrip(connected.address, payload), payload);
      assert.equal(connected.stats.failed, 0);
    } finally {
      await backend?.close();
      await stopNetworks(networks.reverse());
    }
  },
});

Deno.test({
  name: "connect follows its service to another member: the next connection reaches the new one",
  ...NODE_TEST,
  async fn() {
    const cluster = await startCluster(3);
    const [, first, client] = cluster.networks as [Network, Network, Network];
    const backends: Backend[] = [];
    try {
      backends.push(startBackend(greeter("first")));
      await exposeService(first, { target: backends[0]!.address, service: "web" });
      await waitFor(() => client.claims.get("services", "web"), { message: "the record" });
      const web = await connectService(client, { service: "web" });
      const greeting = async (): Promise<string> => {
        const conn = await connectTo(web.address);
        try {
          return await readLine(conn);
        } finally {
          conn.close();
        }
      };
      assert.equal(await greeting(), "first");
      assert.equal(await greeting(), "first", "the second connection, the same target");

      // The first owner leaves; another member takes the name over.
      await first.stop();
      const second = await cluster.add();
      backends.push(startBackend(greeter("second")));
      await exposeService(second, { target: backends[1]!.address, service: "web" });
      await waitFor(() => client.claims.get("services", "web")?.signer === second.peerId, {
        message: "the new owner's record at the client",
      });
      assert.equal(await greeting(), "second");
    } finally {
      for (const backend of backends) await backend.close();
      await cluster.stop();
    }
  },
});
