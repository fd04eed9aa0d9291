package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version may be set at build time:
//
//	go build -ldflags "-X main.version=1.2.3" ./cmd/dakkio
//
// otherwise it is the module's version from the build information.
var version = ""

// buildInfo is what 'dakkio version' prints.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified"`
	BuildTime string `json:"buildTime,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Commit: "unknown", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	if bi.Version == "" {
		bi.Version = info.Main.Version
	}
	if info.GoVersion != "" {
		bi.GoVersion = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Commit = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		case "vcs.time":
			bi.BuildTime = s.Value
		}
	}
	if bi.Version == "" {
		bi.Version = "(devel)"
	}
	return bi
}

const versionUsage = `Usage:
  dakkio version [--json]   print the version, the commit and the Go version
  dakkio --version          the same
`

func versionCommand(args []string, stdout, stderr io.Writer) int {
	asJSON := false
	for _, a := range args {
		switch a {
		case "--json", "-json":
			asJSON = true
		case "-h", "--help", "-help":
			fmt.Fprint(stdout, versionUsage)
			return 0
		default:
			fmt.Fprintf(stderr, "dakkio version: unexpected argument %q\n\n%s", a, versionUsage)
			return 2
		}
	}
	bi := readBuildInfo()
	if asJSON {
		return printJSON(stdout, bi)
	}
	commit := bi.Commit
	if bi.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(stdout, "dakkio %s\ncommit %s\n", bi.Version, commit)
	if bi.BuildTime != "" {
		fmt.Fprintf(stdout, "built  %s\n", bi.BuildTime)
	}
	fmt.Fprintf(stdout, "go     %s %s\n", bi.GoVersion, bi.Platform)
	return 0
}
