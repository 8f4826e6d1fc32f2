package serving

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/trip"
)

// Protocol names the way a prediction was asked for. Predictions are
// counted by it, and observers see it, so that one metric covers every
// deployment and protocol.
type Protocol uint8

// The protocols, as they appear in the protocol label of
// taxieta_predictions_total.
const (
	// REST is taxieta's own web API: POST /predict and /predict/batch.
	REST Protocol = iota
	// Batch is `taxieta predict`, scoring a file.
	Batch
	// Stream is `taxieta stream`, answering trip-request events.
	Stream
	// OIPREST and OIPGRPC are the Open Inference Protocol v2 over HTTP and gRPC.
	OIPREST
	OIPGRPC
	// MLflow is MLflow's scoring protocol, POST /invocations.
	MLflow
	numProtocols
)

// String is the protocol's label value.
func (p Protocol) String() string {
	switch p {
	case REST:
		return "rest"
	case Batch:
		return "batch"
	case Stream:
		return "stream"
	case OIPREST:
		return "v2-rest"
	case OIPGRPC:
		return "v2-grpc"
	case MLflow:
		return "mlflow"
	}
	return fmt.Sprintf("protocol(%d)", uint8(p))
}

// ErrNoModel is returned while no default model is loaded.
var ErrNoModel = errors.New("no model is loaded yet")

// ErrNotFollowing is returned by Reload when the Service serves a fixed
// model (a file or the embedded default), which has nothing to re-resolve.
var ErrNotFollowing = errors.New("the served model is fixed (a file or the embedded default), not a registry reference to re-resolve")

// Models is where a Service finds its model versions: a Static model, or a
// Manager following a registry reference.
type Models interface {
	// Default is the version predictions use unless they ask for one; nil
	// until one is loaded.
	Default() *ModelVersion
	// Version returns a specific version, loading it if needed, or an error
	// wrapping ErrUnknownVersion.
	Version(ctx context.Context, version string) (*ModelVersion, error)
	// List describes the versions available and loaded.
	List(ctx context.Context) ([]Info, error)
}

// Reloader re-resolves the served reference now; a Manager is one.
type Reloader interface {
	Reload(ctx context.Context) (*ModelVersion, error)
}

// Call says who asks for a prediction: the protocol, and the request or
// ride id that observers record with it (empty when there is none).
type Call struct {
	Protocol Protocol
	ID       string
}

// Observation is one call's predictions, as an Observer sees them.
type Observation struct {
	Call
	Model       *ModelVersion
	Trips       []trip.Trip
	Predictions []trip.Prediction
}

// Observer sees every prediction a Service serves (a prediction log, drift
// monitoring, a shadow model). Observe runs on the predicting goroutine:
// it must return at once, handing what it needs to its own buffer, and
// must not keep the slices, which the caller reuses.
type Observer interface {
	Observe(Observation)
}

// Options tune a Service.
type Options struct {
	// Registerer receives the prediction and model metrics; nil means none.
	Registerer prometheus.Registerer
	// Observer, when not nil, sees every prediction served.
	Observer Observer
}

// Service is the one prediction seam: every deployment picks the model
// version through it and predicts through it, so that counting, observing
// and any future protocol see every prediction exactly once.
type Service struct {
	models   Models
	reloader Reloader
	obs      Observer
	counts   sync.Map // *ModelVersion → *versionCounts
	last     atomic.Pointer[versionCounts]
	// ones holds the one-trip slices a single prediction is observed
	// through, so that observing it does not allocate.
	ones sync.Pool // *one
}

// one is a single prediction as slices for an Observation.
type one struct {
	t [1]trip.Trip
	p [1]trip.Prediction
}

// versionCounts counts one model version's predictions by protocol.
type versionCounts struct {
	mv *ModelVersion
	n  [numProtocols]atomic.Uint64
}

// New returns a Service over models. When models can also re-resolve its
// reference (a Manager), Reload does so.
func New(models Models, opts Options) (*Service, error) {
	if models == nil {
		return nil, errors.New("serving: no models")
	}
	s := &Service{models: models, obs: opts.Observer}
	s.ones.New = func() any { return new(one) }
	s.reloader, _ = models.(Reloader)
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(serviceCollector{s}); err != nil {
			return nil, fmt.Errorf("serving: register metrics: %w", err)
		}
	}
	return s, nil
}

// Current returns the default model version, nil until one is loaded.
func (s *Service) Current() *ModelVersion { return s.models.Default() }

// Model returns the version to predict with: the default for "", else the
// version named, loading it if needed. Errors wrap ErrNoModel or
// ErrUnknownVersion, or say why the version cannot be loaded now.
func (s *Service) Model(ctx context.Context, version string) (*ModelVersion, error) {
	if version == "" {
		if mv := s.models.Default(); mv != nil {
			return mv, nil
		}
		return nil, ErrNoModel
	}
	return s.models.Version(ctx, version)
}

// List describes the versions available, marking those loaded and the default.
func (s *Service) List(ctx context.Context) ([]Info, error) { return s.models.List(ctx) }

// Follows reports whether the Service follows a registry reference that
// Reload can re-resolve.
func (s *Service) Follows() bool { return s.reloader != nil }

// Reload re-resolves the served reference and swaps to the version it
// names; the error wraps ErrNotFollowing for a fixed model.
func (s *Service) Reload(ctx context.Context) (*ModelVersion, error) {
	if s.reloader == nil {
		return s.models.Default(), ErrNotFollowing
	}
	return s.reloader.Reload(ctx)
}

// Predict estimates one trip with mv, for c.
func (s *Service) Predict(c Call, mv *ModelVersion, t trip.Trip) trip.Prediction {
	p := mv.Artifact.Model.Predict(t)
	s.countsOf(mv).n[c.Protocol].Add(1)
	if s.obs != nil {
		o := s.ones.Get().(*one)
		o.t[0], o.p[0] = t, p
		s.obs.Observe(Observation{Call: c, Model: mv, Trips: o.t[:], Predictions: o.p[:]})
		s.ones.Put(o)
	}
	return p
}

// PredictBatch estimates trips[i] into out[i] with mv, for c; out must be
// at least as long as trips.
func (s *Service) PredictBatch(c Call, mv *ModelVersion, trips []trip.Trip, out []trip.Prediction) {
	if len(trips) == 0 {
		return
	}
	out = out[:len(trips)]
	mv.Artifact.Model.PredictBatch(trips, out)
	s.countsOf(mv).n[c.Protocol].Add(uint64(len(trips)))
	if s.obs != nil {
		s.obs.Observe(Observation{Call: c, Model: mv, Trips: trips, Predictions: out})
	}
}

// Measure estimates trips[i] into out[i] with mv to measure the model
// against durations already known (batch scoring's evaluation). These
// estimates are not served, so they are neither counted nor observed.
func (s *Service) Measure(mv *ModelVersion, trips []trip.Trip, out []trip.Prediction) {
	if len(trips) > 0 {
		mv.Artifact.Model.PredictBatch(trips, out[:len(trips)])
	}
}

// countsOf returns mv's counters; the last version used is found without a
// map look-up, which is the common case.
func (s *Service) countsOf(mv *ModelVersion) *versionCounts {
	if c := s.last.Load(); c != nil && c.mv == mv {
		return c
	}
	c, ok := s.counts.Load(mv)
	if !ok {
		c, _ = s.counts.LoadOrStore(mv, &versionCounts{mv: mv})
	}
	vc := c.(*versionCounts)
	s.last.Store(vc)
	return vc
}

// Predictions returns how many predictions mv has served over p.
func (s *Service) Predictions(mv *ModelVersion, p Protocol) uint64 {
	c, ok := s.counts.Load(mv)
	if !ok || p >= numProtocols {
		return 0
	}
	return c.(*versionCounts).n[p].Load()
}

var (
	predictionsDesc = prometheus.NewDesc("taxieta_predictions_total",
		"Trip estimates served, by model name and version and by protocol (rest, batch, stream, v2-rest, v2-grpc, mlflow).",
		[]string{"model", "version", "protocol"}, nil)
	modelInfoDesc = prometheus.NewDesc("taxieta_model_info",
		"Always 1; labels name the model served by default.", []string{"name", "version", "kind", "sha256"}, nil)
	modelLoadedDesc = prometheus.NewDesc("taxieta_model_loaded",
		"1 when a default model is loaded, else 0.", nil, nil)
)

// serviceCollector reports the Service's counts and the default model at
// scrape time, so that a swap shows at once and counting costs the
// predicting path one atomic add.
type serviceCollector struct{ s *Service }

func (c serviceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- predictionsDesc
	ch <- modelInfoDesc
	ch <- modelLoadedDesc
}

func (c serviceCollector) Collect(ch chan<- prometheus.Metric) {
	// Versions reloaded under the same name and version add up to one series.
	type key struct {
		name, version string
		p             Protocol
	}
	sums := map[key]uint64{}
	c.s.counts.Range(func(_, v any) bool {
		vc := v.(*versionCounts)
		for p := range numProtocols {
			if n := vc.n[p].Load(); n > 0 {
				sums[key{vc.mv.Name, vc.mv.Version, p}] += n
			}
		}
		return true
	})
	for k, n := range sums {
		ch <- prometheus.MustNewConstMetric(predictionsDesc, prometheus.CounterValue, float64(n), k.name, k.version, k.p.String())
	}
	loaded := 0.0
	if mv := c.s.models.Default(); mv != nil {
		loaded = 1
		ch <- prometheus.MustNewConstMetric(modelInfoDesc, prometheus.GaugeValue, 1, mv.Name, mv.Version, mv.Artifact.Kind, mv.Artifact.Checksum)
	}
	ch <- prometheus.MustNewConstMetric(modelLoadedDesc, prometheus.GaugeValue, loaded)
}

// Observers combines observers into one that hands each observation to
// every one in turn; nil observers are left out, and none at all is nil.
func Observers(obs ...Observer) Observer {
	var list multiObserver
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return list
}

type multiObserver []Observer

func (m multiObserver) Observe(o Observation) {
	for _, obs := range m {
		obs.Observe(o)
	}
}
