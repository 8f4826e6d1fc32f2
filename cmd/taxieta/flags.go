package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// newFlagSet returns a flag set whose usage also names each flag's
// environment variable, and which has --help (and -h): asked for, the usage
// goes to stdout and parseFlags returns flag.ErrHelp, which exits 0. A
// mistake on the command line prints the usage on stderr instead.
func newFlagSet(env environment, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: taxieta %s\n\nFlags (each also settable as TAXIETA_<FLAG>; precedence: flag > environment > config file > default):\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			switch {
			case f.Name == "h":
				return
			case isHelp(f):
				fmt.Fprintf(w, "  --help, -h\n      %s\n", f.Usage)
				return
			}
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	fs.Usage = func() { usage(fs.Output()) }
	help := &helpFlag{print: func() { usage(env.stdout) }}
	fs.Var(help, "help", "print this help on stdout and exit")
	fs.Var(help, "h", "print this help on stdout and exit")
	return fs
}

// helpFlag is the --help and -h of every flag set.
type helpFlag struct {
	asked bool
	print func() // writes the usage on stdout
}

func (h *helpFlag) String() string   { return strconv.FormatBool(h != nil && h.asked) }
func (h *helpFlag) IsBoolFlag() bool { return true }

func (h *helpFlag) Set(v string) error {
	b, err := strconv.ParseBool(v)
	h.asked = b
	return err
}

// isHelp reports whether f is --help or -h, which neither the environment
// nor a config file sets.
func isHelp(f *flag.Flag) bool {
	_, ok := f.Value.(*helpFlag)
	return ok
}

// envName is the environment variable of a flag: --data-dir is TAXIETA_DATA_DIR.
func envName(flagName string) string {
	return "TAXIETA_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args into fs, then fills each flag the command line did
// not set from its environment variable, else from the config file named by
// the flag "config" (if fs has one). So precedence is flag > environment >
// config file > default.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if f := fs.Lookup("help"); f != nil {
		if h, ok := f.Value.(*helpFlag); ok && h.asked {
			h.print()
			return flag.ErrHelp
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var file map[string]string
	if cf := fs.Lookup("config"); cf != nil {
		path := cf.Value.String()
		if !set["config"] && getenv(envName("config")) != "" {
			path = getenv(envName("config"))
		}
		if path != "" {
			var err error
			if file, err = readConfigFile(path, fs); err != nil {
				return usageError{err}
			}
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" || isHelp(f) {
			return
		}
		src, v, ok := "environment variable "+envName(f.Name), getenv(envName(f.Name)), false
		if v != "" {
			ok = true
		} else if fv, in := file[f.Name]; in {
			src, v, ok = "config file key "+f.Name, fv, true
		}
		if ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", src, err))
			}
		}
	})
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// readConfigFile reads "name = value" lines (# comments) naming flags of fs.
func readConfigFile(path string, fs *flag.FlagSet) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
		if !ok || k == "" {
			return nil, fmt.Errorf("config file %s line %d: want name = value", path, line)
		}
		if f := fs.Lookup(k); f == nil || k == "config" || isHelp(f) {
			return nil, fmt.Errorf("config file %s line %d: unknown setting %q", path, line, k)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return out, nil
}

// listFlag collects a repeatable flag; commas also separate values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// parseLogLevel parses cmd's --log-level.
func parseLogLevel(cmd, s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return 0, usageError{fmt.Errorf("%s: --log-level %q: want debug, info, warn or error", cmd, s)}
	}
	return level, nil
}
