package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store/seed"
)

const seedUsage = `Usage: switchboard bench seed --chats N [--messages M] (--postgres-url URL | --sqlite PATH) [flags]

Fills a database with a large, realistic chat history for benchmarks of the
history list, the chat detail view and search: departments and operators,
then visitors, chats over the past year (completed, missed, reopened, rated,
a few still open) and their messages in English and Japanese, written in
bulk (COPY on PostgreSQL). Use a database of its own: the data is fake and
stays there. It logs its progress (rows/s, ETA) and prints a summary.

  switchboard bench seed --chats 1000000 --messages 20 --postgres-url postgres://postgres@127.0.0.1/sbbench
`

func benchSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		sc         storeConfig
		sqlitePath string
		cfg        seed.Config
	)
	fs := newFlagSet("bench seed", seedUsage, stderr)
	fs.StringVar(&sc.postgresURL, "postgres-url", "", "seed this PostgreSQL database")
	fs.StringVar(&sqlitePath, "sqlite", "", "seed this SQLite database file (created when missing)")
	fs.StringVar(&sc.logFormat, "log-format", "auto", "log format: text, json, or auto (text on a terminal, JSON otherwise)")
	fs.StringVar(&sc.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.IntVar(&cfg.Chats, "chats", 0, "chats to create (required)")
	fs.IntVar(&cfg.Messages, "messages", 20, "messages per chat")
	fs.IntVar(&cfg.Departments, "departments", 5, "departments to create")
	fs.IntVar(&cfg.Operators, "operators", 20, "operators to create (at least --departments)")
	var seedValue uint64
	fs.Uint64Var(&seedValue, "seed", 1, "random seed of the generated text and shape")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see 'switchboard bench seed --help')", fs.Arg(0))
	}
	if (sc.postgresURL == "") == (sqlitePath == "") {
		return errors.New("give exactly one of --postgres-url and --sqlite")
	}
	if cfg.Chats < 1 || cfg.Messages < 1 || cfg.Departments < 1 || cfg.Operators < cfg.Departments {
		return errors.New("--chats and --messages must be at least 1, --departments at least 1, --operators at least --departments")
	}
	cfg.Seed = seedValue
	log, err := sc.logger(stderr)
	if err != nil {
		return err
	}
	cfg.Log = log
	var (
		res   seed.Result
		where string
	)
	if sc.postgresURL != "" {
		where = "postgres " + redactURL(sc.postgresURL)
		res, err = seed.Postgres(ctx, sc.postgresURL, cfg)
	} else {
		where = "sqlite " + sqlitePath
		res, err = seed.SQLite(ctx, sqlitePath, cfg)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nswitchboard bench seed: %s\n\n", where)
	fmt.Fprintf(stdout, "  departments  %d\n  operators    %d\n  visitors     %d\n", len(res.Departments), len(res.Operators), res.Visitors)
	fmt.Fprintf(stdout, "  chats        %d (queued %d, ongoing %d, missed %d, completed %d; reopened %d, rated %d)\n",
		res.Chats, res.ByStatus[switchboard.ChatQueued], res.ByStatus[switchboard.ChatOngoing], res.ByStatus[switchboard.ChatMissed],
		res.ByStatus[switchboard.ChatCompleted], res.Reopened, res.Rated)
	fmt.Fprintf(stdout, "  messages     %d\n  took         %s (%.0f messages/s)\n\n", res.Messages,
		res.Elapsed.Round(time.Second), float64(res.Messages)/res.Elapsed.Seconds())
	return nil
}
