package registry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/registry"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in      string
		want    registry.Ref
		wantErr string
	}{
		{in: "models:/taxi-duration@champion", want: registry.Ref{Name: "taxi-duration", Alias: "champion"}},
		{in: "models:/taxi-duration/3", want: registry.Ref{Name: "taxi-duration", Version: "3"}},
		{in: "models:/taxi_duration.v2/12", want: registry.Ref{Name: "taxi_duration.v2", Version: "12"}},
		{in: "models:/taxi-duration/latest", want: registry.Ref{Name: "taxi-duration", Version: "latest"}},
		{in: "taxi-duration@champion", wantErr: "want models:/NAME/VERSION"},
		{in: "models:/", wantErr: "name a version"},
		{in: "models:/taxi-duration", wantErr: "name a version (models:/taxi-duration/1)"},
		{in: "models:/taxi-duration/", wantErr: "version \"\""},
		{in: "models:/taxi-duration/0", wantErr: "positive whole number"},
		{in: "models:/taxi-duration/03", wantErr: "positive whole number"},
		{in: "models:/taxi-duration/three", wantErr: "positive whole number"},
		{in: "models:/taxi-duration/1/2", wantErr: "positive whole number"},
		{in: "models:/taxi-duration@", wantErr: "alias \"\""},
		{in: "models:/taxi-duration@v3", wantErr: "reserved"},
		{in: "models:/taxi-duration@latest", wantErr: "reserved"},
		{in: "models:/taxi-duration@a.b", wantErr: "letters, digits"},
		{in: "models:/@champion", wantErr: "model name \"\""},
		{in: "models:/../1", wantErr: "model name \"..\""},
		{in: "models:/a/x/1", wantErr: "version \"x/1\""},
		{in: "models:/.hidden/1", wantErr: "model name"},
		{in: "models:/taxi duration/1", wantErr: "model name"},
		{in: "models:/m-1234@x/1", wantErr: "letters, digits"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := registry.ParseRef(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRef(%q) = %+v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRef(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q; want %q", got.String(), tt.in)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name     string
		flag     string
		env      map[string]string
		want     string
		wantFrom string
	}{
		{"flag wins", "/reg", map[string]string{"TAXIETA_REGISTRY": "/env", "MLFLOW_TRACKING_URI": "http://m"}, "/reg", "--registry"},
		{"TAXIETA_REGISTRY", "", map[string]string{"TAXIETA_REGISTRY": "/env", "MLFLOW_TRACKING_URI": "http://m"}, "/env", "TAXIETA_REGISTRY"},
		{"MLFLOW_TRACKING_URI", "", map[string]string{"MLFLOW_TRACKING_URI": "http://m:5000"}, "http://m:5000", "MLFLOW_TRACKING_URI"},
		{"default under XDG_DATA_HOME", "", map[string]string{"XDG_DATA_HOME": "/data"}, "/data/taxieta/registry", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, from := registry.Select(tt.flag, func(k string) string { return tt.env[k] })
			if got != tt.want || from != tt.wantFrom {
				t.Fatalf("Select = %q from %s; want %q from %s", got, from, tt.want, tt.wantFrom)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		location string
		wantType string
		wantErr  string
	}{
		{location: "http://127.0.0.1:5000", wantType: "*registry.MLflow"},
		{location: "https://mlflow.example/prefix/", wantType: "*registry.MLflow"},
		{location: dir, wantType: "*registry.Local"},
		{location: "file://" + dir, wantType: "*registry.Local"},
		{location: "sqlite:///mlflow.db", wantErr: "over http(s)"},
		{location: "databricks", wantErr: "over http(s)"},
		{location: "http://", wantErr: "want http://HOST"},
		{location: "", wantErr: "no location"},
	}
	for _, tt := range tests {
		t.Run(tt.location, func(t *testing.T) {
			reg, err := registry.Open(tt.location, registry.Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open(%q) = %v, %v; want an error containing %q", tt.location, reg, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(reg); got != tt.wantType {
				t.Fatalf("Open(%q) is a %s; want %s", tt.location, got, tt.wantType)
			}
		})
	}
}

func typeName(r registry.Registry) string {
	switch r.(type) {
	case *registry.Local:
		return "*registry.Local"
	case *registry.MLflow:
		return "*registry.MLflow"
	}
	return "?"
}

func TestCacheKeyKeepsRegistriesApart(t *testing.T) {
	seen := map[string]string{}
	for _, loc := range []string{"http://127.0.0.1:5000", "http://127.0.0.1:5001", "/srv/registry", "/srv/registry/", strings.Repeat("x", 300)} {
		k := registry.CacheKey(loc)
		if prev, dup := seen[k]; dup {
			t.Errorf("CacheKey(%q) = CacheKey(%q) = %s", loc, prev, k)
		}
		seen[k] = loc
		if len(k) > 70 || strings.ContainsAny(k, "/:\\") {
			t.Errorf("CacheKey(%q) = %q: not a short, safe file name", loc, k)
		}
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	errs := []error{registry.ErrNotFound, registry.ErrUnavailable, registry.ErrChecksum}
	for i, a := range errs {
		for j, b := range errs {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, errors.Is(a, b))
			}
		}
	}
}

// FuzzParseRef: any string either fails to parse or round-trips through String.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"models:/taxi-duration@champion", "models:/taxi/3", "models:/taxi/latest", "models:/", "models:/a@b/c", "models:/a/1/2", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := registry.ParseRef(s)
		if err != nil {
			return
		}
		if (r.Alias == "") == (r.Version == "") {
			t.Fatalf("ParseRef(%q) = %+v: want exactly one of version and alias", s, r)
		}
		if r.String() != s {
			t.Fatalf("ParseRef(%q).String() = %q", s, r.String())
		}
		if err := registry.CheckName(r.Name); err != nil {
			t.Fatalf("ParseRef(%q) accepted a bad name: %v", s, err)
		}
	})
}
