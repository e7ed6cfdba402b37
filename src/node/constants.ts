/** Kademlia protocol of the public IPFS (Amino) DHT, the one LocalAI/edgevpn nodes use. */
export const PUBLIC_DHT_PROTOCOL = "/ipfs/kad/1.0.0";

/**
 * The public IPFS bootstrap peers (go-libp2p's `dht.DefaultBootstrapPeers`), the default
 * of LocalAI. An explicit `--bootstrap-peers` list replaces them.
 */
export const PUBLIC_BOOTSTRAP_PEERS: readonly string[] = [
  "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
  "/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
  "/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
  "/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
  "/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
];

/** Listen addresses when none are given: every interface, IPv4 and IPv6, a random port. */
export const DEFAULT_LISTEN_ADDRS: readonly string[] = ["/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"];

/** Upper bound between two rendezvous cycles (edgevpn: DiscoveryInterval 10 s in LocalAI). */
export const RENDEZVOUS_INTERVAL_MS = 10_000;
/** Bound on one provide or find-providers step of a rendezvous cycle. */
export const RENDEZVOUS_STEP_TIMEOUT_MS = 8_000;
/** How many providers one lookup returns at most (go-libp2p's FindProvidersAsync default). */
export const RENDEZVOUS_MAX_PROVIDERS = 100;

/** mDNS query interval. */
export const MDNS_INTERVAL_MS = 5_000;

/** Dial and upgrade bounds: a hung handshake never holds a slot longer than this. */
export const DIAL_TIMEOUT_MS = 5_000;
/** Inbound connections accepted per second from one host; tests and local clusters share an IP. */
export const INBOUND_CONNECTION_THRESHOLD = 1_000;
/** Inbound handshakes in progress at once (libp2p: 10); a cluster dials its seed together. */
export const MAX_PENDING_INBOUND_CONNECTIONS = 128;
/** Default cap on open connections (`--max-connections`). */
export const DEFAULT_MAX_CONNECTIONS = 300;

/** yamux: streams a peer may open before our side has attached its handlers. */
export const YAMUX_MAX_EARLY_STREAMS = 256;
/** yamux stream window; must stay ≤ half the 4 MiB stream read buffer so pause() never overflows. */
export const YAMUX_MAX_STREAM_WINDOW = 2 * 1024 * 1024;

/** Gossipsub refuses messages above about 4 MiB on the sending side (it-length-prefixed cap). */
export const GOSSIP_MAX_MESSAGE_BYTES = 4 * 1024 * 1024 - 64 * 1024;

/** The mDNS domain edgevpn registers its service type in. */
export const MDNS_DOMAIN = "local";

/** Label mixed into the noise prologue and DHT protocol of `--private` networks. */
export const PRIVATE_NETWORK_LABEL = "p2p/private-network/1";
