package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/BurntSushi/toml"
)

// Profiles, as `influx config` keeps them: named pairs of a node's URL and
// an API key, one of them active, in $XDG_CONFIG_HOME/dakkio/profiles.toml
// (else ~/.config/dakkio/profiles.toml), mode 0600 since it holds keys.

const configUsage = `Usage:
  dakkio config create NAME --url URL --api-key KEY [--active]
                          save a profile (the first one saved becomes active)
  dakkio config use NAME  make NAME the active profile
  dakkio config list      list the profiles (keys shown by their prefix)
  dakkio config rm NAME   delete a profile

The data-plane commands (bucket, key, source, write, query) use the active
profile unless --profile, DAKKIO_PROFILE, --url/--api-key or
DAKKIO_URL/DAKKIO_API_KEY say otherwise. The file is
$XDG_CONFIG_HOME/dakkio/profiles.toml (else ~/.config/dakkio/profiles.toml),
mode 0600.
`

type profile struct {
	URL    string `toml:"url" json:"url"`
	APIKey string `toml:"api-key" json:"-"`
}

type profileFile struct {
	Active   string             `toml:"active"`
	Profiles map[string]profile `toml:"profiles"`
}

// profilesPath is where the profiles live.
func profilesPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot find the config directory: set XDG_CONFIG_HOME or HOME: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "dakkio", "profiles.toml"), nil
}

// loadProfiles reads the profiles; no file is no profile.
func loadProfiles() (*profileFile, error) {
	pf := &profileFile{Profiles: map[string]profile{}}
	path, err := profilesPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read profiles: %w", err)
	}
	if _, err := toml.Decode(string(b), pf); err != nil {
		return nil, fmt.Errorf("cannot read profiles in %s: %w", path, err)
	}
	if pf.Profiles == nil {
		pf.Profiles = map[string]profile{}
	}
	return pf, nil
}

// save writes the profiles to a new file, mode 0600, then renames it over
// the old one, so a crash never leaves half a file.
func (pf *profileFile) save() error {
	path, err := profilesPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("cannot create the config directory: %w", err)
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(pf); err != nil {
		return fmt.Errorf("cannot encode profiles: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".profiles-*.toml")
	if err != nil {
		return fmt.Errorf("cannot save profiles: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot save profiles: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot save profiles: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot save profiles: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot save profiles: %w", err)
	}
	return nil
}

func configCommand(args []string, stdout, stderr io.Writer) int {
	return dispatch("config", configUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"create": configCreate,
		"use":    configUse,
		"list":   configList,
		"rm":     configRemove,
	}, args, stdout, stderr)
}

// configCmd is a config subcommand: its flags and positional arguments.
func newConfigCmd(name, synopsis string, stdout, stderr io.Writer) *apiCmd {
	a := newAPICmd("config "+name, synopsis, stdout, stderr)
	return a
}

func configCreate(args []string, stdout, stderr io.Writer) int {
	a := newConfigCmd("create", "NAME --url URL --api-key KEY [--active]", stdout, stderr)
	active := a.fs.Bool("active", false, "make it the active profile")
	if code, ok := a.parse(args, "NAME"); !ok {
		return code
	}
	if a.url == "" || a.apiKey == "" {
		return a.usageError("--url and --api-key are required")
	}
	pf, err := loadProfiles()
	if err != nil {
		return a.fail(err)
	}
	name := a.pos[0]
	if _, exists := pf.Profiles[name]; exists {
		fmt.Fprintf(stderr, "error: profile %q exists; remove it first (dakkio config rm %s)\n", name, name)
		return 1
	}
	pf.Profiles[name] = profile{URL: operatorBaseURL(a.url), APIKey: a.apiKey}
	if *active || pf.Active == "" {
		pf.Active = name
	}
	if err := pf.save(); err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, profileView(pf, name))
	}
	fmt.Fprintf(stdout, "saved profile %s (%s)%s\n", name, pf.Profiles[name].URL, activeNote(pf, name))
	return 0
}

func activeNote(pf *profileFile, name string) string {
	if pf.Active == name {
		return ", active"
	}
	return ""
}

// profileView is a profile as list shows it: the key by its prefix only.
func profileView(pf *profileFile, name string) map[string]any {
	p := pf.Profiles[name]
	return map[string]any{"name": name, "url": p.URL, "apiKeyPrefix": keyPrefix(p.APIKey), "active": pf.Active == name}
}

// keyPrefix shows the start of a key, as the API's keyPrefix does.
func keyPrefix(key string) string {
	if len(key) <= 12 {
		return key
	}
	return key[:12] + "…"
}

func configUse(args []string, stdout, stderr io.Writer) int {
	a := newConfigCmd("use", "NAME", stdout, stderr)
	if code, ok := a.parse(args, "NAME"); !ok {
		return code
	}
	pf, err := loadProfiles()
	if err != nil {
		return a.fail(err)
	}
	name := a.pos[0]
	if _, ok := pf.Profiles[name]; !ok {
		fmt.Fprintf(stderr, "error: no profile %q ('dakkio config list' shows them)\n", name)
		return 1
	}
	pf.Active = name
	if err := pf.save(); err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, profileView(pf, name))
	}
	fmt.Fprintf(stdout, "active profile: %s\n", name)
	return 0
}

func configList(args []string, stdout, stderr io.Writer) int {
	a := newConfigCmd("list", "", stdout, stderr)
	if code, ok := a.parse(args); !ok {
		return code
	}
	pf, err := loadProfiles()
	if err != nil {
		return a.fail(err)
	}
	names := slices.Sorted(maps.Keys(pf.Profiles))
	if a.json {
		views := make([]map[string]any, 0, len(names))
		for _, n := range names {
			views = append(views, profileView(pf, n))
		}
		return printEnvelope(stdout, listEnvelope(views))
	}
	var rows [][]string
	for _, n := range names {
		mark := ""
		if pf.Active == n {
			mark = "*"
		}
		rows = append(rows, []string{mark, n, pf.Profiles[n].URL, keyPrefix(pf.Profiles[n].APIKey)})
	}
	table(stdout, []string{"ACTIVE", "NAME", "URL", "API KEY"}, rows)
	return 0
}

func configRemove(args []string, stdout, stderr io.Writer) int {
	a := newConfigCmd("rm", "NAME", stdout, stderr)
	if code, ok := a.parse(args, "NAME"); !ok {
		return code
	}
	pf, err := loadProfiles()
	if err != nil {
		return a.fail(err)
	}
	name := a.pos[0]
	if _, ok := pf.Profiles[name]; !ok {
		fmt.Fprintf(stderr, "error: no profile %q ('dakkio config list' shows them)\n", name)
		return 1
	}
	view := profileView(pf, name)
	delete(pf.Profiles, name)
	if pf.Active == name {
		pf.Active = ""
	}
	if err := pf.save(); err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, view)
	}
	fmt.Fprintf(stdout, "removed profile %s\n", name)
	return 0
}
