package deploy

import (
	"context"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/taxieta/taxieta/internal/httpapi"
	"github.com/taxieta/taxieta/internal/registry"
)

// loadCompose loads compose.yaml as `docker compose` does (schema validation,
// interpolation, merge keys, consistency of references), with an empty
// environment so the file's defaults are what is checked.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "compose.yaml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(nil),
		cli.WithEnvFiles(os.DevNull), // no .env file of the developer
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load compose.yaml: %v", err)
	}
	return p
}

// service returns a service of p, failing the test if there is none.
func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("compose.yaml has no service %q", name)
	}
	return s
}

// env returns a service's environment variable ("" if unset).
func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

// taxietaServices returns the services that run the taxieta image (those
// built from the repository's Dockerfile, and any other with their image),
// each with the command line it runs: subcommand first, the image's CMD
// (serve) when the service sets none.
func taxietaServices(t *testing.T, p *types.Project) map[string][]string {
	t.Helper()
	root := repoRoot(t)
	images := map[string]bool{}
	for _, s := range p.Services {
		if s.Build != nil && s.Build.Context == root && s.Build.Dockerfile == "Dockerfile" {
			images[s.Image] = true
		}
	}
	img := dockerImage(t)
	out := map[string][]string{}
	for name, s := range p.Services {
		if images[s.Image] || (s.Build != nil && s.Build.Context == root) {
			out[name] = img.command(t, s.Entrypoint, s.Command)
		}
	}
	return out
}

// predictingServices are the taxieta services whose command predicts.
func predictingServices(t *testing.T, p *types.Project) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, args := range taxietaServices(t, p) {
		if slices.Contains(predictingCommands, args[0]) {
			out[name] = args
		}
	}
	return out
}

// serviceEnv is a service's environment as its process sees it: the
// service's variables over the image's.
func serviceEnv(t *testing.T, s types.ServiceConfig) func(string) string {
	t.Helper()
	own := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			own[k] = *v
		}
	}
	return getenv(own, dockerImage(t).env)
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	got := p.ServiceNames()
	want := []string{"app", "grafana", "mlflow", "nats", "prometheus", "stream", "train"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	// One network for all, so service names resolve between them.
	for _, name := range want {
		s := service(t, p, name)
		if _, ok := s.Networks["taxieta"]; !ok || len(s.Networks) != 1 {
			t.Errorf("%s: networks %v, want only taxieta", name, s.Networks)
		}
	}
	// The taxieta services build the repository's Dockerfile into one image.
	root := repoRoot(t)
	image := ""
	services := taxietaServices(t, p)
	commands := map[string]string{}
	for name, args := range services {
		commands[name] = args[0]
	}
	if want := map[string]string{"app": "serve", "stream": "stream", "train": "train"}; !maps.Equal(commands, want) {
		t.Errorf("services of the taxieta image run %v, want %v", commands, want)
	}
	for name := range services {
		s := service(t, p, name)
		if s.Build == nil || s.Build.Context != root || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: build %+v, want the Dockerfile at the repository root", name, s.Build)
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if s.Build.Args["VERSION"] == nil {
			t.Errorf("%s: no VERSION build argument (the version stamp)", name)
		}
		if image == "" {
			image = s.Image
		} else if s.Image != image {
			t.Errorf("%s: image %q, want the same image %q as the others", name, s.Image, image)
		}
	}
}

func TestComposePorts(t *testing.T) {
	p := loadCompose(t)
	app := service(t, p, "app")
	listen := addrPort(t, env(app, "TAXIETA_ADDR"))
	tests := []struct {
		service   string
		target    int
		published string
		hostIP    string
	}{
		// As in the README: docker run -p 8000:8000; reachable from other machines.
		{"app", listen, "8000", ""},
		// The registry and the event bus: this machine only.
		{"mlflow", 5000, "5000", "127.0.0.1"},
		{"nats", 4222, "4222", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			ports := service(t, p, tt.service).Ports
			if tt.service == "app" {
				// And the OIP v2 gRPC listener, published as 8001.
				grpcPort := addrPort(t, env(app, "TAXIETA_GRPC_ADDR"))
				if len(ports) != 2 || int(ports[1].Target) != grpcPort || ports[1].Published != "8001" {
					t.Fatalf("ports %+v, want 8000 and the gRPC port %d as 8001", ports, grpcPort)
				}
				ports = ports[:1]
			}
			if len(ports) != 1 {
				t.Fatalf("ports %+v, want one", ports)
			}
			got := ports[0]
			if int(got.Target) != tt.target || got.Published != tt.published || got.HostIP != tt.hostIP {
				t.Errorf("port %s:%s->%d, want %s:%s->%d", got.HostIP, got.Published, got.Target, tt.hostIP, tt.published, tt.target)
			}
		})
	}
	for _, name := range []string{"train", "stream"} {
		if ports := service(t, p, name).Ports; len(ports) != 0 {
			t.Errorf("%s publishes ports %+v; it serves no one outside", name, ports)
		}
	}
}

// healthURL returns the URL a health check's test fetches: the --url of
// `/taxieta healthcheck`, or the http:// argument of another command.
func healthURL(t *testing.T, hc *types.HealthCheckConfig) *url.URL {
	t.Helper()
	if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
		t.Fatalf("health check %+v, want an exec-form CMD test", hc)
	}
	raw, ok := flagValue(hc.Test, "url")
	if !ok {
		for _, a := range hc.Test {
			if i := strings.Index(a, "http://"); i >= 0 {
				raw, _, _ = strings.Cut(a[i:], "'")
			}
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("health check %q: no URL to probe (%v)", hc.Test, err)
	}
	return u
}

func TestComposeHealthChecks(t *testing.T) {
	p := loadCompose(t)
	app, stream := service(t, p, "app"), service(t, p, "stream")
	mlflowPort, _ := flagValue(service(t, p, "mlflow").Command, "port")
	natsHTTP, _ := flagValue(service(t, p, "nats").Command, "http_port")
	tests := []struct {
		service string
		path    string
		port    string
	}{
		{"app", httpapi.PathReadyz, strconv.Itoa(addrPort(t, env(app, "TAXIETA_ADDR")))},
		{"stream", "/metrics", strconv.Itoa(addrPort(t, env(stream, "TAXIETA_METRICS_ADDR")))},
		{"mlflow", "/health", mlflowPort},
		{"nats", "/healthz", natsHTTP},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := service(t, p, tt.service)
			if s.HealthCheck == nil || s.HealthCheck.Disable {
				t.Fatal("no health check")
			}
			u := healthURL(t, s.HealthCheck)
			if u.Path != tt.path || u.Port() != tt.port || u.Hostname() != "127.0.0.1" {
				t.Errorf("probes %s, want 127.0.0.1:%s%s", u, tt.port, tt.path)
			}
			if s.HealthCheck.Interval == nil || s.HealthCheck.Timeout == nil || s.HealthCheck.Retries == nil {
				t.Errorf("health check %+v: want an interval, a timeout and retries", s.HealthCheck)
			}
		})
	}
	// The image's HEALTHCHECK probes /readyz on 8000: a job must turn it off.
	if hc := service(t, p, "train").HealthCheck; hc == nil || !hc.Disable {
		t.Errorf("train: health check %+v, want it disabled (a job serves nothing)", hc)
	}
}

func TestComposeEnvironmentPointsAtServices(t *testing.T) {
	p := loadCompose(t)
	mlflow, train, app := service(t, p, "mlflow"), service(t, p, "train"), service(t, p, "app")
	mlflowPort, _ := flagValue(mlflow.Command, "port")
	allowed, _ := flagValue(mlflow.Command, "allowed-hosts")

	tests := []struct {
		service, key, scheme, host, port string
	}{
		{"app", "TAXIETA_REGISTRY", "http", "mlflow", mlflowPort},
		{"stream", "TAXIETA_REGISTRY", "http", "mlflow", mlflowPort},
		{"train", "TAXIETA_REGISTRY", "http", "mlflow", mlflowPort},
		{"stream", "TAXIETA_NATS", "nats", "nats", "4222"}, // nats-server's client port
	}
	for _, tt := range tests {
		t.Run(tt.service+" "+tt.key, func(t *testing.T) {
			raw := env(service(t, p, tt.service), tt.key)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("%s=%q: %v", tt.key, raw, err)
			}
			if u.Scheme != tt.scheme || u.Hostname() != tt.host || u.Port() != tt.port {
				t.Errorf("%s=%q, want %s://%s:%s", tt.key, raw, tt.scheme, tt.host, tt.port)
			}
			if _, ok := p.Services[u.Hostname()]; !ok {
				t.Errorf("%s=%q names no service", tt.key, raw)
			}
			// MLflow refuses Host headers it does not allow (403).
			if tt.host == "mlflow" && !slices.Contains(strings.Split(allowed, ","), net.JoinHostPort(u.Hostname(), u.Port())) {
				t.Errorf("mlflow --allowed-hosts=%q does not allow %s", allowed, u.Host)
			}
		})
	}
	// The app serves what the train job registers.
	name, _ := flagValue(train.Command, "register")
	alias, _ := flagValue(train.Command, "alias")
	if want := "models:/" + name + "@" + alias; name == "" || alias == "" || env(app, "TAXIETA_MODEL") != want {
		t.Errorf("app TAXIETA_MODEL=%q, want %q (train --register --alias)", env(app, "TAXIETA_MODEL"), want)
	}
	if env(train, "TAXIETA_DATA_DIR") == "" || !slices.ContainsFunc(train.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Target == env(train, "TAXIETA_DATA_DIR") && v.ReadOnly
	}) {
		t.Errorf("train: TAXIETA_DATA_DIR=%q is not a read-only volume %+v", env(train, "TAXIETA_DATA_DIR"), train.Volumes)
	}
}

func TestComposeStartOrder(t *testing.T) {
	p := loadCompose(t)
	tests := []struct {
		service, dependency, condition string
	}{
		{"train", "mlflow", types.ServiceConditionHealthy},
		{"app", "mlflow", types.ServiceConditionHealthy},
		{"app", "train", types.ServiceConditionCompletedSuccessfully},
		{"stream", "nats", types.ServiceConditionHealthy},
		{"stream", "mlflow", types.ServiceConditionHealthy},
		{"stream", "train", types.ServiceConditionCompletedSuccessfully},
	}
	for _, tt := range tests {
		if got := service(t, p, tt.service).DependsOn[tt.dependency].Condition; got != tt.condition {
			t.Errorf("%s depends on %s with condition %q, want %q", tt.service, tt.dependency, got, tt.condition)
		}
	}
	if r := service(t, p, "train").Restart; r != types.RestartPolicyNo {
		t.Errorf("train restart %q, want %q (a job that ran must not run again)", r, types.RestartPolicyNo)
	}
}

func TestComposeStopGracePeriod(t *testing.T) {
	p := loadCompose(t)
	app := service(t, p, "app")
	grace, err := time.ParseDuration(env(app, "TAXIETA_GRACE_PERIOD"))
	if err != nil {
		t.Fatalf("app TAXIETA_GRACE_PERIOD: %v", err)
	}
	var drain time.Duration
	if v := env(app, "TAXIETA_DRAIN_DELAY"); v != "" {
		if drain, err = time.ParseDuration(v); err != nil {
			t.Fatalf("app TAXIETA_DRAIN_DELAY: %v", err)
		}
	}
	if app.StopGracePeriod == nil || time.Duration(*app.StopGracePeriod) <= drain+grace {
		t.Errorf("app stop_grace_period %v, want more than drain %s + grace %s (else SIGKILL cuts requests)", app.StopGracePeriod, drain, grace)
	}
	stream := service(t, p, "stream")
	streamDrain := streamDrain(t, taxietaServices(t, p)["stream"], serviceEnv(t, stream))
	if stream.StopGracePeriod == nil || time.Duration(*stream.StopGracePeriod) <= streamDrain {
		t.Errorf("stream stop_grace_period %v, want more than its longest drain %s (--fetch-wait + 2 × --publish-timeout)", stream.StopGracePeriod, streamDrain)
	}
}

// Every TAXIETA_* variable and --flag a taxieta service sets must be a flag of
// the command it runs: the program ignores a misspelt variable.
func TestComposeConfigurationIsFlags(t *testing.T) {
	p := loadCompose(t)
	for name, args := range taxietaServices(t, p) {
		t.Run(name, func(t *testing.T) {
			s := service(t, p, name)
			command := args[0]
			flags := flagEnv(t, command)
			for key := range s.Environment {
				if strings.HasPrefix(key, "TAXIETA_") && !flags[key] {
					t.Errorf("%s sets no flag of taxieta %s", key, command)
				}
			}
			for _, a := range args[1:] {
				if f, ok := strings.CutPrefix(a, "--"); ok {
					f, _, _ = strings.Cut(f, "=")
					if !flags[envName(f)] {
						t.Errorf("--%s is no flag of taxieta %s", f, command)
					}
				}
			}
		})
	}
}

// Every service that predicts (found by its command, so that a new one is
// not missed) must predict with the champion the train job registers, from
// the registry it registers in, and keep downloaded models in the shared
// cache volume, so that a restart while MLflow is down serves the last copy.
func TestComposePredictorsShareTheChampion(t *testing.T) {
	p := loadCompose(t)
	services := predictingServices(t, p)
	if _, ok := services["app"]; !ok {
		t.Fatalf("predicting services %v: no app", slices.Sorted(maps.Keys(services)))
	}
	if _, ok := services["stream"]; !ok {
		t.Fatalf("predicting services %v: no stream", slices.Sorted(maps.Keys(services)))
	}
	train := service(t, p, "train")
	trainArgs := taxietaServices(t, p)["train"]
	name, _ := flagValue(trainArgs, "register")
	alias, _ := flagValue(trainArgs, "alias")
	if name == "" || alias == "" {
		t.Fatalf("train %q: want --register and --alias", trainArgs)
	}
	trainRegistry := chooseModel(trainArgs, serviceEnv(t, train)).registry
	const champion = "models:/taxi-duration@champion"
	if want := "models:/" + name + "@" + alias; want != champion {
		t.Fatalf("train registers %s, want %s", want, champion)
	}

	for svcName, args := range services {
		t.Run(svcName, func(t *testing.T) {
			s := service(t, p, svcName)
			getenv := serviceEnv(t, s)
			got := chooseModel(args, getenv)
			if got.model != champion {
				t.Errorf("model %q, want %s", got.model, champion)
			}
			if _, err := registry.ParseRef(got.model); err != nil {
				t.Error(err)
			}
			if got.registry != trainRegistry || got.from != "TAXIETA_REGISTRY" {
				t.Errorf("registry %q (from %s), want the train job's %q from TAXIETA_REGISTRY", got.registry, got.from, trainRegistry)
			}
			u, err := url.Parse(got.registry)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("registry %q: want an MLflow http(s) URL", got.registry)
			}
			// The registry must be up, and the champion registered, first.
			if c := s.DependsOn[u.Hostname()].Condition; c != types.ServiceConditionHealthy {
				t.Errorf("depends on the registry %s with condition %q, want %q", u.Hostname(), c, types.ServiceConditionHealthy)
			}
			if c := s.DependsOn["train"].Condition; c != types.ServiceConditionCompletedSuccessfully {
				t.Errorf("depends on train with condition %q, want %q", c, types.ServiceConditionCompletedSuccessfully)
			}
			cache := setting(args, getenv, "cache-dir", "")
			if cache == "" || !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
				return v.Type == types.VolumeTypeVolume && v.Source == "taxieta-cache" && v.Target == cache && !v.ReadOnly
			}) {
				t.Errorf("cache directory %q is not the writable volume taxieta-cache (volumes %+v)", cache, s.Volumes)
			}
		})
	}
}
