/**
 * Kademlia protocol of the public IPFS (Amino) DHT, the one LocalAI/edgevpn nodes use.
 */
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

/**
 * Listen addresses when none are given: every interface, IPv4 and IPv6, a random port.
 */
export const DEFAULT_LISTEN_ADDRS: readonly string[] = ["/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"];

/**
 * Upper bound between two rendezvous cycles (edgevpn: DiscoveryInterval 10 s in LocalAI).
 */
export const RENDEZVOUS_INTERVAL_MS = 10_000;
/**
 * Most cycles between two rendezvous lookups while lookups bring nobody new: a lookup asks
 * every DHT peer near the CID (a new stream each), and in a formed network it is the DHT's
 * main idle cost. Newcomers find us by their own lookups, every cycle.
 */
export const RENDEZVOUS_MAX_LOOKUP_CYCLES = 6;
/**
 * A rendezvous CID we provided is provided again after this long even if no peer joined
 * (holders may have restarted): tokens with long DHT intervals keep one CID for minutes.
 */
export const RENDEZVOUS_REPROVIDE_MS = 5 * 60_000;
/**
 * Our addresses change in bursts (listening, observed addresses, a relay reservation, a port
 * mapping): what acts on a change (the rendezvous provide, the UPnP mapping) runs this long
 * after the last one, taking a burst as one.
 */
export const ADDRESS_SETTLE_MS = 1_000;
/**
 * A rendezvous cycle that ends with no connection (the bootstrap peers could not be reached)
 * is followed by one this soon, then at doubling delays up to the interval.
 */
export const RENDEZVOUS_ALONE_RETRY_MS = 1_000;
/**
 * Bound on one provide or find-providers step of a rendezvous cycle.
 */
export const RENDEZVOUS_STEP_TIMEOUT_MS = 8_000;
/**
 * Peers per k-bucket in a DHT of the network's own, which is also how many peers a query asks
 * and how many hold each provider record (go-libp2p and the public DHT: 20). Such a DHT holds
 * rendezvous records only, and in a network of 20 nodes a width of 20 makes every provide and
 * every lookup ask every node. With 8, 20 DHT nodes held 94–98 MiB each at `bench scale`'s
 * reading against 99–105, and about half the idle CPU (eight pairs). Records on the 8 nodes
 * closest to a CID are among the 20 closest, where LocalAI/edgevpn peers look for them.
 */
export const OWN_DHT_BUCKET_SIZE = 8;
/**
 * How many providers one lookup returns at most (go-libp2p's FindProvidersAsync default).
 */
export const RENDEZVOUS_MAX_PROVIDERS = 100;

/**
 * mDNS query interval.
 */
export const MDNS_INTERVAL_MS = 5_000;

/**
 * Dial and upgrade bounds: a hung handshake never holds a slot longer than this.
 */
export const DIAL_TIMEOUT_MS = 5_000;
/** Bound on dialing one address of a peer (libp2p dials them in turn, see `dialOrder`): an
 * address dropped by a firewall leaves time for the next ones. */
export const ADDRESS_DIAL_TIMEOUT_MS = 1_500;
/**
 * Bound on the handshake (noise, yamux) of a connection this node dialed, once its transport
 * reached the address (see `dial_bounds.ts`): the bound an inbound handshake gets.
 */
export const OUTBOUND_HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * Bound on a relayed dial's own steps: reaching the relay and getting the circuit from it
 * (see `dial_bounds.ts`); its handshake has the bound above.
 */
export const RELAYED_DIAL_TIMEOUT_MS = 5_000;
/**
 * Inbound connections accepted per second from one host; tests and local clusters share an IP.
 */
export const INBOUND_CONNECTION_THRESHOLD = 1_000;
/**
 * Inbound handshakes in progress at once (libp2p: 10); a cluster dials its seed together.
 */
export const MAX_PENDING_INBOUND_CONNECTIONS = 128;
/**
 * The TCP transport of a node unless told otherwise (`"deno"` native sockets, `"node"` node:net).
 */
export const DEFAULT_TCP_TRANSPORT: "deno" | "node" = "deno";
/**
 * Default cap on open connections (`--max-connections`).
 */
export const DEFAULT_MAX_CONNECTIONS = 300;

/**
 * yamux: streams a peer may open before our side has attached its handlers.
 */
export const YAMUX_MAX_EARLY_STREAMS = 256;
/**
 * yamux streams per connection and direction (the library's default is 1,000). It must stay
 * above the service-stream budget (tunnels) by {@linkcode YAMUX_CONTROL_STREAMS}: when tunnels
 * hit the muxer's cap, the connection monitor cannot open its ping stream, takes that for a
 * dead peer and drops the connection with every tunnel on it (seen with 999 idle clients).
 */
export const YAMUX_MAX_STREAMS = 4_096 + 256;
/**
 * yamux streams per connection kept for everything but tunnels: ping (32), identify, DHT
 * (≤ 64), gossipsub, the messaging protocols.
 */
export const YAMUX_CONTROL_STREAMS = 256;
/**
 * A connection that received no byte for this long is dead and is closed. libp2p's connection
 * monitor pings every connection every 10 s, so a live peer is heard from several times in
 * this window; a busy one all the time. The monitor itself no longer closes connections: a
 * failed ping on a busy connection (a full muxer, a loaded peer) is not a dead peer.
 */
export const CONNECTION_SILENCE_LIMIT_MS = 30_000;
/**
 * How often connections are checked for silence.
 */
export const CONNECTION_SILENCE_CHECK_MS = 5_000;
/**
 * yamux stream window; must stay ≤ half the 4 MiB stream read buffer so pause() never overflows.
 */
export const YAMUX_MAX_STREAM_WINDOW = 2 * 1024 * 1024;
/**
 * Bytes a yamux stream must have received since its last window update before its window
 * may grow: a few small frames (protocol lines, a request) say nothing about its rate, and
 * each growth sends an update of its own.
 */
export const YAMUX_GROWTH_MIN_BYTES = 16 * 1024;

/**
 * Room left for the RPC framing of one message (from, seqno, topic, signature, key).
 */
export const GOSSIP_FRAMING_RESERVE_BYTES = 1024;

/**
 * The mDNS domain edgevpn registers its service type in.
 */
export const MDNS_DOMAIN = "local";

/**
 * Label mixed into the noise prologue and DHT protocol of `--private` networks.
 */
export const PRIVATE_NETWORK_LABEL = "p2p/private-network/1";
/** Protocol of the membership challenge (see `Membership`). */
export const MEMBERSHIP_PROTOCOL = "/p2p/membership/1.0.0";
/** Bound on one membership challenge, either side. */
export const MEMBERSHIP_TIMEOUT_MS = 5_000;
/**
 * Challenges of one peer on one connection at most, while it has not proved membership and
 * the challenges failed without a wrong proof (timeouts under load).
 */
export const MEMBERSHIP_ATTEMPTS = 6;
/** Backoff between two challenges of a peer: first delay and ceiling. */
export const MEMBERSHIP_RETRY_BASE_MS = 1_000;
/** See {@linkcode MEMBERSHIP_RETRY_BASE_MS}. */
export const MEMBERSHIP_RETRY_MAX_MS = 16_000;
/** Proved members remembered at most (the oldest proof is forgotten first). */
export const MAX_PROVEN_MEMBERS = 4_096;
/** Peer-store tag of proved members: connection pruning closes untagged peers first. */
export const MEMBER_TAG = "p2p-member";
/** Value of {@linkcode MEMBER_TAG}; libp2p prunes peers with the lowest tag sum first. */
export const MEMBER_TAG_VALUE = 100;
/** Period of the liveness pings to watched peers (pool workers). */
export const LIVENESS_PING_INTERVAL_MS = 1_000;
/** A liveness ping slower than this fails. */
export const LIVENESS_PING_TIMEOUT_MS = 1_500;
/** Failed liveness pings in a row after which a connected peer counts as unreachable. */
export const LIVENESS_MAX_FAILED_PINGS = 2;
/** First hold after a failed liveness dial; it doubles per failure. */
export const LIVENESS_DIAL_BACKOFF_BASE_MS = 1_000;
/** Longest hold after failed liveness dials. */
export const LIVENESS_DIAL_BACKOFF_MAX_MS = 30_000;
/** Inbound handshakes one remote host may have in progress at once (see `pendingPerHost`). */
export const MAX_PENDING_PER_HOST = 8;
/** Time a new peer has to prove membership before it is first in line to make room. */
export const PROOF_GRACE_MS = 10_000;
/** How often the peer guard checks whether strangers must make room. */
export const EVICTION_CHECK_INTERVAL_MS = 1_000;
/** First hold of a stranger that misbehaved; it doubles each time. */
export const MISBEHAVIOUR_HOLD_BASE_MS = 30_000;
/** Longest hold of a stranger that keeps misbehaving. */
export const MISBEHAVIOUR_HOLD_MAX_MS = 30 * 60_000;
/** Node-wide bytes of gossip frames from peers that have not proved membership. */
export const STRANGER_FRAME_BUDGET_BYTES = 32 * 1024 * 1024;
/**
 * Frames of peers that have not proved membership that may wait for room in the budget at once,
 * node-wide; the next one's stream is reset (its connection kept, the peer not held off). A waiting
 * stream holds what its 256 KiB yamux window let in, and the read buffers that pins: with every
 * frame waiting, 120 strangers holding 20 MiB frames made a node hold 82 MiB more, 30 of them 31;
 * with 16 waiting at most, 120 of them 31–33.
 */
export const STRANGER_FRAMES_WAITING_MAX = 16;
/** A stranger's gossip frame must arrive within this, plus {@linkcode STRANGER_FRAME_MS_PER_MIB}. */
export const STRANGER_FRAME_BASE_MS = 10_000;
/** Extra time a stranger's gossip frame gets per MiB of its size. */
export const STRANGER_FRAME_MS_PER_MIB = 1_000;
/** How long a stranger's gossip frame may wait for room in the budget. */
export const STRANGER_FRAME_WAIT_MS = 30_000;
/**
 * A gossip writer that dies young is reopened after a backoff from this (doubling)…
 * (go-libp2p-pubsub respawns a dead peer's writer from 100 ms.)
 */
export const GOSSIP_WRITER_BACKOFF_BASE_MS = 100;
/** …up to this. */
export const GOSSIP_WRITER_BACKOFF_MAX_MS = 10_000;
/** Reopens in a row before a writer that keeps dying is left closed (until a new stream). */
export const GOSSIP_WRITER_REOPENS = 6;
/**
 * A writer open this long had worked: its end starts the backoff afresh. Shorter than any
 * sensible key rotation (an edgevpn peer replaces its writer at each one).
 */
export const GOSSIP_WRITER_STABLE_MS = 2_000;
/** Room for gossipsub's RPC framing around a message at the token's size limit. */
export const GOSSIP_RPC_FRAMING_BYTES = 64 * 1024;
/** libp2p's own connection cap is the node's limit plus this share, so strangers can be
 * evicted to make room instead of members being refused at the door. */
export const CONNECTION_HEADROOM_RATIO = 0.25;
/** …and at least this many connections. */
export const MIN_CONNECTION_HEADROOM = 16;
/** Gossipsub score of a peer that has not proved membership (see `gossipScoring`). */
export const STRANGER_GOSSIP_SCORE = -60;

// -- reaching across NATs (relays, AutoNAT, UPnP) -------------------------------------------
/** Circuit relay v2 hop protocol (reservations and relayed dials). */
export const RELAY_HOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/hop";
/** Circuit relay v2 stop protocol (a relay opening a circuit to its reserving client). */
export const RELAY_STOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/stop";
/** edgevpn's relay data limit per circuit and direction (js relays count both directions in
 * one budget: ours get twice this). */
export const RELAY_MAX_DATA_BYTES = 1024 * 1024 * 1024;
/** edgevpn's relay circuit duration limit. */
export const RELAY_MAX_DURATION_MS = 30 * 60_000;
/** edgevpn's cap on circuits relayed at once. */
export const RELAY_MAX_CIRCUITS = 64;
/** edgevpn's reservation lifetime. */
export const RELAY_RESERVATION_TTL_MS = 60 * 60_000;
/** Reservations a relay holds at once (go-libp2p's default). */
export const RELAY_MAX_RESERVATIONS = 128;
/** How long a relay waits for a peer asking for a reservation or a circuit to prove membership
 * (p2p peers answer the challenge in milliseconds; LocalAI peers prove it by their gossip). */
export const RELAY_MEMBER_WAIT_MS = 15_000;
/** Relays a node that is not publicly reachable keeps reservations on (go-libp2p: 2). */
export const RELAY_DESIRED_RESERVATIONS = 2;
/** How often the relay client checks its reservations. */
export const RELAY_CHECK_INTERVAL_MS = 1_000;
/** Wait between identifying a member relay and asking it for a reservation. */
export const RELAY_SETTLE_MS = 1_000;
/** First wait before asking a relay that refused or failed again; it doubles per failure. */
export const RELAY_RETRY_BASE_MS = 1_000;
/** Longest wait before asking a relay again (a restarted relay is back within seconds). */
export const RELAY_RETRY_MAX_MS = 5_000;
/** Bound on dialing a relay and getting a reservation. */
export const RELAY_RESERVE_TIMEOUT_MS = 5_000;
/** A relayed connection allowing fewer bytes than this is too tight for a tunnel (a stock Go
 * or js relay allows 128 KiB): tunnels look for another path first. */
export const TIGHT_RELAY_BYTES = 64 * 1024 * 1024;
/** …or fewer seconds than this. */
export const TIGHT_RELAY_SECONDS = 10 * 60;
/** edgevpn's AutoNAT service rate limit: dial-backs per interval, all peers together. */
export const AUTONAT_GLOBAL_LIMIT = 10;
/** …and per peer. */
export const AUTONAT_PEER_LIMIT = 10;
/** …per this interval. */
export const AUTONAT_LIMIT_INTERVAL_MS = 60_000;
/** First wait between background attempts to reach a relayed-only peer directly. */
export const DIRECT_RETRY_BASE_MS = 10_000;
/** Longest wait between them. */
export const DIRECT_RETRY_MAX_MS = 5 * 60_000;
/** go-libp2p's hole punching protocol. */
export const DCUTR_PROTOCOL = "/libp2p/dcutr";
/** Hole punching exchanges per relayed connection (go-libp2p: 3). */
export const HOLEPUNCH_ATTEMPTS = 3;
/** Base spacing between exchanges (× the attempt number, ± 25 %). */
export const HOLEPUNCH_RETRY_SPACING_MS = 700;
/** Bound on one simultaneous dial: the kernel resends a lost SYN after 1 s, it may pass then. */
export const HOLEPUNCH_DIAL_TIMEOUT_MS = 3_000;
/** Bound on one DCUtR exchange over the relayed connection. */
export const HOLEPUNCH_STREAM_TIMEOUT_MS = 5_000;
/** Largest DCUtR message read (go-libp2p: 4 KiB). */
export const HOLEPUNCH_MAX_MESSAGE = 4 * 1024;
/** How often a relayed connection replaced by a direct one is checked for idleness. */
export const HOLEPUNCH_IDLE_CHECK_MS = 1_000;
/** Protocols that do not keep a replaced relayed connection open (tunnels and messages do). */
export const HOLEPUNCH_CONTROL_PROTOCOLS: readonly string[] = [
  "/ipfs/id/",
  "/ipfs/ping/",
  "/meshsub/",
  "/floodsub/",
  "/libp2p/dcutr",
  "/libp2p/autonat/",
  "/ipfs/kad/",
  "/p2p/membership/",
  "/libp2p/circuit/",
];

/**
 * Longest protocol line (length prefix excluded, newline included) the eager answer of
 * `eager_select.ts` reads; `@libp2p/multistream-select`'s own limit.
 */
export const MULTISTREAM_MAX_PROTOCOL_BYTES = 1024;
