package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// helpCase is one command line of the help test.
type helpCase struct {
	path []string // the command and subcommand names
	sub  []string // a group's subcommand names, which its usage lists
}

// helpCases walks the command table: every command, every group and every
// subcommand, so that a new one is tested without touching this file.
func helpCases() []helpCase {
	var cases []helpCase
	var walk func(prefix []string, c command)
	walk = func(prefix []string, c command) {
		path := append(append([]string(nil), prefix...), c.name)
		hc := helpCase{path: path}
		for _, sub := range c.subcommands {
			hc.sub = append(hc.sub, sub.name)
			walk(path, sub)
		}
		cases = append(cases, hc)
	}
	for _, c := range commands() {
		walk(nil, c)
	}
	return cases
}

// runBinary runs the built taxieta with args and returns its exit code and
// output.
func runBinary(t *testing.T, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("taxieta %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errOut.String()
}

// Every command and subcommand answers --help and -h with its usage on
// stdout, nothing on stderr, and exit 0; a flag it does not know still
// fails, with the usage on stderr.
func TestEveryCommandAnswersHelp(t *testing.T) {
	bin := buildBinary(t)
	// No TAXIETA_* variable may leak in from the test's environment.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	cases := helpCases()
	if len(cases) < 10 {
		t.Fatalf("the command table has %d commands and subcommands; want them all", len(cases))
	}
	for _, hc := range cases {
		name := strings.Join(hc.path, " ")
		for _, flag := range []string{"--help", "-h"} {
			t.Run(name+" "+flag, func(t *testing.T) {
				code, stdout, stderr := runBinary(t, bin, env, append(hc.path, flag)...)
				if code != 0 || stderr != "" {
					t.Errorf("exit %d, stderr %q; want 0 and nothing", code, stderr)
				}
				if !strings.Contains(stdout, "Usage") || !strings.Contains(stdout, "taxieta "+name) {
					t.Errorf("stdout does not give the usage of taxieta %s:\n%s", name, stdout)
				}
				for _, sub := range hc.sub {
					if !strings.Contains(stdout, "taxieta "+name+" "+sub) {
						t.Errorf("the usage does not list taxieta %s %s:\n%s", name, sub, stdout)
					}
				}
			})
		}
		if hc.sub != nil {
			continue
		}
		t.Run(name+" --no-such-flag", func(t *testing.T) {
			code, stdout, stderr := runBinary(t, bin, env, append(hc.path, "--no-such-flag")...)
			if code == 0 || stdout != "" || !strings.Contains(stderr, "Usage: taxieta "+name) {
				t.Errorf("exit %d, stdout %q, stderr %q; want a failure with the usage on stderr", code, stdout, stderr)
			}
		})
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, stdout, stderr := runBinary(t, bin, env, args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "taxieta model inspect") || !strings.Contains(stdout, "taxieta data fetch") {
			t.Errorf("taxieta %s: exit %d, stderr %q, stdout:\n%s", args[0], code, stderr, stdout)
		}
	}
	// The environment and config files set flags, but never --help.
	code, stdout, _ := runBinary(t, bin, append(env, "TAXIETA_HELP=1", "TAXIETA_H=1"), "version")
	if code != 0 || !strings.HasPrefix(stdout, "taxieta ") || strings.Contains(stdout, "Usage") {
		t.Errorf("version with TAXIETA_HELP=1: exit %d, stdout %q; want the version", code, stdout)
	}
	// A group without a subcommand is a usage error.
	for _, c := range commands() {
		if c.subcommands == nil {
			continue
		}
		if code, stdout, stderr := runBinary(t, bin, env, c.name); code != 2 || stdout != "" || !strings.Contains(stderr, "want a subcommand") {
			t.Errorf("taxieta %s: exit %d, stdout %q, stderr %q; want 2 and the subcommands on stderr", c.name, code, stdout, stderr)
		}
	}
}
