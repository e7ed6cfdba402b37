// Starts two loopback libp2p nodes (TCP + noise + yamux), dials and pings, stops both,
// prints "stopped" and returns. Run with --without-shims to see why the shims exist.
if (!Deno.args.includes("--without-shims")) {
  (await import("../../../src/node/deno_shims.ts")).installDenoShims();
}
const { createLibp2p } = await import("libp2p");
const { tcp } = await import("@libp2p/tcp");
const { noise } = await import("@libp2p/noise");
const { yamux } = await import("@libp2p/yamux");
const { ping } = await import("@libp2p/ping");
const { identify } = await import("@libp2p/identify");

function make() {
  return createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { ping: ping(), identify: identify() },
  });
}

const a = await make();
const b = await make();
await b.services.ping.ping(a.getMultiaddrs()[0]!);
await Promise.all([a.stop(), b.stop()]);
console.log("stopped");
