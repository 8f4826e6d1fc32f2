package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// pubResult is JetStream's answer to one publish.
type pubResult struct {
	// duplicate is true when the stream already held a message with the
	// same Nats-Msg-Id, so this one was not stored again.
	duplicate bool
	err       error
}

// publisher publishes messages to JetStream asynchronously: each is a plain
// NATS publish whose reply subject, unique to it, receives JetStream's
// acknowledgement on one wildcard subscription. It does what jetstream's
// PublishMsgAsync does for this one use, at a fraction of the cost per
// message (no JSON decoding of ordinary acknowledgements, no map, no timer,
// no channel per message), which matters at tens of thousands of events per
// second.
//
// Each publish carries the inflight event it is the output of; when the
// answer comes (on the subscription's goroutine), or when none came within
// the timeout (on the expiry goroutine), done is called with both, once.
// Publishes take the slots of a ring in turn: at most len(slots) await
// their answer, and publish waits for the oldest slot's answer when the
// ring is full.
type publisher struct {
	nc      *nats.Conn
	prefix  string // reply subjects are prefix + id
	sub     *nats.Subscription
	timeout time.Duration
	done    func(inflight, pubResult)
	// wake tells the goroutine in publish or idle that a slot was freed.
	wake chan struct{}

	mu      sync.Mutex
	next    uint64
	slots   []pubSlot // indexed by id % len(slots)
	pending int       // published, and done not yet returned
	waiting bool      // whether publish or idle waits for wake
}

// pubSlot is a publish awaiting its answer.
type pubSlot struct {
	id   uint64
	busy bool
	ev   inflight
}

// newPublisher subscribes to the answers of up to maxPending publishes.
func newPublisher(nc *nats.Conn, maxPending int, timeout time.Duration, done func(inflight, pubResult)) (*publisher, error) {
	p := &publisher{
		nc: nc, prefix: nc.NewRespInbox() + ".", timeout: timeout, done: done,
		wake: make(chan struct{}, 1), slots: make([]pubSlot, maxPending),
	}
	sub, err := nc.Subscribe(p.prefix+"*", p.reply)
	if err != nil {
		return nil, fmt.Errorf("stream: subscribe to publish acknowledgements: %w", err)
	}
	// Answers must never be dropped as a slow consumer's: the number
	// outstanding is bounded by maxPending anyway.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("stream: %w", err)
	}
	p.sub = sub
	return p, nil
}

// slot returns the slot of publish id; the caller holds p.mu.
func (p *publisher) slot(id uint64) *pubSlot { return &p.slots[id%uint64(len(p.slots))] }

// await waits for wake; the caller holds p.mu, which await releases while
// it waits.
func (p *publisher) await() {
	p.waiting = true
	p.mu.Unlock()
	<-p.wake
	p.mu.Lock()
}

// signal wakes a waiting publish or idle; the caller holds p.mu.
func (p *publisher) signal() {
	if p.waiting {
		p.waiting = false
		select {
		case p.wake <- struct{}{}:
		default: // a wake is pending already
		}
	}
}

// publish sends msg, the output of ev, once the ring has room; done(ev, …)
// follows unless publish returns an error. msg.Reply is overwritten. Only
// one goroutine may call publish.
func (p *publisher) publish(msg *nats.Msg, ev inflight) error {
	p.mu.Lock()
	for p.slot(p.next).busy {
		p.await()
	}
	id := p.next
	p.next++
	*p.slot(id) = pubSlot{id: id, busy: true, ev: ev}
	p.pending++
	p.mu.Unlock()
	msg.Reply = p.prefix + strconv.FormatUint(id, 10)
	if err := p.nc.PublishMsg(msg); err != nil {
		p.mu.Lock()
		if s := p.slot(id); s.busy && s.id == id {
			*s = pubSlot{}
			p.pending--
			p.signal()
			p.mu.Unlock()
			return err
		}
		p.mu.Unlock()
		return nil // answered or expired meanwhile: done had it
	}
	return nil
}

// finish takes publish id's event out of its slot, or returns false if it
// was taken already (answered, or expired).
func (p *publisher) finish(id uint64) (inflight, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.slot(id)
	if !s.busy || s.id != id {
		return inflight{}, false
	}
	ev := s.ev
	*s = pubSlot{}
	p.signal()
	return ev, true
}

// finished counts a done call as returned.
func (p *publisher) finished(n int) {
	p.mu.Lock()
	p.pending -= n
	p.signal()
	p.mu.Unlock()
}

// reply receives JetStream's answers.
func (p *publisher) reply(m *nats.Msg) {
	id, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, p.prefix), 10, 64)
	if err != nil {
		return
	}
	ev, ok := p.finish(id)
	if !ok {
		return // a late answer to an expired publish
	}
	p.done(ev, parsePubAck(m))
	p.finished(1)
}

// expire calls done with a timeout error for every publish older than the
// timeout, until ctx is done.
func (p *publisher) expire(ctx context.Context) {
	t := time.NewTicker(min(p.timeout/4, time.Second))
	defer t.Stop()
	var late []inflight
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			late = late[:0]
			p.mu.Lock()
			for i := range p.slots {
				if s := &p.slots[i]; s.busy && now.Sub(s.ev.started) >= p.timeout {
					late = append(late, s.ev)
					*s = pubSlot{}
				}
			}
			if len(late) > 0 {
				p.signal()
			}
			p.mu.Unlock()
			err := fmt.Errorf("no acknowledgement from JetStream within %s", p.timeout)
			for _, ev := range late {
				p.done(ev, pubResult{err: err})
			}
			if len(late) > 0 {
				p.finished(len(late))
			}
		}
	}
}

// idle waits until every publish had its done call return. The expiry
// goroutine must be running, so that it ends.
func (p *publisher) idle() {
	p.mu.Lock()
	for p.pending > 0 {
		p.await()
	}
	p.mu.Unlock()
}

// close stops receiving answers.
func (p *publisher) close() {
	_ = p.sub.Unsubscribe()
}

// parsePubAck reads JetStream's answer to a publish: {"stream":…,"seq":…}
// with "duplicate":true for a duplicate, {"error":{…}} for a failure, or a
// 503 status when no stream stores the subject.
func parsePubAck(m *nats.Msg) pubResult {
	if len(m.Data) == 0 {
		if status := m.Header.Get("Status"); status == "503" {
			return pubResult{err: errors.New("no stream stores this subject (no responders)")}
		} else if status != "" {
			return pubResult{err: fmt.Errorf("status %s %s", status, m.Header.Get("Description"))}
		}
		return pubResult{err: errors.New("empty publish acknowledgement")}
	}
	if bytes.Contains(m.Data, []byte(`"error"`)) {
		var e struct {
			Error struct {
				Code        int    `json:"code"`
				ErrCode     int    `json:"err_code"`
				Description string `json:"description"`
			} `json:"error"`
		}
		if err := json.Unmarshal(m.Data, &e); err != nil {
			return pubResult{err: fmt.Errorf("unreadable publish acknowledgement %q: %w", m.Data, err)}
		}
		return pubResult{err: fmt.Errorf("jetstream: %s (code %d, error code %d)", e.Error.Description, e.Error.Code, e.Error.ErrCode)}
	}
	if !bytes.Contains(m.Data, []byte(`"seq"`)) {
		return pubResult{err: fmt.Errorf("unexpected publish acknowledgement %q", m.Data)}
	}
	return pubResult{duplicate: jsonTrue(m.Data, `"duplicate"`)}
}

// jsonTrue reports whether the flat JSON object data has key: true, spaced
// in any way (servers write `"duplicate": true` and `"duplicate":true`).
func jsonTrue(data []byte, key string) bool {
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(data[i+len(key):], " \t\r\n")
	rest, ok := bytes.CutPrefix(rest, []byte(":"))
	return ok && bytes.HasPrefix(bytes.TrimLeft(rest, " \t\r\n"), []byte("true"))
}
