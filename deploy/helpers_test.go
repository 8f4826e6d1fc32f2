package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/registry"
)

// repoRoot is the repository root, the parent of this package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

var (
	buildOnce sync.Once
	binPath   string
	binErr    error
	binDir    string
)

// TestMain removes the taxieta binary that flagEnv builds.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// taxietaBinary builds cmd/taxieta once per test run.
func taxietaBinary(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	buildOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "taxieta-deploy-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "taxieta")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/taxieta")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New("go build ./cmd/taxieta: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// flagLine matches a flag in `taxieta COMMAND --help`: "  --name ...".
var flagLine = regexp.MustCompile(`^\s+--([a-z0-9][a-z0-9-]*)\b`)

// defaultSuffix matches the default at the end of a flag's usage line.
var defaultSuffix = regexp.MustCompile(`\(default (.+)\)$`)

// flagDefaults returns the environment variables that set the flags of
// `taxieta command` (TAXIETA_<FLAG>), each with the flag's default ("" if
// none), read from the real binary's --help.
func flagDefaults(t *testing.T, command string) map[string]string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(taxietaBinary(t), append(strings.Fields(command), "--help")...) // "train map"
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	_ = cmd.Run() // --help exits 2
	defaults := map[string]string{}
	last := ""
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if m := flagLine.FindStringSubmatch(sc.Text()); m != nil {
			last = envName(m[1])
			defaults[last] = ""
		} else if m := defaultSuffix.FindStringSubmatch(sc.Text()); m != nil && last != "" {
			defaults[last] = m[1]
		}
	}
	if len(defaults) == 0 {
		t.Fatalf("found no flags in `taxieta %s --help`:\n%s", command, stderr.String())
	}
	return defaults
}

// flagEnv returns the environment variables that set the flags of `taxieta
// command` (TAXIETA_<FLAG>), read from the real binary's --help.
func flagEnv(t *testing.T, command string) map[string]bool {
	t.Helper()
	env := map[string]bool{}
	for k := range flagDefaults(t, command) {
		env[k] = true
	}
	return env
}

// envName is the environment variable of a flag, as the binary names it:
// --data-dir is TAXIETA_DATA_DIR.
func envName(flag string) string {
	return "TAXIETA_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
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

// setting is the value the binary gives a flag: from the command line, else
// from its environment variable if that is not empty, else def.
func setting(args []string, getenv func(string) string, flag, def string) string {
	if v, ok := flagValue(args, flag); ok {
		return v
	}
	if v := getenv(envName(flag)); v != "" {
		return v
	}
	return def
}

// predictingCommands are the taxieta commands that load a model (with
// --model, --registry and --cache-dir) and predict with it.
var predictingCommands = []string{"serve", "stream", "predict"}

// modelChoice is the model a predicting command loads, as the binary
// resolves it from its command line and environment.
type modelChoice struct {
	model    string // --model: a models:/ reference, a file, or "" (embedded)
	registry string // where a models:/ reference is looked up
	from     string // what named the registry: --registry, TAXIETA_REGISTRY...
}

// chooseModel resolves --model and the registry as the binary does (see
// cmd/taxieta modelFlags and registry.Select).
func chooseModel(args []string, getenv func(string) string) modelChoice {
	flag, _ := flagValue(args, "registry")
	loc, from := registry.Select(flag, getenv)
	return modelChoice{model: setting(args, getenv, "model", ""), registry: loc, from: from}
}

// streamDrain is the longest a `taxieta stream` drain takes after SIGTERM:
// the last fetch arrives within --fetch-wait, JetStream stores its outputs
// within --publish-timeout (else they are given up), and the flush of the
// acknowledgements takes up to --publish-timeout again.
func streamDrain(t *testing.T, args []string, getenv func(string) string) time.Duration {
	t.Helper()
	defaults := flagDefaults(t, "stream")
	dur := func(flag string) time.Duration {
		v := setting(args, getenv, flag, defaults[envName(flag)])
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("stream --%s=%q: %v", flag, v, err)
		}
		return d
	}
	return dur("fetch-wait") + 2*dur("publish-timeout")
}

// image is what the Dockerfile's final stage gives every container of the
// taxieta image: its environment and its default command (after the
// ENTRYPOINT, /taxieta).
type image struct {
	env        map[string]string
	entrypoint []string
	cmd        []string
}

// dockerImage reads the ENV, ENTRYPOINT and CMD (exec form) of the
// Dockerfile's final stage.
func dockerImage(t *testing.T) image {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, with continuation lines joined and comments dropped.
	var instrs []string
	cont := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cont += l + " "
			continue
		}
		instrs = append(instrs, cont+line)
		cont = ""
	}
	var img image
	for _, line := range instrs {
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			img = image{env: map[string]string{}}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile ENV %q: want KEY=VALUE", rest)
				}
				img.env[k] = strings.Trim(v, `"`)
			}
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				t.Fatalf("Dockerfile %s %s: want the exec form: %v", instr, rest, err)
			}
			if strings.EqualFold(instr, "CMD") {
				img.cmd = argv
			} else {
				img.entrypoint = argv
			}
		}
	}
	if !slices.Equal(img.entrypoint, []string{"/taxieta"}) || len(img.cmd) == 0 {
		t.Fatalf("Dockerfile: ENTRYPOINT %q CMD %q, want /taxieta and a command", img.entrypoint, img.cmd)
	}
	return img
}

// command is the taxieta command line a container runs (subcommand first),
// given its entrypoint and command overrides (nil: the image's).
func (img image) command(t *testing.T, entrypoint, cmd []string) []string {
	t.Helper()
	if entrypoint != nil && !slices.Equal(entrypoint, img.entrypoint) {
		t.Fatalf("entrypoint %q, want the image's %q", entrypoint, img.entrypoint)
	}
	if len(cmd) == 0 {
		return img.cmd
	}
	return cmd
}

// getenv looks a variable up in the first layer that sets it (a container's
// own environment, then the image's), as the process sees it.
func getenv(layers ...map[string]string) func(string) string {
	return func(key string) string {
		for _, l := range layers {
			if v, ok := l[key]; ok {
				return v
			}
		}
		return ""
	}
}

// addrPort is the port of a host:port listen address.
func addrPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: port %q: %v", addr, p, err)
	}
	return n
}
