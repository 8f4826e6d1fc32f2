package deploy

import (
	"context"
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

// flagValue returns the value of --name=value or --name value in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// taxietaServices are the services that run the taxieta image, with the
// subcommand each runs (the image's CMD is serve).
var taxietaServices = map[string]string{"train": "train", "app": "serve", "stream": "stream"}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	got := p.ServiceNames()
	want := []string{"app", "mlflow", "nats", "stream", "train"}
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
	for name := range taxietaServices {
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
}

// Every TAXIETA_* variable and --flag a taxieta service sets must be a flag of
// the command it runs: the program ignores a misspelt variable.
func TestComposeConfigurationIsFlags(t *testing.T) {
	p := loadCompose(t)
	for name, command := range taxietaServices {
		t.Run(name, func(t *testing.T) {
			s := service(t, p, name)
			args := []string(s.Command)
			if len(args) > 0 {
				if args[0] != command {
					t.Fatalf("command %q, want %s", args, command)
				}
				args = args[1:]
			}
			flags := flagEnv(t, command)
			for key := range s.Environment {
				if strings.HasPrefix(key, "TAXIETA_") && !flags[key] {
					t.Errorf("%s sets no flag of taxieta %s", key, command)
				}
			}
			for _, a := range args {
				if f, ok := strings.CutPrefix(a, "--"); ok {
					f, _, _ = strings.Cut(f, "=")
					if !flags["TAXIETA_"+strings.ToUpper(strings.ReplaceAll(f, "-", "_"))] {
						t.Errorf("--%s is no flag of taxieta %s", f, command)
					}
				}
			}
		})
	}
}
