package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

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
// message (no JSON decoding of ordinary acknowledgements, no map, no timer),
// which matters at tens of thousands of events per second.
//
// At most cap(slots) publishes may await their answer at once; the caller
// bounds that (see processor.run).
type publisher struct {
	nc     *nats.Conn
	prefix string // reply subjects are prefix + id
	sub    *nats.Subscription

	mu    sync.Mutex
	next  uint64
	slots []pubSlot // indexed by id % len(slots)
}

type pubSlot struct {
	id   uint64
	done chan pubResult
}

// newPublisher subscribes to the replies of up to maxPending publishes.
func newPublisher(nc *nats.Conn, maxPending int) (*publisher, error) {
	p := &publisher{nc: nc, prefix: nc.NewRespInbox() + ".", slots: make([]pubSlot, maxPending)}
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

// publish sends msg and returns its id and the channel that receives
// JetStream's answer (once). msg.Reply is overwritten.
func (p *publisher) publish(msg *nats.Msg) (uint64, <-chan pubResult, error) {
	done := make(chan pubResult, 1)
	p.mu.Lock()
	id := p.next
	p.next++
	p.slots[id%uint64(len(p.slots))] = pubSlot{id: id, done: done}
	p.mu.Unlock()
	msg.Reply = p.prefix + strconv.FormatUint(id, 10)
	if err := p.nc.PublishMsg(msg); err != nil {
		p.forget(id)
		return 0, nil, err
	}
	return id, done, nil
}

// forget stops waiting for the answer to publish id (e.g. after a timeout);
// a late answer is then ignored.
func (p *publisher) forget(id uint64) {
	p.mu.Lock()
	if s := &p.slots[id%uint64(len(p.slots))]; s.id == id {
		s.done = nil
	}
	p.mu.Unlock()
}

// reply receives JetStream's answers.
func (p *publisher) reply(m *nats.Msg) {
	id, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, p.prefix), 10, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	var done chan pubResult
	if s := &p.slots[id%uint64(len(p.slots))]; s.id == id {
		done, s.done = s.done, nil
	}
	p.mu.Unlock()
	if done != nil {
		done <- parsePubAck(m)
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
