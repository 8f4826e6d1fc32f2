package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
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

// flagEnv returns the environment variables that set the flags of `taxieta
// command` (TAXIETA_<FLAG>), read from the real binary's --help.
func flagEnv(t *testing.T, command string) map[string]bool {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(taxietaBinary(t), command, "--help")
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	_ = cmd.Run() // --help exits 2
	env := map[string]bool{}
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if m := flagLine.FindStringSubmatch(sc.Text()); m != nil {
			env["TAXIETA_"+strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))] = true
		}
	}
	if len(env) == 0 {
		t.Fatalf("found no flags in `taxieta %s --help`:\n%s", command, stderr.String())
	}
	return env
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
