// Command switchboard is the Switchboard live-chat server: one binary that
// serves the operator console, the visitors' widget, the WebSocket protocol
// and the HTTP API.
//
//	switchboard [serve] [flags]     start the server (the default)
//	switchboard migrate [flags]     apply database migrations and exit
//	switchboard admin create-operator --email E --name N [--password P] [--role R]
//	switchboard admin reset-password --email E [--password P]
//	switchboard version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const mainUsage = `Switchboard — a self-hosted live-chat server.

Usage:
  switchboard [serve] [flags]   start the server (default; see 'switchboard serve --help')
  switchboard migrate [flags]   apply database migrations and exit
  switchboard admin create-operator --email E --name N [--password P] [--role admin|supervisor|operator]
  switchboard admin reset-password --email E [--password P]
  switchboard version           print the version
  switchboard bench [flags]     load-test a server and check its guarantees (see 'switchboard bench --help')

With no flags the server keeps everything in ./data (SQLite), listens on
http://127.0.0.1:8080 and prints the first admin's password on its first start.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "switchboard:", err)
			os.Exit(1)
		}
	}
}

// run dispatches a subcommand. It returns flag.ErrHelp after printing help.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd, args = "help", nil
	} else if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, stdout, stderr)
	case "admin":
		return admin(ctx, args, stdout, stderr)
	case "bench":
		return bench(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "switchboard", version)
		return nil
	case "help":
		// The commands, then the flags of the default command.
		fmt.Fprint(stdout, mainUsage+"\n")
		return serve(ctx, []string{"--help"}, stdout, stdout)
	}
	fmt.Fprint(stderr, mainUsage)
	return fmt.Errorf("unknown command %q", cmd)
}
