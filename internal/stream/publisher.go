package stream

import (
	"bytes"
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
// At most len(slots) publishes may await their answer at once; the caller
// bounds that (see processor.run). One goroutine at a time waits for
// answers (see wait).
type publisher struct {
	nc     *nats.Conn
	prefix string // reply subjects are prefix + id
	sub    *nats.Subscription
	// wake tells the waiter that the answer it waits for came.
	wake chan struct{}

	mu      sync.Mutex
	next    uint64
	slots   []pubSlot // indexed by id % len(slots)
	waiting bool      // whether wait is waiting for the answer to waitFor
	waitFor uint64
}

// pubSlot is a publish awaiting its answer, or answered.
type pubSlot struct {
	id       uint64
	state    pubState
	answered pubResult
}

type pubState uint8

const (
	pubFree     pubState = iota // no publish, or its answer was taken or forgotten
	pubAwaiting                 // published, no answer yet
	pubAnswered                 // answered; the answer not taken yet
)

// newPublisher subscribes to the replies of up to maxPending publishes.
func newPublisher(nc *nats.Conn, maxPending int) (*publisher, error) {
	p := &publisher{
		nc: nc, prefix: nc.NewRespInbox() + ".", wake: make(chan struct{}, 1),
		slots: make([]pubSlot, maxPending),
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

// publish sends msg and returns its id, for wait. msg.Reply is overwritten.
func (p *publisher) publish(msg *nats.Msg) (uint64, error) {
	p.mu.Lock()
	id := p.next
	p.next++
	*p.slot(id) = pubSlot{id: id, state: pubAwaiting}
	p.mu.Unlock()
	msg.Reply = p.prefix + strconv.FormatUint(id, 10)
	if err := p.nc.PublishMsg(msg); err != nil {
		p.forget(id)
		return 0, err
	}
	return id, nil
}

// take returns JetStream's answer to publish id if it came, without waiting.
func (p *publisher) take(id uint64) (pubResult, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.slot(id)
	if s.id != id || s.state != pubAnswered {
		return pubResult{}, false
	}
	r := s.answered
	s.state, s.answered = pubFree, pubResult{}
	return r, true
}

// wait returns JetStream's answer to publish id, waiting for it until
// timeout fires; then it forgets the publish and returns false.
func (p *publisher) wait(id uint64, timeout <-chan time.Time) (pubResult, bool) {
	for {
		if r, ok := p.take(id); ok {
			return r, true
		}
		p.mu.Lock()
		s := p.slot(id)
		if s.id == id && s.state == pubAnswered {
			p.mu.Unlock()
			continue // answered since take
		}
		p.waiting, p.waitFor = true, id
		p.mu.Unlock()
		select {
		case <-p.wake: // maybe for an earlier wait that timed out: look again
		case <-timeout:
			p.forget(id)
			return pubResult{}, false
		}
	}
}

// forget stops waiting for the answer to publish id (e.g. after a timeout);
// a late answer is then ignored.
func (p *publisher) forget(id uint64) {
	p.mu.Lock()
	if s := p.slot(id); s.id == id {
		s.state, s.answered = pubFree, pubResult{}
	}
	if p.waiting && p.waitFor == id {
		p.waiting = false
	}
	p.mu.Unlock()
}

// reply receives JetStream's answers.
func (p *publisher) reply(m *nats.Msg) {
	id, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, p.prefix), 10, 64)
	if err != nil {
		return
	}
	r := parsePubAck(m)
	p.mu.Lock()
	s := p.slot(id)
	if s.id != id || s.state != pubAwaiting {
		p.mu.Unlock()
		return
	}
	s.state, s.answered = pubAnswered, r
	wake := p.waiting && p.waitFor == id
	if wake {
		p.waiting = false
	}
	p.mu.Unlock()
	if wake {
		select {
		case p.wake <- struct{}{}:
		default: // a wake is already pending; the waiter looks again
		}
	}
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
