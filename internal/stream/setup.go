package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Topology names the JetStream objects the consumer uses.
type Topology struct {
	// Stream is the input stream, holding trip-request events on Subject.
	Stream  string
	Subject string
	// Durable is the durable pull consumer on Stream that every process of
	// one deployment shares.
	Durable string
	// OutStream stores OutSubject (estimates) and DeadLetterSubject.
	OutStream         string
	OutSubject        string
	DeadLetterSubject string

	// AckWait is how long JetStream waits for an acknowledgement before it
	// redelivers a message (e.g. after a consumer was killed).
	AckWait time.Duration
	// MaxAckPending bounds the messages delivered and not yet acknowledged,
	// across all processes.
	MaxAckPending int
	// DedupWindow is the output stream's duplicate window when this package
	// creates it. A redelivered event's output is recognised as a duplicate
	// only within it, so it must be well above AckWait.
	DedupWindow time.Duration
}

// DefaultTopology returns the names and settings used unless configured.
func DefaultTopology() Topology {
	return Topology{
		Stream:            "TAXI_RIDES",
		Subject:           "taxi.rides.requests",
		Durable:           "taxieta",
		OutStream:         "TAXI_ESTIMATES",
		OutSubject:        "taxi.rides.estimates",
		DeadLetterSubject: "taxi.rides.dead",
		AckWait:           30 * time.Second,
		MaxAckPending:     20000,
		DedupWindow:       2 * time.Minute,
	}
}

// Validate checks the topology for mistakes that would only show later.
func (t Topology) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"stream", t.Stream}, {"subject", t.Subject}, {"durable", t.Durable},
		{"output stream", t.OutStream}, {"output subject", t.OutSubject}, {"dead-letter subject", t.DeadLetterSubject},
	} {
		if f.v == "" {
			return fmt.Errorf("stream topology: the %s is empty", f.name)
		}
	}
	switch {
	case t.OutSubject == t.DeadLetterSubject:
		return fmt.Errorf("stream topology: the output and dead-letter subjects are both %q", t.OutSubject)
	case t.Subject == t.OutSubject || t.Subject == t.DeadLetterSubject:
		return fmt.Errorf("stream topology: the input subject %q is also an output subject", t.Subject)
	case t.AckWait <= 0:
		return errors.New("stream topology: ack wait must be positive")
	case t.MaxAckPending <= 0:
		return errors.New("stream topology: max ack pending must be positive")
	case t.DedupWindow < 2*t.AckWait:
		return fmt.Errorf("stream topology: the duplicate window %s must be at least twice the ack wait %s, or a redelivered event could be estimated twice", t.DedupWindow, t.AckWait)
	}
	return nil
}

// Ensure creates what is missing: the input stream, the output stream
// (estimates and dead letters, with a duplicate window) and the durable
// consumer, and checks that the output subjects are stored by a stream. An
// existing stream is left as it is; the consumer is created or updated to
// the topology's settings. Several processes may call it at once.
func Ensure(ctx context.Context, js jetstream.JetStream, t Topology) (jetstream.Consumer, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name:        t.Stream,
		Subjects:    []string{t.Subject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  t.DedupWindow,
		Description: "taxieta trip-request events",
	}); err != nil {
		return nil, err
	}
	if err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name:        t.OutStream,
		Subjects:    []string{t.OutSubject, t.DeadLetterSubject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  t.DedupWindow,
		Description: "taxieta trip-duration estimates and dead letters",
	}); err != nil {
		return nil, err
	}
	for _, subj := range []string{t.OutSubject, t.DeadLetterSubject} {
		name, err := js.StreamNameBySubject(ctx, subj)
		if err != nil {
			return nil, fmt.Errorf("stream setup: no stream stores subject %s, so its messages could not be acknowledged: %w", subj, err)
		}
		if name == t.Stream {
			return nil, fmt.Errorf("stream setup: subject %s is stored by the input stream %s", subj, name)
		}
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, t.Stream, jetstream.ConsumerConfig{
		Durable:       t.Durable,
		Description:   "taxieta stream: trip-duration estimates",
		FilterSubject: t.Subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: t.MaxAckPending,
	})
	if err != nil {
		return nil, fmt.Errorf("stream setup: consumer %s on stream %s: %w", t.Durable, t.Stream, err)
	}
	return cons, nil
}

// ensureStream creates a stream unless one of that name exists.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	_, err := js.Stream(ctx, cfg.Name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("stream setup: look up stream %s: %w", cfg.Name, err)
	}
	_, err = js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil // another process created it meanwhile
	}
	if err != nil {
		return fmt.Errorf("stream setup: create stream %s for %v: %w", cfg.Name, cfg.Subjects, err)
	}
	return nil
}
