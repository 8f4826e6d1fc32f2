// Package buildinfo tells which taxieta this is, for logs, metrics, the home
// page and the artifacts it trains.
package buildinfo

import "runtime/debug"

// version is stamped at build time:
//
//	go build -ldflags "-X github.com/taxieta/taxieta/internal/buildinfo.version=v1.2.3"
var version string

// Version is the stamped version, else the module version Go recorded
// ("(devel)" for go run and go build in the source tree).
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
