package stream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pull is one request for a batch of messages from the durable consumer,
// with an inbox of its own. It is what jetstream's Consumer.Fetch does,
// without its per-message costs (a timer, a goroutine and two channel hops
// per message, the metadata parsed twice), which matter at tens of
// thousands of events per second.
//
// The server is done with a request when it has delivered the whole batch
// or answered with a status (no messages, request timeout, conflict). Only
// then is the inbox unsubscribed, so no message delivered to it is lost; a
// request that the server never answers (lost in a reconnect) ends when
// its inbox has been silent for a second past the request's expiry.
type pull struct {
	sub      *nats.Subscription
	msgs     chan *nats.Msg
	received int // data messages
	// seen is received plus status messages at the last deadline check.
	seen, statuses int
	deadline       time.Time
}

// pullRequestSubject is the JetStream API subject that asks a consumer for
// its next messages.
func pullRequestSubject(t Topology) string {
	return "$JS.API.CONSUMER.MSG.NEXT." + t.Stream + "." + t.Durable
}

// startPull asks for the next batch of up to batch messages, to be
// delivered within wait.
func startPull(nc *nats.Conn, subject string, batch int, wait time.Duration) (*pull, error) {
	p := &pull{msgs: make(chan *nats.Msg, batch+16), deadline: time.Now().Add(wait + time.Second)}
	inbox := nc.NewInbox()
	sub, err := nc.ChanSubscribe(inbox, p.msgs)
	if err != nil {
		return nil, fmt.Errorf("subscribe to a fetch inbox: %w", err)
	}
	p.sub = sub
	req := make([]byte, 0, 48)
	req = append(req, `{"batch":`...)
	req = strconv.AppendInt(req, int64(batch), 10)
	req = append(req, `,"expires":`...)
	req = strconv.AppendInt(req, wait.Nanoseconds(), 10)
	req = append(req, '}')
	if err := nc.PublishRequest(subject, inbox, req); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("request a batch: %w", err)
	}
	return p, nil
}

// end unsubscribes the inbox and returns the messages it still holds.
func (p *pull) end() []*nats.Msg {
	_ = p.sub.Unsubscribe()
	var rest []*nats.Msg
	for {
		select {
		case m := <-p.msgs:
			if !isStatus(m) {
				rest = append(rest, m)
			}
		default:
			return rest
		}
	}
}

// stalled reports, at the deadline, whether nothing arrived since the last
// check; if something did, it moves the deadline a second on.
func (p *pull) stalled() bool {
	if n := p.received + p.statuses; n != p.seen {
		p.seen = n
		p.deadline = time.Now().Add(time.Second)
		return false
	}
	return true
}

// isStatus reports whether m is a status message from the server rather
// than a stored message: no payload and a Status header.
func isStatus(m *nats.Msg) bool {
	return len(m.Data) == 0 && len(m.Header) > 0 && m.Header.Get("Status") != ""
}

// pullStatus reads a status message: whether it ends the request, and an
// error when it says something is wrong (nil for the ordinary ends: no
// messages, request timeout, batch completed).
func pullStatus(m *nats.Msg) (ends bool, err error) {
	code, descr := m.Header.Get("Status"), m.Header.Get("Description")
	switch code {
	case "100": // idle heartbeat or flow control
		return false, nil
	case "404", "408":
		return true, nil
	case "409":
		d := strings.ToLower(descr)
		switch {
		case strings.Contains(d, "batch completed"):
			return true, nil
		case strings.Contains(d, "consumer deleted"):
			return true, jetstream.ErrConsumerDeleted
		}
	case "503":
		return true, errors.New("no responders: the consumer or JetStream is not available")
	}
	return true, fmt.Errorf("fetch ended with status %s %s", code, descr)
}
