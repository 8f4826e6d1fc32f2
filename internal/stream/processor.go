// Package stream serves trip-duration estimates over NATS JetStream: a
// durable pull consumer reads trip-request events, and for each one publishes
// an estimate event (or, for a bad event, a dead letter) and acknowledges the
// request only once JetStream has stored that output. Delivery is
// at-least-once; the output's Nats-Msg-Id is derived from the request's
// stream sequence, so a redelivered request's second output is dropped by
// JetStream's duplicate window and each request is stored once.
//
// Several processes may share one durable consumer; each fetches batches of
// its own. Cancelling Run's context drains: no new fetch, every message
// already fetched is finished and acknowledged, then Run returns.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/backoff"
	"github.com/taxieta/taxieta/internal/serving"
)

// Header names on dead letters.
const (
	// HeaderError holds why the event was rejected.
	HeaderError = "Taxieta-Error"
	// HeaderErrorClass is "malformed" or "invalid" (see EventError.Class).
	HeaderErrorClass = "Taxieta-Error-Class"
	// HeaderStream, HeaderSequence and HeaderSubject say where the rejected
	// event was stored.
	HeaderStream   = "Taxieta-Stream"
	HeaderSequence = "Taxieta-Sequence"
	HeaderSubject  = "Taxieta-Subject"
)

// Config configures Run.
type Config struct {
	Topology Topology
	// Setup creates the streams and the durable consumer when missing
	// (see Ensure); without it they must exist.
	Setup bool
	// Batch is how many messages one fetch asks for.
	Batch int
	// MaxInFlight bounds the outputs published and not yet acknowledged by
	// JetStream; when reached, processing waits.
	MaxInFlight int
	// FetchWait is how long a fetch waits for its batch to fill. It also
	// bounds how long a drain waits for the last fetch.
	FetchWait time.Duration
	// PublishTimeout is how long to wait for JetStream to acknowledge an
	// output; past it the request is negatively acknowledged and redelivered.
	PublishTimeout time.Duration
	// LagInterval is how often the consumer's lag is polled for the metrics.
	LagInterval time.Duration

	// Models is the prediction seam: each event is estimated by the
	// version it serves by default when the event is handled, and the
	// estimate names that version. When the seam follows a registry alias,
	// a move takes effect between two events.
	Models *serving.Service

	Logger  *slog.Logger
	Metrics *Metrics // may be nil
}

// DefaultConfig returns the default settings, without a model.
func DefaultConfig() Config {
	return Config{
		Topology:       DefaultTopology(),
		Setup:          true,
		Batch:          500,
		MaxInFlight:    4000,
		FetchWait:      time.Second,
		PublishTimeout: 10 * time.Second,
		LagInterval:    5 * time.Second,
	}
}

// Stats counts what one Run did.
type Stats struct {
	// In counts events received, Redelivered those among them received before.
	In, Redelivered uint64
	// Out counts estimates stored, Dead dead letters stored; Duplicates
	// counts outputs JetStream had already stored (a redelivered event).
	Out, Dead, Duplicates uint64
	// Failed counts events whose output could not be stored; each was
	// negatively acknowledged, to be redelivered.
	Failed uint64
}

type counters struct {
	in, redelivered, out, dead, duplicates, failed atomic.Uint64
}

func (c *counters) stats() Stats {
	return Stats{
		In: c.in.Load(), Redelivered: c.redelivered.Load(),
		Out: c.out.Load(), Dead: c.dead.Load(), Duplicates: c.duplicates.Load(),
		Failed: c.failed.Load(),
	}
}

// count adds one to a Stats count and to its metric.
func count(n *atomic.Uint64, c prometheus.Counter) {
	n.Add(1)
	c.Inc()
}

// inflight is a fetched message whose output was published.
type inflight struct {
	msg     *nats.Msg
	subject string      // of the output
	dead    *EventError // nil for an estimate
	started time.Time
}

type processor struct {
	cfg Config
	in  *nats.Conn // fetches and acknowledgements
	pub *publisher
	dec *Decoder
	// est and body are the estimate message, reused for every event: a
	// publish copies them into the connection's buffer before it returns.
	est  *nats.Msg
	body []byte
	// ack and nak are the acknowledgements, as JetStream reads them on a
	// message's reply subject; nak hands a message back, to be redelivered
	// after a second.
	ack, nak []byte
	// mv is the model version the last event was estimated with, and
	// modelJSON its identity as estimates carry it.
	mv        *serving.ModelVersion
	modelJSON []byte
	log       *slog.Logger
	m         *Metrics
	n         counters
}

// Run consumes until ctx is cancelled, then drains and returns what it did.
// It returns an error only when it cannot go on: setup failed, the consumer
// was deleted, or a connection closed.
//
// Events are fetched and acknowledged on in, outputs published on out. They
// may be one connection, but two go faster: a NATS server handles what one
// connection sends on one goroutine, so with two it stores outputs while it
// delivers events and records acknowledgements. Both are left open.
func Run(ctx context.Context, in, out *nats.Conn, cfg Config) (Stats, error) {
	if err := cfg.check(); err != nil {
		return Stats{}, err
	}
	dec, err := NewDecoder()
	if err != nil {
		return Stats{}, err
	}
	js, err := jetstream.New(in)
	if err != nil {
		return Stats{}, fmt.Errorf("stream: %w", err)
	}
	var cons jetstream.Consumer
	if cfg.Setup {
		cons, err = Ensure(ctx, js, cfg.Topology)
	} else {
		cons, err = js.Consumer(ctx, cfg.Topology.Stream, cfg.Topology.Durable)
		if err != nil {
			err = fmt.Errorf("stream: consumer %s on stream %s: %w", cfg.Topology.Durable, cfg.Topology.Stream, err)
		}
	}
	if err != nil {
		return Stats{}, err
	}
	p := &processor{
		cfg: cfg, in: in, dec: dec, log: cfg.Logger, m: cfg.Metrics,
		ack: []byte("+ACK"), nak: []byte(`-NAK {"delay":1000000000}`),
		est: &nats.Msg{Subject: cfg.Topology.OutSubject, Header: nats.Header{jetstream.MsgIDHeader: make([]string, 1)}},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.m == nil {
		p.m = newMetrics() // counted, never exposed
	}
	if p.pub, err = newPublisher(out, cfg.MaxInFlight, cfg.PublishTimeout, p.finish); err != nil {
		return Stats{}, err
	}
	defer p.pub.close()
	return p.run(ctx, in, cons)
}

func (c *Config) check() error {
	switch {
	case c.Models == nil || c.Models.Current() == nil:
		return errors.New("stream: no model")
	case c.Batch <= 0:
		return errors.New("stream: batch must be positive")
	case c.MaxInFlight <= 0:
		return errors.New("stream: max in flight must be positive")
	case c.FetchWait < 100*time.Millisecond:
		return errors.New("stream: fetch wait must be at least 100ms")
	case c.PublishTimeout <= 0:
		return errors.New("stream: publish timeout must be positive")
	case c.LagInterval <= 0:
		return errors.New("stream: lag interval must be positive")
	}
	return c.Topology.Validate()
}

func (p *processor) run(ctx context.Context, in *nats.Conn, cons jetstream.Consumer) (Stats, error) {
	var wg sync.WaitGroup
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	wg.Go(func() { p.pollLag(bg, cons) })
	wg.Go(func() { p.pub.expire(bg) })

	err := p.fetchLoop(ctx, in)
	// Drain: everything fetched has been published; wait until each
	// output was stored and its request acknowledged (or handed back),
	// then make sure the acks reach the server.
	p.pub.idle()
	stop()
	wg.Wait()
	if ferr := in.FlushTimeout(p.cfg.PublishTimeout); ferr != nil && !errors.Is(ferr, nats.ErrConnectionClosed) {
		err = errors.Join(err, fmt.Errorf("stream: flush acknowledgements: %w", ferr))
	}
	return p.n.stats(), err
}

// fetchLoop fetches batches until ctx is cancelled or a fatal error, and
// processes every message of each batch it asked for, as they arrive. It
// keeps two fetches asked for at once, so that the server fills one while
// the other's messages are processed.
//
// Fetches are deliberately not tied to ctx: a batch, once asked for, is
// received in full (at most FetchWait) and processed, so that nothing is
// left delivered and unacknowledged at exit.
func (p *processor) fetchLoop(ctx context.Context, in *nats.Conn) error {
	subject := pullRequestSubject(p.cfg.Topology)
	retry := backoff.New(50*time.Millisecond, 5*time.Second)
	var (
		pulls [2]*pull // nil when not asked for
		fatal error
	)
	// Fetches the server never answers end by their deadline, checked
	// every second.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		active := 0
		for i := range pulls {
			if pulls[i] == nil && fatal == nil && ctx.Err() == nil {
				pl, err := startPull(in, subject, p.cfg.Batch, p.cfg.FetchWait)
				if err != nil {
					if fatal = p.fatal(err); fatal == nil {
						p.log.Warn("fetch failed; retrying", "err", err, "retry_in", retry.Delay())
						_ = retry.Wait(ctx) // a done ctx ends the loop
					}
					continue
				}
				retry.Reset()
				pulls[i] = pl
			}
			if pulls[i] != nil {
				active++
			}
		}
		if active == 0 {
			if fatal != nil || ctx.Err() != nil {
				return fatal
			}
			continue // both failed to start; retry waited
		}
		var c0, c1 chan *nats.Msg // nil (never ready) without a fetch
		if pulls[0] != nil {
			c0 = pulls[0].msgs
		}
		if pulls[1] != nil {
			c1 = pulls[1].msgs
		}
		select {
		case m := <-c0:
			p.receive(ctx, &pulls[0], m, &fatal)
		case m := <-c1:
			p.receive(ctx, &pulls[1], m, &fatal)
		case now := <-tick.C:
			for i, pl := range pulls {
				if pl != nil && now.After(pl.deadline) && pl.stalled() {
					p.endPull(&pulls[i])
				}
			}
		}
	}
}

// receive handles one message that fetch *pl received, and ends the fetch
// when the server is done with it. An error that means consuming cannot go
// on is left in *fatal.
func (p *processor) receive(ctx context.Context, pl **pull, m *nats.Msg, fatal *error) {
	f := *pl
	if !isStatus(m) {
		f.received++
		p.handle(m)
		if f.received == p.cfg.Batch {
			p.endPull(pl)
		}
		return
	}
	f.statuses++
	ends, err := pullStatus(m)
	if err != nil {
		if ferr := p.fatal(err); ferr != nil {
			*fatal = ferr
		} else {
			// Pause a moment, so that failures do not spin.
			p.log.Warn("fetch failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	if ends {
		p.endPull(pl)
	}
}

// endPull ends fetch *pl, handles what its inbox still held, and clears it.
func (p *processor) endPull(pl **pull) {
	for _, m := range (*pl).end() {
		p.handle(m)
	}
	*pl = nil
}

// fatal returns the error to stop with if err means that consuming cannot
// go on, else nil.
func (p *processor) fatal(err error) error {
	switch {
	case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("stream: consumer %s on stream %s is gone: %w", p.cfg.Topology.Durable, p.cfg.Topology.Stream, err)
	case errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("stream: %w", err)
	}
	return nil
}

// model returns the version to estimate the next event with, noting a
// switch when the served version moved since the last event.
func (p *processor) model() *serving.ModelVersion {
	mv := p.cfg.Models.Current()
	if mv != p.mv {
		if p.mv != nil {
			p.log.Info("estimating with a new model version", "from", p.mv.Version, "to", mv.Version, "name", mv.Name)
		}
		p.mv, p.modelJSON = mv, ModelJSON(mv.Name, mv.Version)
	}
	return mv
}

// handle decodes one event, estimates it and publishes the estimate, or the
// dead letter, asynchronously; finish completes it. When MaxInFlight outputs
// await their answer, it waits for the oldest.
func (p *processor) handle(msg *nats.Msg) {
	started := time.Now()
	count(&p.n.in, p.m.in)
	ack, ok := parseAckSubject(msg.Reply)
	if !ok {
		// Not a JetStream message: nothing to acknowledge or derive an id from.
		p.log.Error("message without JetStream metadata; skipped", "subject", msg.Subject, "reply", msg.Reply)
		return
	}
	if ack.delivered > 1 {
		count(&p.n.redelivered, p.m.redelivered)
	}
	id := ack.outputID()
	var out *nats.Msg
	req, err := p.dec.Decode(msg.Data)
	if err == nil {
		mv := p.model()
		pred := p.cfg.Models.Predict(serving.Call{Protocol: serving.Stream, ID: req.RideID.String()}, mv, req.Trip)
		p.body, err = AppendEstimate(p.body[:0], req.RideID, pred, p.modelJSON)
		if err == nil {
			out = p.est
			out.Data = p.body
			out.Header[jetstream.MsgIDHeader][0] = id
		}
	}
	var dead *EventError
	if err != nil {
		// Decode's errors are *EventErrors; AppendEstimate's (a non-finite
		// estimate) becomes an invalid one.
		evErr, ok := errors.AsType[*EventError](err)
		if !ok {
			evErr = &EventError{Reason: err.Error()}
		}
		dead = evErr
		p.log.Debug("dead letter", "stream_seq", ack.streamSeq, "reason", evErr.Error())
		out = &nats.Msg{Subject: p.cfg.Topology.DeadLetterSubject, Data: msg.Data, Header: nats.Header{
			jetstream.MsgIDHeader: {id},
			HeaderError:           {headerSafe(evErr.Error())},
			HeaderErrorClass:      {evErr.Class()},
			HeaderStream:          {ack.stream},
			HeaderSequence:        {strconv.FormatUint(ack.streamSeq, 10)},
			HeaderSubject:         {msg.Subject},
		}}
	}
	p.m.inFlight.Inc()
	if err := p.pub.publish(out, inflight{msg: msg, subject: out.Subject, dead: dead, started: started}); err != nil {
		p.m.inFlight.Dec()
		p.fail(msg, fmt.Errorf("publish to %s: %w", out.Subject, err))
	}
}

// finish completes an event once JetStream answered the publish of its
// output (or did not, in time): a stored output's request is acknowledged;
// a failed output's request is negatively acknowledged, to be redelivered.
// It runs on the publisher's goroutines, possibly two at once.
func (p *processor) finish(f inflight, r pubResult) {
	p.m.inFlight.Dec()
	if r.err != nil {
		p.fail(f.msg, fmt.Errorf("publish to %s: %w", f.subject, r.err))
		return
	}
	if r.duplicate {
		count(&p.n.duplicates, p.m.duplicates)
	}
	if err := p.in.Publish(f.msg.Reply, p.ack); err != nil {
		// The output is stored; the request will be redelivered and its
		// output recognised as a duplicate.
		p.log.Warn("ack failed", "err", err)
		return
	}
	if f.dead != nil {
		count(&p.n.dead, p.m.dead.WithLabelValues(f.dead.Class()))
	} else {
		count(&p.n.out, p.m.out)
	}
	p.m.latency.Observe(time.Since(f.started).Seconds())
}

// fail gives a message back to JetStream for redelivery after a pause.
func (p *processor) fail(msg *nats.Msg, err error) {
	count(&p.n.failed, p.m.failed)
	p.log.Warn("output not stored; request will be redelivered", "err", err)
	if nerr := p.in.Publish(msg.Reply, p.nak); nerr != nil {
		p.log.Warn("nak failed; request will be redelivered after the ack wait", "err", nerr)
	}
}

// pollLag keeps the lag gauges current until ctx is done; without metrics
// to show them, it does not poll.
func (p *processor) pollLag(ctx context.Context, cons jetstream.Consumer) {
	if p.cfg.Metrics == nil {
		return
	}
	t := time.NewTicker(p.cfg.LagInterval)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, p.cfg.LagInterval)
		info, err := cons.Info(ictx)
		cancel()
		if err == nil {
			p.m.pending.Set(float64(info.NumPending))
			p.m.ackPending.Set(float64(info.NumAckPending))
		} else if ctx.Err() == nil {
			p.log.Debug("consumer info failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ackSubject is what a JetStream message's reply subject says about it.
type ackSubject struct {
	stream, consumer     string
	delivered, streamSeq uint64
}

// parseAckSubject reads a JetStream message's reply subject,
// $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
// or, with a domain and account hash after ACK, the same with two more
// tokens (and possibly a trailing one). It does not allocate.
func parseAckSubject(reply string) (ackSubject, bool) {
	var tok [13]string
	n := 0
	for n < len(tok) {
		i := strings.IndexByte(reply, '.')
		if i < 0 {
			tok[n] = reply
			n++
			break
		}
		tok[n], reply = reply[:i], reply[i+1:]
		n++
	}
	if n < 9 || n == 10 || tok[0] != "$JS" || tok[1] != "ACK" {
		return ackSubject{}, false
	}
	t := tok[2:n]
	if n >= 11 {
		t = tok[4:n] // skip the domain and the account hash
	}
	delivered, err1 := strconv.ParseUint(t[2], 10, 64)
	seq, err2 := strconv.ParseUint(t[3], 10, 64)
	if err1 != nil || err2 != nil {
		return ackSubject{}, false
	}
	return ackSubject{stream: t[0], consumer: t[1], delivered: delivered, streamSeq: seq}, true
}

// outputID is the Nats-Msg-Id of the output for a request: the same for
// every delivery of that request, different for every other request.
func (a ackSubject) outputID() string {
	b := make([]byte, 0, len(a.stream)+len(a.consumer)+32)
	b = append(b, "taxieta:"...)
	b = append(b, a.stream...)
	b = append(b, ':')
	b = append(b, a.consumer...)
	b = append(b, ':')
	b = strconv.AppendUint(b, a.streamSeq, 10)
	return string(b)
}

// headerSafe makes s fit in one header value.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
