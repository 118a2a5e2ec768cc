// Package loadgen is Switchboard's load generator and checker: it drives
// many concurrent chats through the WebSocket protocol (docs/protocol.md),
// records every ack and every frame each connection receives, and then
// proves the protocol's guarantees held: every acked message is stored
// exactly once at its acked seq, seqs run without gaps, and every
// connection saw each chat's messages in seq order without duplicates.
//
// `switchboard bench` runs it from the command line; tests call Run
// against an in-process server. It only loads loopback servers unless
// Config.AllowRemote is set.
package loadgen

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures Run. Zero values take the defaults in brackets, except
// Replies, whose zero value false means one direction only.
type Config struct {
	// URL is the server's base URL, such as http://127.0.0.1:8080
	// (required); several nodes of a cluster are comma-separated. The API
	// setup and the checks go to the first.
	URL                       string
	AdminEmail, AdminPassword string // an admin's login (required)
	// AllowRemote lets Run load a server that is not on a loopback address.
	// Set it only when a person named the server (switchboard bench --url).
	AllowRemote bool

	Chats     int  // concurrent chats, one visitor connection each [100]
	Operators int  // operators answering them [max(1, Chats/50)]
	Messages  int  // messages each visitor sends [20]; -1 means none
	Replies   bool // operators answer each visitor message (both directions); the CLI's default is true
	Window    int  // messages a visitor may have unacked at once [4]
	// Ramp is how many visitors may be connecting and starting their chat
	// at once [200].
	Ramp    int
	Timeout time.Duration // the whole run [5m]
	// VisitorNodes and OperatorNodes are the indexes (in URL) of the nodes
	// visitors and operators connect to first, in turn [all]; a client
	// whose connection is lost reconnects to the next node of URL, so a
	// dead node's clients move to the others.
	VisitorNodes, OperatorNodes []int
	Log                         *slog.Logger // progress and problems; nil discards
}

// Percentiles summarize latencies.
type Percentiles struct {
	P50, P90, P99, Max time.Duration
}

// MarshalJSON writes milliseconds: {"p50_ms":1.25,…}.
func (p Percentiles) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]float64{"p50_ms": ms(p.P50), "p90_ms": ms(p.P90), "p99_ms": ms(p.P99), "max_ms": ms(p.Max)})
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// Result is what a run measured and found.
type Result struct {
	Chats    int // chats started
	Sent     int // distinct messages sent (visitors' and operators' replies)
	Acked    int // distinct messages acked
	Received int // messages that reached the other side of their chat
	// Duration runs from the first visitor's connection to the last ack
	// (or delivery) of the message phase.
	Duration    time.Duration
	AckedPerSec float64
	AckLatency  Percentiles // send → ack, on the sender's connection
	Delivery    Percentiles // send → the message frame on the other side
	Reconnects  int         // connections lost and resumed during the run
	// Violations lists every broken guarantee; empty means all held.
	Violations []string
	// Warnings lists protocol misbehaviour that breaks no guarantee but
	// that a client would notice, such as a chat.assigned never sent.
	Warnings []string
}

// MarshalJSON writes durations in milliseconds and keys in snake_case.
func (r Result) MarshalJSON() ([]byte, error) {
	violations := cmpOrEmpty(r.Violations)
	return json.Marshal(struct {
		Chats         int         `json:"chats"`
		Sent          int         `json:"sent"`
		Acked         int         `json:"acked"`
		Received      int         `json:"received"`
		DurationMS    float64     `json:"duration_ms"`
		AckedPerSec   float64     `json:"acked_per_sec"`
		AckLatency    Percentiles `json:"ack_latency"`
		Delivery      Percentiles `json:"delivery_latency"`
		Reconnects    int         `json:"reconnects"`
		Violations    []string    `json:"violations"`
		Warnings      []string    `json:"warnings"`
		GuaranteesMet bool        `json:"guarantees_held"`
	}{r.Chats, r.Sent, r.Acked, r.Received, ms(r.Duration), math.Round(r.AckedPerSec*10) / 10,
		r.AckLatency, r.Delivery, r.Reconnects, violations, cmpOrEmpty(r.Warnings), len(r.Violations) == 0})
}

func cmpOrEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Run creates a fresh public department ("bench-<random>", auto routing)
// with cfg.Operators operators, brings them online, opens cfg.Chats visitor
// chats that each send cfg.Messages messages (answered one for one when
// cfg.Replies), then has every visitor reconnect with its visitor token and
// resume its chat from seq 0, and checks everything it recorded against
// that. At the end the visitors end their chats and the department and its
// operators are disabled.
//
// Broken guarantees are listed in Result.Violations. Run returns an error
// (with the Result measured so far) when the run could not be set up or
// did not finish: a refused login, chats that failed, messages not acked
// before the timeout.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.Chats = cmp.Or(cfg.Chats, 100)
	cfg.Operators = cmp.Or(cfg.Operators, max(1, cfg.Chats/50))
	cfg.Messages = cmp.Or(cfg.Messages, 20)
	if cfg.Messages < 0 {
		cfg.Messages = 0
	}
	cfg.Window = cmp.Or(cfg.Window, 4)
	cfg.Ramp = cmp.Or(cfg.Ramp, 200)
	cfg.Timeout = cmp.Or(cfg.Timeout, 5*time.Minute)
	cfg.Log = cmp.Or(cfg.Log, slog.New(slog.DiscardHandler))
	if cfg.Chats < 1 || cfg.Operators < 1 || cfg.Window < 1 || cfg.Ramp < 1 || cfg.Timeout < 0 {
		return Result{}, errors.New("loadgen: chats, operators, window and ramp must be at least 1")
	}
	maxChats := (cfg.Chats+cfg.Operators-1)/cfg.Operators + 1
	if maxChats > maxOperatorChats {
		return Result{}, fmt.Errorf("loadgen: %d operators are too few for %d chats: an operator holds at most %d; use at least %d operators",
			cfg.Operators, cfg.Chats, maxOperatorChats, (cfg.Chats+maxOperatorChats-2)/(maxOperatorChats-1))
	}
	if cfg.AdminEmail == "" || cfg.AdminPassword == "" {
		return Result{}, errors.New("loadgen: an admin's email and password are required")
	}
	var bases []*url.URL
	loopback := true
	for _, raw := range strings.Split(cfg.URL, ",") {
		base, err := url.Parse(strings.TrimRight(strings.TrimSpace(raw), "/"))
		if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
			return Result{}, fmt.Errorf("loadgen: URL %q is not an http(s)://host:port URL", raw)
		}
		lo, err := isLoopback(ctx, base.Hostname())
		if err != nil {
			return Result{}, fmt.Errorf("loadgen: %w", err)
		}
		if !lo && !cfg.AllowRemote {
			return Result{}, fmt.Errorf("loadgen: %s is not a loopback address; load a remote server only when asked to (Config.AllowRemote, switchboard bench --url)", base.Host)
		}
		loopback = loopback && lo && isIPv4Loopback(base.Hostname())
		bases = append(bases, base)
	}
	base := bases[0]
	var wsBases []string
	for _, b := range bases {
		wsBases = append(wsBases, "ws"+strings.TrimPrefix(b.String(), "http"))
	}
	for _, i := range append(slices.Clone(cfg.VisitorNodes), cfg.OperatorNodes...) {
		if i < 0 || i >= len(bases) {
			return Result{}, fmt.Errorf("loadgen: node index %d is not one of the %d URLs", i, len(bases))
		}
	}
	if len(cfg.VisitorNodes) == 0 {
		cfg.VisitorNodes = allNodes(len(bases))
	}
	if len(cfg.OperatorNodes) == 0 {
		cfg.OperatorNodes = allNodes(len(bases))
	}

	r := &runner{
		cfg:      cfg,
		log:      cfg.Log.With("component", "loadgen"),
		base:     base.String(),
		wsBases:  wsBases,
		ipv4Loop: loopback,
		maxChats: maxChats,
		runID:    randomHex(4),
		chats:    map[string]*chatRecord{},
		clients:  map[string]*http.Client{},
	}
	limit, err := raiseFileLimit()
	if err != nil {
		r.log.Warn("could not raise the open-file limit", "err", err)
	}
	if need := uint64(2*(cfg.Chats+cfg.Operators) + 256); limit < need {
		r.log.Warn("the open-file limit may be too low (each chat holds a socket, two with an in-process server); raise it with ulimit -n",
			"limit", limit, "want", need)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	return r.run(ctx)
}

func allNodes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// nodeDialer picks the node a client dials: first its place in nodes
// (by its number n), then, after a failed dial or a lost connection, the
// next node of all.
type nodeDialer struct {
	node  int
	tries int
}

func newNodeDialer(nodes []int, n int) nodeDialer { return nodeDialer{node: nodes[n%len(nodes)]} }

// next returns the ws base to dial now: the same node on the first try of
// the run, then the next one each time.
func (d *nodeDialer) next(r *runner) string {
	if d.tries > 0 {
		d.node = (d.node + 1) % len(r.wsBases)
	}
	d.tries++
	return r.wsBases[d.node]
}

// maxOperatorChats is the largest max_chats the API accepts.
const maxOperatorChats = 100

// runner is one run's shared state.
type runner struct {
	cfg      Config
	log      *slog.Logger
	base     string   // http(s)://host:port
	wsBases  []string // ws(s)://host:port of every node
	ipv4Loop bool     // the server is on 127.0.0.0/8: logins and sockets may use several source addresses
	maxChats int
	runID    string

	admin     *apiClient
	deptID    string
	widgetKey string
	operators []*operator
	visitors  []*visitor

	mu       sync.Mutex
	chats    map[string]*chatRecord
	failures []string
	failed   int
	hint     string

	acked, delivered atomic.Int64 // progress
	settled          atomic.Int64 // visitors whose message phase is over
	reconnects       atomic.Int64

	clientsMu sync.Mutex
	clients   map[string]*http.Client
}

func (r *runner) run(ctx context.Context) (Result, error) {
	defer func() {
		r.clientsMu.Lock()
		defer r.clientsMu.Unlock()
		for _, c := range r.clients {
			c.CloseIdleConnections()
		}
	}()
	r.admin = &apiClient{base: r.base, hc: r.client(nil)}
	if err := r.setup(ctx); err != nil {
		return Result{}, err
	}
	defer r.cleanup(ctx)

	// Operators first: every chat must find someone online.
	var opWG sync.WaitGroup
	for _, op := range r.operators {
		opWG.Add(1)
		go func() { defer opWG.Done(); op.run(ctx) }()
	}
	stopOperators := func() {
		for _, op := range r.operators {
			op.in.push(&frame{Type: evStop})
		}
		opWG.Wait()
	}
	for _, op := range r.operators {
		select {
		case <-op.online:
		case <-op.exited:
			stopOperators()
			return Result{}, fmt.Errorf("loadgen: operator %d did not come online: %s", op.n, r.firstFailure())
		case <-ctx.Done():
			stopOperators()
			return Result{}, fmt.Errorf("loadgen: operators coming online: %w", ctx.Err())
		}
	}
	r.log.Info("operators online", "operators", len(r.operators), "department", "bench-"+r.runID)

	// Visitors, ramped: at most cfg.Ramp connecting and starting at once.
	start := time.Now()
	sem := make(chan struct{}, r.cfg.Ramp)
	var vWG sync.WaitGroup
	r.visitors = make([]*visitor, r.cfg.Chats)
	for i := range r.visitors {
		v := newVisitor(r, i+1)
		r.visitors[i] = v
		vWG.Add(1)
		go func() { defer vWG.Done(); v.run(ctx, sem) }()
	}
	phase1 := r.waitMessages(ctx, start)
	end := time.Now()
	if ackedAt := r.lastProgress(); phase1 == nil && ackedAt.After(start) {
		end = ackedAt
	}

	// Every visitor reconnects with its token and resumes from seq 0: the
	// store's content, to compare with every ack and every live view.
	finals := r.verify(ctx)
	vWG.Wait()
	r.waitEnded(ctx, 10*time.Second)
	stopOperators()

	// A message acked and never delivered is a broken promise when the run
	// finished, or stalled with nothing else wrong: not when a participant
	// failed or time ran out.
	r.mu.Lock()
	checkDelivery := phase1 == nil || (errors.Is(phase1, errStalled) && r.failed == 0)
	r.mu.Unlock()
	res := r.result(start, end, finals, checkDelivery)
	var problems []string
	if phase1 != nil {
		problems = append(problems, phase1.Error())
	}
	r.mu.Lock()
	if r.failed > 0 {
		p := fmt.Sprintf("%d failures: %s", r.failed, strings.Join(r.failures, "; "))
		if r.failed > len(r.failures) {
			p += "; …"
		}
		problems = append(problems, p)
	}
	if r.hint != "" && len(problems) > 0 {
		problems = append(problems, r.hint)
	}
	r.mu.Unlock()
	if len(problems) > 0 {
		return res, errors.New("loadgen: " + strings.Join(problems, "; "))
	}
	return res, nil
}

// errStalled: messages stopped being acked or delivered for a while.
var errStalled = errors.New("no progress")

// stallAfter is how long the message phase may go without any ack or
// delivery before the run gives up on it: longer than two default ring
// timeouts (30 s), after which the router offers a lost offer again.
const stallAfter = 65 * time.Second

// waitMessages waits until every visitor's chat is done (all its messages
// acked and delivered), the run stalls, or little time is left for the
// check. It logs progress every 5 s.
func (r *runner) waitMessages(ctx context.Context, start time.Time) error {
	deadline, _ := ctx.Deadline()
	reserve := min(r.cfg.Timeout/5, time.Minute)
	stop := time.NewTimer(time.Until(deadline.Add(-reserve)))
	defer stop.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	expect := int64(r.cfg.Chats * r.cfg.Messages)
	if r.cfg.Replies {
		expect *= 2
	}
	lastLog, lastChange := start, start
	var lastSeen int64 = -1
	for {
		settled := r.settled.Load()
		if settled >= int64(r.cfg.Chats) {
			return nil
		}
		now := time.Now()
		progress := r.acked.Load() + r.delivered.Load() + settled
		if progress != lastSeen {
			lastSeen, lastChange = progress, now
		}
		if now.Sub(lastLog) >= 5*time.Second {
			lastLog = now
			r.log.Info("progress", "chats_done", settled, "chats", r.cfg.Chats, "acked", r.acked.Load(), "delivered", r.delivered.Load(), "expected", expect)
		}
		if now.Sub(lastChange) >= stallAfter {
			r.logUnfinished()
			return fmt.Errorf("%w for %v: %d of %d messages acked, %d delivered, %d of %d chats done",
				errStalled, stallAfter, r.acked.Load(), expect, r.delivered.Load(), settled, r.cfg.Chats)
		}
		select {
		case <-tick.C:
		case <-stop.C:
			return fmt.Errorf("timed out (--timeout %v) with %d of %d messages acked, %d delivered, %d of %d chats done",
				r.cfg.Timeout, r.acked.Load(), expect, r.delivered.Load(), settled, r.cfg.Chats)
		case <-ctx.Done():
			return fmt.Errorf("message phase: %w", ctx.Err())
		}
	}
}

// logUnfinished says where the first few unfinished chats are stuck.
func (r *runner) logUnfinished() {
	n := 0
	for _, v := range r.visitors {
		rec := v.rec
		rec.mu.Lock()
		done, c, start, assigned, accepted := rec.isDone, rec.counts, rec.startStatus, rec.assignedBy, rec.acceptedBy
		rec.mu.Unlock()
		if done {
			continue
		}
		if n++; n > 5 {
			return
		}
		r.log.Warn("chat not finished", "visitor", v.n, "chat_id", rec.chatID(), "start_status", start,
			"visitor_assigned_by", assigned, "accepted_by_operator", accepted, "visitor_acked", c.visitorAcked,
			"to_operator", c.toOperator, "reply_acked", c.replyAcked, "to_visitor", c.toVisitor, "of", r.cfg.Messages)
	}
}

// verify stops each visitor's actor and resumes its chat on a new
// connection, at most cfg.Ramp at a time. It returns the final views by
// chat id.
func (r *runner) verify(ctx context.Context) map[string]*view {
	finals := map[string]*view{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.cfg.Ramp)
	for _, v := range r.visitors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.in.push(&frame{Type: evStop})
			<-v.exited
			if v.chatID == "" || ctx.Err() != nil {
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			final, err := v.verify(ctx)
			if err != nil {
				r.fail(fmt.Sprintf("visitor %d: final resume of chat %s: %v", v.n, v.chatID, err))
			}
			if final != nil {
				mu.Lock()
				finals[v.chatID] = final
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return finals
}

// waitEnded gives the operators up to d to see every chat's chat.ended,
// so that their views are complete when they stop.
func (r *runner) waitEnded(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for _, v := range r.visitors {
		if v.chatID == "" || !v.endAcked {
			continue
		}
		select {
		case <-v.rec.operatorEnded:
		case <-t.C:
			r.log.Warn("operators did not see every chat.ended", "waited", d)
			return
		case <-ctx.Done():
			return
		}
	}
}

// result checks everything recorded and sums it up.
func (r *runner) result(start, end time.Time, finals map[string]*view, checkDelivery bool) Result {
	opViews := map[string][]*view{}
	for _, op := range r.operators {
		for _, v := range op.views {
			opViews[v.chatID] = append(opViews[v.chatID], v)
		}
	}
	res := Result{Duration: end.Sub(start), Reconnects: int(r.reconnects.Load())}
	var ackLat, delivLat, replyLat []time.Duration
	for _, v := range r.visitors {
		if v.chatID == "" {
			continue
		}
		rec := v.rec
		res.Chats++
		rec.mu.Lock()
		res.Sent += len(rec.sentAt)
		res.Acked += len(rec.facts.acked)
		res.Received += len(rec.facts.delivered)
		ackLat = append(ackLat, rec.ackLat...)
		delivLat = append(delivLat, rec.delivLat...)
		replyLat = append(replyLat, rec.replyLat...)
		if !v.gotAssigned && rec.assignedBy == "resume ack" {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"chat %s: visitor %d never received chat.assigned, though an operator answered the chat (the chat.start ack said %q; a later chat.resume ack said ongoing)",
				v.chatID, v.n, rec.startStatus))
		}
		live := append(slices.Clone(v.views), opViews[v.chatID]...)
		res.Violations = append(res.Violations, checkChat(&rec.facts, finals[v.chatID], live, checkDelivery && !rec.abandoned)...)
		rec.mu.Unlock()
	}
	if s := res.Duration.Seconds(); s > 0 {
		res.AckedPerSec = float64(res.Acked) / s
	}
	res.AckLatency, res.Delivery = percentiles(ackLat), percentiles(delivLat)
	if len(replyLat) > 0 {
		// An operator's frames share one connection, which the server
		// handles a frame at a time: replies wait longer than visitors' messages.
		rp := percentiles(replyLat)
		r.log.Info("ack latency of operators' replies", "p50", rp.P50.String(), "p90", rp.P90.String(), "p99", rp.P99.String(), "max", rp.Max.String(), "replies", len(replyLat))
	}
	return res
}

// percentiles of d (sorted in place); zero for none.
func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}

// lastProgress is when the last ack or delivery was recorded.
func (r *runner) lastProgress() time.Time {
	var last time.Time
	for _, v := range r.visitors {
		v.rec.mu.Lock()
		if v.rec.lastEvent.After(last) {
			last = v.rec.lastEvent
		}
		v.rec.mu.Unlock()
	}
	return last
}

// fail records a problem that kept part of the run from completing (not a
// broken guarantee).
func (r *runner) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed++
	if len(r.failures) < 5 {
		r.failures = append(r.failures, msg)
	}
	if r.failed <= 3 {
		r.log.Warn("run problem", "problem", msg)
	}
}

func (r *runner) firstFailure() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) == 0 {
		return "unknown"
	}
	return r.failures[0]
}

// rateLimited records that the server refused the load with its limits and
// says, once, how to start it so that it does not.
func (r *runner) rateLimited(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hint != "" {
		return
	}
	r.hint = fmt.Sprintf("the server's limits refuse this load (%s): start the server with --ws-rate 0 --ip-max-sockets %d --ip-max-chats-per-hour %d, or run switchboard bench without --url to use an in-process server with the limits off",
		what, 2*(r.cfg.Chats+r.cfg.Operators)+100, 10*r.cfg.Chats)
	r.log.Warn(r.hint)
}

// record returns the chat's record, or nil when no visitor of this run has it.
func (r *runner) record(chatID string) *chatRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.chats[chatID]
}

func (r *runner) register(rec *chatRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.chats[rec.facts.chatID] = rec
}

// client returns the HTTP client whose connections come from source
// address ip (nil: the default one).
func (r *runner) client(ip net.IP) *http.Client {
	r.clientsMu.Lock()
	defer r.clientsMu.Unlock()
	key := ip.String()
	c := r.clients[key]
	if c == nil {
		c = httpClient(ip)
		r.clients[key] = c
	}
	return c
}

// sourceFor picks the source address of the i-th of a kind of connection
// when the server is on 127.0.0.0/8: perSource connections per address,
// from 127.0.0.first on. Elsewhere (and for the first perSource) nil.
func (r *runner) sourceFor(i, perSource, first int) net.IP {
	k := i / perSource
	if !r.ipv4Loop || k == 0 {
		return nil
	}
	k += first - 1
	return net.IPv4(127, byte(k>>16), byte(k>>8), byte(k)).To4()
}

// chatRecord is what the generator knows of one chat: sends, acks and
// deliveries, and the latencies measured.
type chatRecord struct {
	r        *runner
	messages int  // visitor messages expected
	replies  bool // and as many replies

	mu        sync.Mutex
	facts     chatFacts
	sentAt    map[string]time.Time
	ackLat    []time.Duration
	delivLat  []time.Duration
	replyLat  []time.Duration // the operators' share of ackLat, also in it
	lastEvent time.Time
	counts    struct{ visitorAcked, replyAcked, toOperator, toVisitor int }
	isDone    bool
	abandoned bool // its visitor failed: the chat never completes
	// For diagnostics of a stuck chat.
	startStatus string // the chat.start ack's status
	assignedBy  string // how the visitor learned its chat was answered
	acceptedBy  int    // the operator whose chat.accept was acked

	done          chan struct{} // closed when done or abandoned
	operatorEnded chan struct{}
	endedOnce     sync.Once
}

func newChatRecord(r *runner) *chatRecord {
	return &chatRecord{
		r: r, messages: r.cfg.Messages, replies: r.cfg.Replies,
		facts:  chatFacts{acked: map[string]int64{}, bodies: map[string]string{}, delivered: map[string]bool{}},
		sentAt: map[string]time.Time{}, done: make(chan struct{}), operatorEnded: make(chan struct{}),
	}
}

// Client message ids: a visitor's i-th message is "v-<i>", the operator's
// reply to it "r-v-<i>".
func visitorMsgID(i int) string          { return fmt.Sprintf("v-%d", i) }
func replyMsgID(visitorID string) string { return "r-" + visitorID }
func isVisitorMsg(id string) bool        { return strings.HasPrefix(id, "v-") }
func isReply(id string) bool             { return strings.HasPrefix(id, "r-v-") }

// sent records the first send of a message.
func (c *chatRecord) sent(id, body string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sentAt[id]; !ok {
		c.sentAt[id] = at
		c.facts.bodies[id] = body
	}
}

// ack records a message's ack; a second ack (after a resend) must give the
// same seq.
func (c *chatRecord) ack(id string, seq int64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if first, ok := c.facts.acked[id]; ok {
		if first != seq {
			c.facts.ackProblems = append(c.facts.ackProblems, fmt.Sprintf(
				"chat %s: message %q was acked as seq %d, and as seq %d when sent again", c.facts.chatID, id, first, seq))
		}
		return
	}
	c.facts.acked[id] = seq
	if t, ok := c.sentAt[id]; ok {
		c.ackLat = append(c.ackLat, at.Sub(t))
		if isReply(id) {
			c.replyLat = append(c.replyLat, at.Sub(t))
		}
	}
	c.lastEvent = at
	if isReply(id) {
		c.counts.replyAcked++
	} else {
		c.counts.visitorAcked++
	}
	c.r.acked.Add(1)
	c.checkDone()
}

// deliver records a message's first arrival on the other side of the chat.
func (c *chatRecord) deliver(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.facts.delivered[id] {
		return
	}
	c.facts.delivered[id] = true
	if t, ok := c.sentAt[id]; ok {
		c.delivLat = append(c.delivLat, at.Sub(t))
	}
	c.lastEvent = at
	if isReply(id) {
		c.counts.toVisitor++
	} else {
		c.counts.toOperator++
	}
	c.r.delivered.Add(1)
	c.checkDone()
}

// checkDone closes done once every message is acked and delivered. c.mu is held.
func (c *chatRecord) checkDone() {
	n := c.counts
	if c.isDone || n.visitorAcked < c.messages || n.toOperator < c.messages {
		return
	}
	if c.replies && (n.replyAcked < c.messages || n.toVisitor < c.messages) {
		return
	}
	c.isDone = true
	c.r.settled.Add(1)
	close(c.done)
}

// abandon settles a chat whose visitor failed.
func (c *chatRecord) abandon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isDone {
		return
	}
	c.isDone, c.abandoned = true, true
	c.r.settled.Add(1)
	close(c.done)
}

// note sets a diagnostic field under the lock.
func (c *chatRecord) note(f func(c *chatRecord)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

func (c *chatRecord) chatID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.facts.chatID
}

func (c *chatRecord) ended() { c.endedOnce.Do(func() { close(c.operatorEnded) }) }

// isLoopback reports whether host is (or resolves only to) loopback addresses.
func isLoopback(ctx context.Context, host string) (bool, error) {
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return false, nil
		}
	}
	return len(addrs) > 0, nil
}

func isIPv4Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// httpHeaderBearer is the Authorization header of a token.
func httpHeaderBearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}
