package main

// Services the way edgevpn and LocalAI's core/p2p use them: edgevpn's own RegisterService for
// exposing (its stream handler and its `services` announcer run unchanged), and small
// re-statements of LocalAI's ExposeService, allocateLocalService, proxyP2PConnection and
// ensureService (LocalAI is not a library one can import for these), with the same ledger
// writes, timings and byte-copy semantics.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/mudler/edgevpn/pkg/node"
	"github.com/mudler/edgevpn/pkg/protocol"
	"github.com/mudler/edgevpn/pkg/services"
	"github.com/mudler/edgevpn/pkg/types"
)

// NodeData is LocalAI's worker record (core/schema NodeData), stored as JSON in a pool bucket.
type NodeData struct {
	Name          string
	ID            string
	TunnelAddress string
	ServiceID     string
	LastSeen      time.Time
}

// IsOnline is LocalAI's liveness rule: LastSeen less than 40 s ago, on the reader's clock.
func (d NodeData) IsOnline() bool { return time.Since(d.LastSeen) < 40*time.Second }

// LocalAI's cadences (core/p2p/p2p.go).
const (
	servicesAnnounce = 60 * time.Second // RegisterService in ExposeService
	workerAnnounce   = 20 * time.Second // NodeData in ExposeService
	usersAnnounce    = 10 * time.Second // nodeAnnounce
)

// expose registers `name` → `target` with edgevpn's RegisterService on the running node:
// its /edgevpn/service/0.1 handler (streams from peers missing in `users` are reset) and its
// `services` announcer. A node serves one service: the handler is keyed by protocol.
func (p *peer) expose(req request) (any, error) {
	if req.Name == "" || req.Target == "" {
		return nil, errors.New(`Cannot run "expose": "name" and "target" are required`)
	}
	if err := p.register(req.Name, req.Target); err != nil {
		return nil, err
	}
	return map[string]any{"name": req.Name}, nil
}

func (p *peer) register(name, target string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exposed != "" {
		return fmt.Errorf("Cannot expose %q: this node already serves %q (one service per node)", name, p.exposed)
	}
	// RegisterService returns node options; apply them to a scratch config to get its parts.
	var scratch node.Config
	scratch.StreamHandlers = map[protocol.Protocol]node.StreamHandler{}
	if err := scratch.Apply(services.RegisterService(p.logger, servicesAnnounce, name, target)...); err != nil {
		return fmt.Errorf("Cannot expose %q: %w", name, err)
	}
	handler := scratch.StreamHandlers[protocol.ServiceProtocol]
	p.node.Host().SetStreamHandler(protocol.ServiceProtocol.ID(), network.StreamHandler(handler(p.node, p.ledger)))
	for _, service := range scratch.NetworkServices {
		if err := service(p.ctx, scratch, p.node, p.ledger); err != nil {
			return fmt.Errorf("Cannot expose %q: %w", name, err)
		}
	}
	p.exposed = name
	return nil
}

// worker is LocalAI's ExposeService: a random 10-letter name, the service registered under it,
// and NodeData{Name, ID: "<hostname>-<name>", LastSeen: now} written to `bucket` every 20 s.
func (p *peer) worker(req request) (any, error) {
	if req.Bucket == "" || req.Target == "" {
		return nil, errors.New(`Cannot run "worker": "bucket" and "target" are required`)
	}
	name := req.Name
	if name == "" {
		name = randomLetters(10)
	}
	if err := p.register(name, req.Target); err != nil {
		return nil, err
	}
	hostname, _ := os.Hostname()
	id := fmt.Sprintf("%s-%s", hostname, name)
	p.ledger.Announce(p.ctx, workerAnnounce, func() {
		p.ledger.Add(req.Bucket, map[string]any{name: &NodeData{Name: name, ID: id, LastSeen: time.Now()}})
	})
	return map[string]any{"name": name, "id": id}, nil
}

func randomLetters(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	out := make([]byte, n)
	for i := range out {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		out[i] = letters[k.Int64()]
	}
	return string(out)
}

// tunnel is a local listener that forwards each connection to a service (allocateLocalService).
type tunnel struct {
	address string
	cancel  context.CancelFunc
}

// connect opens a local tunnel port to `service`, as LocalAI's allocateLocalService does.
func (p *peer) connect(req request) (any, error) {
	if req.Service == "" {
		return nil, errors.New(`Cannot run "connect": "service" is required`)
	}
	t, err := p.allocate(req.Service)
	if err != nil {
		return nil, err
	}
	return map[string]any{"address": t.address}, nil
}

func (p *peer) allocate(service string) (*tunnel, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("Cannot open a tunnel to %q: %w", service, err)
	}
	ctx, cancel := context.WithCancel(p.ctx)
	go func() { <-ctx.Done(); listener.Close() }()
	// nodeAnnounce: one `users` loop per tunnel, always writing, so workers accept our streams.
	self := p.node.Host().ID().String()
	p.ledger.Announce(ctx, usersAnnounce, func() {
		p.ledger.Add(protocol.UsersLedgerKey, map[string]any{
			self: &types.User{PeerID: self, Timestamp: time.Now().String()},
		})
	})
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go p.proxy(ctx, service, conn)
		}
	}()
	return &tunnel{address: listener.Addr().String(), cancel: cancel}, nil
}

// proxy is LocalAI's proxyP2PConnection: look the service up, open a stream to its peer,
// copy both ways and close both ends as soon as either direction ends (no half-close).
func (p *peer) proxy(ctx context.Context, service string, conn net.Conn) {
	defer conn.Close()
	value, found := p.ledger.GetKey(protocol.ServicesLedgerKey, service)
	if !found {
		p.logger.Warnf("service %q not found in the ledger", service)
		return
	}
	var record types.Service
	if err := value.Unmarshal(&record); err != nil {
		return
	}
	id, err := libp2ppeer.Decode(record.PeerID)
	if err != nil {
		return
	}
	stream, err := p.node.Host().NewStream(ctx, id, protocol.ServiceProtocol.ID())
	if err != nil {
		p.logger.Warnf("cannot open a stream to %s: %s", id, err)
		return
	}
	defer stream.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, stream); done <- struct{}{} }()
	<-done
}

// discover is one pass of LocalAI's discoveryTunnels + ensureService over `bucket`: every entry
// is parsed as NodeData (ServiceID set to its key); with allocate, an online worker gets a local
// tunnel once and keeps it until it goes offline.
func (p *peer) discover(req request) (any, error) {
	if req.Bucket == "" {
		return nil, errors.New(`Cannot run "discover": "bucket" is required`)
	}
	type found struct {
		Key    string
		Node   NodeData
		Online bool
		Error  string `json:",omitempty"`
	}
	out := []found{}
	for key, value := range p.ledger.LastBlock().Storage[req.Bucket] {
		var nd NodeData
		if err := value.Unmarshal(&nd); err != nil {
			out = append(out, found{Key: key, Error: "cannot unmarshal node data: " + err.Error()})
			continue
		}
		nd.ServiceID = key
		if req.Allocate {
			if err := p.ensureTunnel(&nd); err != nil {
				return nil, err
			}
		}
		out = append(out, found{Key: key, Node: nd, Online: nd.IsOnline()})
	}
	return map[string]any{"nodes": out}, nil
}

func (p *peer) ensureTunnel(nd *NodeData) error {
	p.mu.Lock()
	t, known := p.tunnels[nd.Name]
	p.mu.Unlock()
	switch {
	case known && !nd.IsOnline():
		t.cancel()
		p.mu.Lock()
		delete(p.tunnels, nd.Name)
		p.mu.Unlock()
	case known:
		nd.TunnelAddress = t.address
	case nd.IsOnline():
		t, err := p.allocate(nd.ServiceID)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.tunnels[nd.Name] = t
		p.mu.Unlock()
		nd.TunnelAddress = t.address
	}
	return nil
}
