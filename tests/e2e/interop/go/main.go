// Command interop-peer runs one edgevpn v0.34.0 node, built the way LocalAI's core/p2p builds it
// (newNodeOpts: edgevpn config.Config → ToOpts, plus services.Alive), for the interop tests of p2p.
//
// Differences from LocalAI, all to keep tests on loopback and deterministic: listen addresses
// and bootstrap peers come from flags, mDNS is off, the DHT is off unless --dht is given (and then
// it needs --bootstrap: the public DHT is never used), no UPnP, no relay service unless
// --relay-service is given (then edgevpn's limits: 1 GiB, 30 min, 64 circuits, 1 h TTL; the
// node takes itself for public: go-libp2p starts the service once AutoNAT says so), and no
// AutoRelay unless --relay-static is given: then it reserves on those relays at once (go-libp2p's
// static relays, no boot delay) and takes itself for NATed (LocalAI finds relays among the DHT's
// closest peers after a 3 min boot delay, once AutoNAT says it is private).
//
// stdout carries the protocol only: first one start line {"event":"start","peerId":…,
// "addresses":[…]}, then one JSON response per JSON request read on stdin (see control.go).
// Logs go to stderr. EOF on stdin or {"cmd":"quit"} stops the node.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	"github.com/mudler/edgevpn/pkg/config"
	"github.com/mudler/edgevpn/pkg/node"
	"github.com/mudler/edgevpn/pkg/services"
)

// LocalAI's intervals (core/p2p/p2p.go newNodeOpts).
const localAIInterval = 10 * time.Second

type options struct {
	token        string
	listen       string
	bootstrap    string
	dht          bool
	logLevel     string
	relayService bool
	relayStatic  string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("interop-peer", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.StringVar(&o.token, "token", os.Getenv("P2P_TOKEN"), "network token (default: $P2P_TOKEN)")
	fs.StringVar(&o.listen, "listen", "/ip4/127.0.0.1/tcp/0", "comma-separated listen multiaddrs")
	fs.StringVar(&o.bootstrap, "bootstrap", "", "comma-separated bootstrap multiaddrs with /p2p/<id>")
	fs.BoolVar(&o.dht, "dht", false, "run the DHT rendezvous (needs --bootstrap)")
	fs.StringVar(&o.logLevel, "log-level", "error", "debug, info, warn or error")
	fs.BoolVar(&o.relayService, "relay-service", false, "serve as a circuit relay (edgevpn's limits)")
	fs.StringVar(&o.relayStatic, "relay-static", "", "comma-separated relays (with /p2p/<id>) to reserve on")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.token == "" {
		return o, errors.New("Cannot start: no token (--token or P2P_TOKEN)")
	}
	if o.dht && o.bootstrap == "" {
		return o, errors.New("Cannot start: --dht needs --bootstrap (the public DHT is never used)")
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// nodeOptions mirrors LocalAI's newNodeOpts with the test-only differences listed above.
func nodeOptions(o options, logger *stderrLogger) ([]node.Option, error) {
	c := config.Config{
		NetworkToken:   o.token,
		ListenMaddrs:   splitList(o.listen),
		Limit:          config.ResourceLimit{Enable: true, MaxConns: 100},
		LogLevel:       o.logLevel,
		Libp2pLogLevel: "fatal",
		Ledger:         config.Ledger{SyncInterval: localAIInterval, AnnounceInterval: localAIInterval},
		NAT: config.NAT{
			Service: true, Map: false, RateLimit: true,
			RateLimitGlobal: 100, RateLimitPeer: 100, RateLimitInterval: localAIInterval,
		},
		Discovery: config.Discovery{
			DHT: o.dht, MDNS: false, Interval: localAIInterval,
			BootstrapPeers: splitList(o.bootstrap),
		},
		Connection: config.Connection{
			HolePunch: true, AutoRelay: false, MaxConnections: 1000,
			RelayService: config.RelayService{Disabled: !o.relayService},
		},
	}
	opts, _, err := c.ToOpts(logger)
	if err != nil {
		return nil, fmt.Errorf("Cannot build the node options: %w", err)
	}
	if o.relayService {
		opts = append(opts, node.WithLibp2pAdditionalOptions(libp2p.ForceReachabilityPublic()))
	}
	if relays := splitList(o.relayStatic); len(relays) > 0 {
		infos := []libp2ppeer.AddrInfo{}
		for _, r := range relays {
			info, err := libp2ppeer.AddrInfoFromString(r)
			if err != nil {
				return nil, fmt.Errorf("Cannot use --relay-static %q: %w", r, err)
			}
			infos = append(infos, *info)
		}
		opts = append(opts, node.WithLibp2pAdditionalOptions(
			libp2p.EnableAutoRelayWithStaticRelays(infos, autorelay.WithBootDelay(0)),
			libp2p.ForceReachabilityPrivate(),
		))
	}
	return append(opts, services.Alive(30*time.Second, 900*time.Second, 15*time.Minute)...), nil
}

func main() {
	// Only the protocol may reach stdout: anything else printing there goes to stderr instead.
	protocolOut := os.Stdout
	os.Stdout = os.Stderr

	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	logger := newStderrLogger(o.logLevel)
	opts, err := nodeOptions(o, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	n, err := node.New(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Cannot create the node: %s\n", err)
		os.Exit(1)
	}
	if err := n.Start(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "Cannot start the node: %s\n", err)
		os.Exit(1)
	}
	peer := newPeer(ctx, n, logger)
	out := newResponder(protocolOut)
	out.write(map[string]any{
		"event":     "start",
		"peerId":    n.Host().ID().String(),
		"addresses": peer.addresses(),
	})
	go func() {
		serve(ctx, os.Stdin, out, peer)
		cancel()
	}()
	<-ctx.Done()
	// Give the host a moment to close its connections cleanly (bounded).
	closed := make(chan struct{})
	go func() { _ = n.Host().Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
	}
}

// responder serialises protocol lines on stdout.
type responder struct {
	enc  *json.Encoder
	lock chan struct{}
}

func newResponder(f *os.File) *responder {
	r := &responder{enc: json.NewEncoder(f), lock: make(chan struct{}, 1)}
	r.enc.SetEscapeHTML(false)
	return r
}

func (r *responder) write(v any) {
	r.lock <- struct{}{}
	defer func() { <-r.lock }()
	if err := r.enc.Encode(v); err != nil {
		fmt.Fprintf(os.Stderr, "Cannot write a response: %s\n", err)
	}
}
