package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"time"

	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/mudler/edgevpn/pkg/blockchain"
	"github.com/mudler/edgevpn/pkg/hub"
	"github.com/mudler/edgevpn/pkg/node"
	manet "github.com/multiformats/go-multiaddr/net"
)

// The control protocol: one JSON object per line on stdin, one JSON answer per line on stdout,
// {"id":<echoed>,"ok":true,"result":…} or {"id":<echoed>,"ok":false,"error":"one line"}.
//
//	info                                  → peerId, addresses
//	put       bucket key value            → ledger.Add once (value: any JSON)
//	announce  bucket key value            → ledger.AnnounceUpdate every 10 s, as LocalAI's loops
//	put-random bucket key bytes           → a random alphanumeric string value (incompressible)
//	get       bucket key                  → found, json (the stored JSON text)
//	delete    bucket key                  → stops its announce loop, ledger.Delete
//	list      [bucket]                    → storage: bucket → key → JSON text
//	block                                 → the last block, as Go marshals it
//	peers                                 → connected peers, peers on the ledger topic
//	dial      addr                        → host.Connect to a loopback multiaddr with /p2p/<id>
//	expose    name target                 → edgevpn services.RegisterService (see localai.go)
//	worker    bucket target [name]        → LocalAI ExposeService (NodeData in bucket)
//	connect   service                     → LocalAI allocateLocalService: a local tunnel port
//	discover  bucket [allocate]           → LocalAI discoveryTunnels/ensureService, one pass
//	quit                                  → stops the node
type request struct {
	ID       json.RawMessage `json:"id"`
	Cmd      string          `json:"cmd"`
	Bucket   string          `json:"bucket"`
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
	Bytes    int             `json:"bytes"`
	Name     string          `json:"name"`
	Target   string          `json:"target"`
	Service  string          `json:"service"`
	Allocate bool            `json:"allocate"`
	Addr     string          `json:"addr"`
}

// maxLine bounds one request line; longer lines are answered with an error and skipped.
const maxLine = 1 << 20

// maxRandomBytes bounds put-random: above any token's max_message_size in the tests.
const maxRandomBytes = 64 << 20

// peer is the running node and what the commands started on it.
type peer struct {
	ctx    context.Context
	node   *node.Node
	ledger *blockchain.Ledger
	logger *stderrLogger

	mu        sync.Mutex
	announces map[string]context.CancelFunc // bucket + "/" + key → its announce loop
	exposed   string                        // the one service this node serves, if any
	tunnels   map[string]*tunnel            // discovered worker name → its local tunnel
}

func newPeer(ctx context.Context, n *node.Node, logger *stderrLogger) *peer {
	ledger, _ := n.Ledger() // Start already built it; it cannot fail afterwards.
	return &peer{
		ctx: ctx, node: n, ledger: ledger, logger: logger,
		announces: map[string]context.CancelFunc{}, tunnels: map[string]*tunnel{},
	}
}

func (p *peer) addresses() []string {
	var out []string
	for _, a := range p.node.Host().Addrs() {
		out = append(out, a.String()+"/p2p/"+p.node.Host().ID().String())
	}
	return out
}

// serve answers requests until EOF, a read error or "quit".
func serve(ctx context.Context, in io.Reader, out *responder, p *peer) {
	reader := bufio.NewReaderSize(in, 64*1024)
	for ctx.Err() == nil {
		line, err := readLine(reader)
		if errors.Is(err, errLineTooLong) {
			out.write(map[string]any{"id": nil, "ok": false, "error": err.Error()})
			continue
		}
		if err != nil {
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var req request
		if err := json.Unmarshal(line, &req); err != nil {
			out.write(map[string]any{"id": nil, "ok": false, "error": "Cannot parse request: " + oneLine(err.Error())})
			continue
		}
		result, err := p.dispatch(req)
		id := req.ID
		if id == nil {
			id = json.RawMessage("null")
		}
		if err != nil {
			out.write(map[string]any{"id": id, "ok": false, "error": oneLine(err.Error())})
		} else {
			out.write(map[string]any{"id": id, "ok": true, "result": result})
		}
		if req.Cmd == "quit" {
			return
		}
	}
}

var errLineTooLong = fmt.Errorf("Cannot read request: line longer than %d bytes", maxLine)

// readLine reads one line; a line over maxLine is consumed to its end and reported.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			line = append(line, chunk...)
			if len(line) > maxLine {
				tooLong, line = true, nil
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong && err == nil {
			return nil, errLineTooLong
		}
		if err != nil && (len(line) == 0 || !errors.Is(err, io.EOF)) {
			return nil, err
		}
		return line, nil
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// dispatch runs one command; a panic in edgevpn code becomes an error answer, not a crash.
func (p *peer) dispatch(req request) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("Cannot run %q: panic: %v", req.Cmd, r)
		}
	}()
	switch req.Cmd {
	case "info":
		return map[string]any{"peerId": p.node.Host().ID().String(), "addresses": p.addresses()}, nil
	case "put", "announce":
		return p.put(req)
	case "put-random":
		return p.putRandom(req)
	case "get":
		return p.get(req)
	case "delete":
		return p.delete(req)
	case "list":
		return p.list(req), nil
	case "block":
		return p.ledger.LastBlock(), nil
	case "peers":
		return p.peers(), nil
	case "dial":
		return p.dial(req)
	case "expose":
		return p.expose(req)
	case "worker":
		return p.worker(req)
	case "connect":
		return p.connect(req)
	case "discover":
		return p.discover(req)
	case "quit":
		return map[string]any{}, nil
	case "":
		return nil, errors.New(`Cannot run request: "cmd" is missing`)
	default:
		return nil, fmt.Errorf("Cannot run request: unknown command %q", req.Cmd)
	}
}

func needBucketKey(req request) error {
	if req.Bucket == "" || req.Key == "" {
		return fmt.Errorf(`Cannot run %q: "bucket" and "key" are required`, req.Cmd)
	}
	return nil
}

func (p *peer) put(req request) (any, error) {
	if err := needBucketKey(req); err != nil {
		return nil, err
	}
	if len(req.Value) == 0 || !json.Valid(req.Value) {
		return nil, fmt.Errorf(`Cannot run %q: "value" is not JSON`, req.Cmd)
	}
	// Compacted as json.Marshal would encode the same value from a Go struct.
	var compact bytes.Buffer
	_ = json.Compact(&compact, req.Value)
	value := json.RawMessage(compact.Bytes())
	if req.Cmd == "announce" {
		p.stopAnnounce(req.Bucket, req.Key)
		ctx, cancel := context.WithCancel(p.ctx)
		p.mu.Lock()
		p.announces[req.Bucket+"/"+req.Key] = cancel
		p.mu.Unlock()
		p.ledger.AnnounceUpdate(ctx, localAIInterval, req.Bucket, req.Key, value)
		return map[string]any{}, nil
	}
	p.ledger.Add(req.Bucket, map[string]any{req.Key: value})
	return map[string]any{"index": p.ledger.LastBlock().Index}, nil
}

func (p *peer) putRandom(req request) (any, error) {
	if err := needBucketKey(req); err != nil {
		return nil, err
	}
	if req.Bytes <= 0 || req.Bytes > maxRandomBytes {
		return nil, fmt.Errorf(`Cannot run "put-random": "bytes" must be 1..%d`, maxRandomBytes)
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	value := make([]byte, req.Bytes)
	for i := range value {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return nil, err
		}
		value[i] = alphabet[n.Int64()]
	}
	p.ledger.Add(req.Bucket, map[string]any{req.Key: string(value)})
	block := p.ledger.LastBlock()
	return map[string]any{"index": block.Index, "envelopeBytes": envelopeSize(block)}, nil
}

// envelopeSize is the size of the gossip payload edgevpn publishes for block:
// {"Message": hex(nonce ‖ AES-GCM(gzip(json(block))) ‖ tag), "SenderID": "", "Annotations": null}.
func envelopeSize(block blockchain.Block) int {
	raw, _ := json.Marshal(block)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(raw)
	_ = w.Close()
	sealedHex := 2 * (12 + gz.Len() + 16)
	envelope, _ := json.Marshal(hub.Message{Message: strings.Repeat("0", sealedHex)})
	return len(envelope)
}

func (p *peer) get(req request) (any, error) {
	if err := needBucketKey(req); err != nil {
		return nil, err
	}
	value, found := p.ledger.GetKey(req.Bucket, req.Key)
	return map[string]any{"found": found, "json": string(value)}, nil
}

func (p *peer) stopAnnounce(bucket, key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cancel, ok := p.announces[bucket+"/"+key]; ok {
		cancel()
		delete(p.announces, bucket+"/"+key)
	}
}

func (p *peer) delete(req request) (any, error) {
	if err := needBucketKey(req); err != nil {
		return nil, err
	}
	p.stopAnnounce(req.Bucket, req.Key)
	p.ledger.Delete(req.Bucket, req.Key)
	return map[string]any{"index": p.ledger.LastBlock().Index}, nil
}

func (p *peer) list(req request) any {
	storage := map[string]map[string]string{}
	for bucket, entries := range p.ledger.CurrentData() {
		if req.Bucket != "" && bucket != req.Bucket {
			continue
		}
		storage[bucket] = map[string]string{}
		for key, value := range entries {
			storage[bucket][key] = string(value)
		}
	}
	return map[string]any{"storage": storage}
}

func (p *peer) peers() any {
	connected := []string{}
	for _, id := range p.node.Host().Network().Peers() {
		connected = append(connected, id.String())
	}
	topic := []string{}
	if ids, err := p.node.MessageHub.ListPeers(); err == nil {
		for _, id := range ids {
			topic = append(topic, id.String())
		}
	}
	return map[string]any{"connected": connected, "topic": topic}
}

// dial connects to addr (bounded); only loopback addresses, so a test can never reach out.
func (p *peer) dial(req request) (any, error) {
	info, err := libp2ppeer.AddrInfoFromString(req.Addr)
	if err != nil {
		return nil, fmt.Errorf(`Cannot run "dial": "addr" is not a multiaddr with /p2p/<id>: %w`, err)
	}
	for _, addr := range info.Addrs {
		if !manet.IsIPLoopback(addr) {
			return nil, fmt.Errorf(`Cannot run "dial": %s is not a loopback address`, addr)
		}
	}
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := p.node.Host().Connect(ctx, *info); err != nil {
		return nil, fmt.Errorf("Cannot dial %s: %w", info.ID, err)
	}
	return map[string]any{"peerId": info.ID.String()}, nil
}
