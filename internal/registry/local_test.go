package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/registry"
)

// twoArtifacts returns two different encoded artifacts: the embedded default
// model, and the same model renamed (so its checksum differs).
func twoArtifacts(t testing.TB) (a, b []byte) {
	t.Helper()
	art, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	a, err = art.Encode()
	if err != nil {
		t.Fatal(err)
	}
	art.Name = "taxi-duration-renamed"
	if b, err = art.Encode(); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func newLocal(t testing.TB, dir string) *registry.Local {
	t.Helper()
	reg, err := registry.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestLocalLifecycle(t *testing.T) {
	ctx := context.Background()
	reg := newLocal(t, t.TempDir())
	a1, a2 := twoArtifacts(t)
	if _, err := reg.Register(ctx, "taxi", []byte("not a model"), registry.RunInfo{}); err == nil {
		t.Fatal("registered bytes that are not an artifact")
	}
	if _, err := reg.Register(ctx, "../escape", a1, registry.RunInfo{}); err == nil {
		t.Fatal("registered under a name that leaves the directory")
	}
	v1, err := reg.Register(ctx, "taxi", a1, registry.RunInfo{Params: map[string]string{"kind": "od"}, Dataset: []byte(`{"training":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != "1" || v1.Name != "taxi" || len(v1.Checksum) != 64 || v1.RunID == "" || v1.CreatedAt.IsZero() {
		t.Fatalf("first version: %+v", v1)
	}
	if err := reg.SetAlias(ctx, "taxi", "champion", "1"); err != nil {
		t.Fatal(err)
	}
	v2, err := reg.Register(ctx, "taxi", a2, registry.RunInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != "2" {
		t.Fatalf("second version is %s", v2.Version)
	}

	resolve := func(ref string) registry.Version {
		t.Helper()
		r, err := registry.ParseRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		v, err := reg.Resolve(ctx, r)
		if err != nil {
			t.Fatalf("resolve %s: %v", ref, err)
		}
		return v
	}
	if v := resolve("models:/taxi@champion"); v.Version != "1" || v.Checksum != v1.Checksum || !slices.Equal(v.Aliases, []string{"champion"}) {
		t.Fatalf("champion resolves to %+v", v)
	}
	if v := resolve("models:/taxi/latest"); v.Version != "2" {
		t.Fatalf("latest resolves to %+v", v)
	}
	if err := reg.SetAlias(ctx, "taxi", "champion", "2"); err != nil {
		t.Fatal(err)
	}
	if v := resolve("models:/taxi@champion"); v.Version != "2" || v.Checksum != v2.Checksum {
		t.Fatalf("after moving the alias, champion resolves to %+v", v)
	}
	b, err := reg.Download(ctx, resolve("models:/taxi/1"))
	if err != nil || !bytes.Equal(b, a1) {
		t.Fatalf("download version 1: %v (same bytes: %v)", err, bytes.Equal(b, a1))
	}
	vs, err := reg.List(ctx, "taxi")
	if err != nil || len(vs) != 2 || vs[0].Version != "1" || vs[1].Version != "2" || len(vs[0].Aliases) != 0 || vs[1].Aliases[0] != "champion" {
		t.Fatalf("List = %+v, %v", vs, err)
	}
	if names, err := reg.Models(ctx); err != nil || !slices.Equal(names, []string{"taxi"}) {
		t.Fatalf("Models = %v, %v", names, err)
	}
	if _, err := os.Stat(filepath.Join(reg.Location(), "taxi", "versions", "1", "dataset.json")); err != nil {
		t.Errorf("the training data fingerprint was not kept: %v", err)
	}

	notFound := []struct {
		name string
		call func() error
	}{
		{"unknown alias", func() error { _, err := reg.Resolve(ctx, registry.Ref{Name: "taxi", Alias: "nope"}); return err }},
		{"unknown version", func() error { _, err := reg.Resolve(ctx, registry.Ref{Name: "taxi", Version: "9"}); return err }},
		{"unknown model", func() error { _, err := reg.Resolve(ctx, registry.Ref{Name: "other", Alias: "champion"}); return err }},
		{"latest of unknown model", func() error { _, err := reg.Resolve(ctx, registry.Ref{Name: "other", Version: "latest"}); return err }},
		{"list unknown model", func() error { _, err := reg.List(ctx, "other"); return err }},
		{"alias to unknown version", func() error { return reg.SetAlias(ctx, "taxi", "champion", "9") }},
		{"download unknown version", func() error { _, err := reg.Download(ctx, registry.Version{Name: "taxi", Version: "9"}); return err }},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("got %v; want ErrNotFound", err)
			}
		})
	}
	if _, err := reg.Download(ctx, registry.Version{Name: "taxi", Version: "1", Checksum: v2.Checksum}); !errors.Is(err, registry.ErrChecksum) {
		t.Fatalf("download with another version's checksum: %v; want ErrChecksum", err)
	}
}

func TestLocalRefusesCorruptArtifacts(t *testing.T) {
	ctx := context.Background()
	a1, a2 := twoArtifacts(t)
	tests := []struct {
		name    string
		corrupt func(b []byte) []byte
	}{
		{"a flipped byte", func(b []byte) []byte { c := slices.Clone(b); c[len(c)/2] ^= 1; return c }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"another valid artifact", func([]byte) []byte { return a2 }},
		{"empty", func([]byte) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newLocal(t, t.TempDir())
			v, err := reg.Register(ctx, "taxi", a1, registry.RunInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(v.Source, tt.corrupt(a1), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Download(ctx, v); !errors.Is(err, registry.ErrChecksum) {
				t.Fatalf("download of a corrupted artifact: %v; want ErrChecksum", err)
			}
		})
	}
}

// checkVersions asserts that name has exactly versions 1..n, each downloadable.
func checkVersions(t *testing.T, reg registry.Registry, name string, n int) {
	t.Helper()
	ctx := context.Background()
	vs, err := reg.List(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != n {
		t.Fatalf("%d versions; want %d", len(vs), n)
	}
	for i, v := range vs {
		if v.Version != strconv.Itoa(i+1) {
			t.Fatalf("version %d is numbered %s", i+1, v.Version)
		}
		if _, err := reg.Download(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLocalConcurrentRegistrations(t *testing.T) {
	reg := newLocal(t, t.TempDir())
	a1, a2 := twoArtifacts(t)
	const workers, each = 4, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				b := a1
				if (w+i)%2 == 1 {
					b = a2
				}
				v, err := reg.Register(context.Background(), "taxi", b, registry.RunInfo{})
				if err != nil {
					errs <- err
					continue
				}
				if err := reg.SetAlias(context.Background(), "taxi", "champion", v.Version); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkVersions(t, reg, "taxi", workers*each)
}

// TestLocalConcurrentProcesses registers from several processes at once
// (this test binary, run again as TestHelperRegister).
func TestLocalConcurrentProcesses(t *testing.T) {
	dir := t.TempDir()
	const procs, each = 2, 4
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range procs {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperRegister$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TAXIETA_TEST_REGISTER_DIR="+dir, "TAXIETA_TEST_REGISTER_N="+strconv.Itoa(each))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	reg := newLocal(t, dir)
	checkVersions(t, reg, "taxi", procs*each)
}

// TestHelperRegister is run as a child process by TestLocalConcurrentProcesses.
func TestHelperRegister(t *testing.T) {
	dir := os.Getenv("TAXIETA_TEST_REGISTER_DIR")
	if dir == "" {
		t.Skip("helper process for TestLocalConcurrentProcesses")
	}
	n, err := strconv.Atoi(os.Getenv("TAXIETA_TEST_REGISTER_N"))
	if err != nil {
		t.Fatal(err)
	}
	reg := newLocal(t, dir)
	a1, _ := twoArtifacts(t)
	for i := range n {
		if _, err := reg.Register(context.Background(), "taxi", a1, registry.RunInfo{RunName: fmt.Sprint(os.Getpid(), "-", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoaderCachesAndVerifies(t *testing.T) {
	ctx := context.Background()
	reg := newLocal(t, t.TempDir())
	a1, _ := twoArtifacts(t)
	v, err := reg.Register(ctx, "taxi", a1, registry.RunInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetAlias(ctx, "taxi", "champion", v.Version); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	l := &registry.Loader{Registry: reg, Dir: cache}
	ref := registry.Ref{Name: "taxi", Alias: "champion"}
	got, err := l.Load(ctx, ref)
	if err != nil || got.FromCache || got.Version.Version != "1" || got.Artifact.Checksum != v.Checksum || !bytes.Equal(got.Bytes, a1) {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	cached := filepath.Join(cache, registry.CacheKey(reg.Location()), "taxi", "1.taxieta")
	if b, err := os.ReadFile(cached); err != nil || !bytes.Equal(b, a1) {
		t.Fatalf("cached copy: %v", err)
	}
	// A damaged cached copy is ignored and replaced by a fresh download.
	if err := os.WriteFile(cached, a1[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err = l.Load(ctx, ref); err != nil || got.Artifact.Checksum != v.Checksum {
		t.Fatalf("Load with a damaged cache = %+v, %v", got, err)
	}
	if b, err := os.ReadFile(cached); err != nil || !bytes.Equal(b, a1) {
		t.Fatalf("the damaged cached copy was not replaced: %v", err)
	}
	if _, err := l.Load(ctx, registry.Ref{Name: "taxi", Alias: "nope"}); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Load of an unknown alias: %v; want ErrNotFound", err)
	}
}

func TestLoaderLoadIfChanged(t *testing.T) {
	ctx := context.Background()
	reg := newLocal(t, t.TempDir())
	a1, a2 := twoArtifacts(t)
	v1, err := reg.Register(ctx, "taxi", a1, registry.RunInfo{})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := reg.Register(ctx, "taxi", a2, registry.RunInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetAlias(ctx, "taxi", "champion", v1.Version); err != nil {
		t.Fatal(err)
	}
	l := &registry.Loader{Registry: reg, Dir: t.TempDir()}
	ref := registry.Ref{Name: "taxi", Alias: "champion"}
	tests := []struct {
		name        string
		moveTo      string
		current     string
		wantVersion string // "" for no change
	}{
		{"nothing served yet", "", "", "1"},
		{"alias unchanged", "", v1.Checksum, ""},
		{"alias moved", v2.Version, v1.Checksum, "2"},
		{"moved and already served", "", v2.Checksum, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.moveTo != "" {
				if err := reg.SetAlias(ctx, "taxi", "champion", tt.moveTo); err != nil {
					t.Fatal(err)
				}
			}
			got, err := l.LoadIfChanged(ctx, ref, tt.current)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantVersion == "" && got != nil:
				t.Fatalf("got version %s; want no change", got.Version.Version)
			case tt.wantVersion != "" && (got == nil || got.Version.Version != tt.wantVersion || got.Artifact == nil):
				t.Fatalf("got %+v; want version %s", got, tt.wantVersion)
			}
		})
	}
}
