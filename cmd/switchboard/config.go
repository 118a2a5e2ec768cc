package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/sqlite"
)

// storeConfig is what every subcommand that opens the store needs.
type storeConfig struct {
	dataDir     string
	postgresURL string
	logFormat   string
	logLevel    string
}

func (c *storeConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory of the SQLite database and other local state (single node)")
	fs.StringVar(&c.postgresURL, "postgres-url", "", "PostgreSQL URL (postgres://user:pass@host:5432/db); empty uses SQLite in --data-dir")
	fs.StringVar(&c.logFormat, "log-format", "auto", "log format: text, json, or auto (text on a terminal, JSON otherwise)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

// logger builds the process logger on w.
func (c *storeConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := c.logFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text, json or auto", c.logFormat)
}

// openStore opens (and migrates) PostgreSQL when a URL is given, else the
// SQLite file in the data directory.
func (c *storeConfig) openStore(ctx context.Context, log *slog.Logger) (store.Store, string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if c.postgresURL != "" {
		st, err := postgres.Open(ctx, c.postgresURL, log)
		if err != nil {
			return nil, "", fmt.Errorf("open PostgreSQL: %w", err)
		}
		return st, "postgres " + redactURL(c.postgresURL), nil
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create --data-dir: %w", err)
	}
	path := filepath.Join(c.dataDir, "switchboard.db")
	st, err := sqlite.Open(ctx, path, log)
	if err != nil {
		return nil, "", fmt.Errorf("open SQLite %s: %w", path, err)
	}
	return st, "sqlite " + path, nil
}

// redactURL hides a URL's password for logs.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if user, _, ok := strings.Cut(rest[:at], ":"); ok {
				return s[:i+3] + user + ":***" + rest[at:]
			}
		}
	}
	return s
}
