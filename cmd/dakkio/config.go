package main

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

// A flag of a command takes its value from, first to last: the command line,
// its environment variable (DAKKIO_ and the flag name in upper snake case),
// the config file, its default. The config file's keys are the flag names,
// so a flag added later can be set from the file with nothing more to do.

// configFlag names the flag (and, through envName, the variable) giving the
// config file. It is the one flag the file cannot set.
const configFlag = "config"

// envName is the environment variable read for flag name.
func envName(name string) string {
	return "DAKKIO_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// noteEnvNames appends each flag's environment variable to its help text, so
// that --help lists them all.
func noteEnvNames(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) { f.Usage += " (env " + envName(f.Name) + ")" })
}

// applySources sets every flag of fs that the command line did not set (fs
// is parsed) from its environment variable, else from the config file named
// by --config or DAKKIO_CONFIG, if any. lookupEnv is os.LookupEnv outside tests.
func applySources(fs *flag.FlagSet, lookupEnv func(string) (string, bool)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fromEnv := map[string]bool{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		v, ok := lookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("invalid value %q in %s: %v", v, envName(f.Name), serr)
		}
		fromEnv[f.Name] = true
	})
	if err != nil {
		return err
	}
	cf := fs.Lookup(configFlag)
	if cf == nil || cf.Value.String() == "" {
		return nil
	}
	path := cf.Value.String()
	values, err := readConfigFile(path)
	if err != nil {
		return err
	}
	// Sorted keys: the error named is the same on every run.
	for _, key := range slices.Sorted(maps.Keys(values)) {
		f := fs.Lookup(key)
		if f == nil || key == configFlag {
			return fmt.Errorf("config file %q: unknown key %q%s", path, key, suggest(fs, key))
		}
		if given[key] || fromEnv[key] {
			continue
		}
		text, err := flagText(f, values[key])
		if err != nil {
			return fmt.Errorf("config file %q: key %q: %w", path, key, err)
		}
		if err := fs.Set(key, text); err != nil {
			return fmt.Errorf("config file %q: key %q: invalid value %q: %v", path, key, text, err)
		}
	}
	return nil
}

// suggest names the flag a mistyped key probably meant (underscores for
// hyphens, or a leading "--").
func suggest(fs *flag.FlagSet, key string) string {
	guess := strings.TrimLeft(strings.ReplaceAll(strings.ToLower(key), "_", "-"), "-")
	if guess != key && guess != configFlag && fs.Lookup(guess) != nil {
		return fmt.Sprintf(" (did you mean %q?)", guess)
	}
	return ""
}

// readConfigFile parses a TOML (.toml) or YAML (.yaml, .yml) file of
// top-level keys.
func readConfigFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file: %w", err)
	}
	values := map[string]any{}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".toml":
		if _, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&values); err != nil {
			return nil, fmt.Errorf("config file %q: %w", path, err)
		}
	case ".yaml", ".yml":
		if err := yaml.Unmarshal(b, &values); err != nil {
			return nil, fmt.Errorf("config file %q: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("config file %q: unknown format %q (use .toml, .yaml or .yml)", path, ext)
	}
	return values, nil
}

// flagText turns a value from the config file into the text f.Value.Set
// takes, refusing a value of the wrong type (a string for a number, a
// number for a string) rather than guessing.
func flagText(f *flag.Flag, v any) (string, error) {
	var kind any = ""
	if g, ok := f.Value.(flag.Getter); ok {
		kind = g.Get()
	}
	switch kind.(type) {
	case bool:
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
		return "", wrongType(v, "true or false")
	case int, int64, uint, uint64:
		if i, ok := integer(v); ok {
			return i, nil
		}
		return "", wrongType(v, "an integer")
	case byteSize: // "256MiB" or a number of bytes
		if i, ok := integer(v); ok {
			return i, nil
		}
		if s, ok := v.(string); ok {
			return s, nil
		}
		return "", wrongType(v, "a size such as \"256MiB\" or a number of bytes")
	case float64:
		if i, ok := integer(v); ok {
			return i, nil
		}
		if x, ok := v.(float64); ok {
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
		return "", wrongType(v, "a number")
	case []string:
		if s, ok := v.(string); ok {
			return s, nil
		}
		list, ok := v.([]any)
		if !ok {
			return "", wrongType(v, "a list of strings")
		}
		items := make([]string, len(list))
		for i, item := range list {
			s, ok := item.(string)
			if !ok || strings.Contains(s, ",") {
				return "", fmt.Errorf("item %d: %w", i, wrongType(item, "a string without commas"))
			}
			items[i] = s
		}
		return strings.Join(items, ","), nil
	default: // strings, durations ("10s") and other text
		if s, ok := v.(string); ok {
			return s, nil
		}
		return "", wrongType(v, "a string")
	}
}

func integer(v any) (string, bool) {
	switch i := v.(type) {
	case int:
		return strconv.Itoa(i), true
	case int64:
		return strconv.FormatInt(i, 10), true
	case uint64:
		return strconv.FormatUint(i, 10), true
	case float64: // YAML's 1e3
		if i == math.Trunc(i) && math.Abs(i) < 1<<53 {
			return strconv.FormatInt(int64(i), 10), true
		}
	}
	return "", false
}

func wrongType(v any, want string) error {
	var got string
	switch v.(type) {
	case string:
		got = "a string"
	case bool:
		got = "a boolean"
	case int, int64, uint64, float64:
		got = "a number"
	case []any:
		got = "a list"
	case map[string]any:
		got = "a table"
	case nil:
		got = "nothing"
	default:
		got = fmt.Sprintf("a %T", v)
	}
	return fmt.Errorf("is %s, want %s", got, want)
}

// listFlag is a comma-separated list flag; in the config file it may also
// be written as a list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = nil
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

func (l *listFlag) Get() any { return []string(*l) }
