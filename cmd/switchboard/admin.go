package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
)

const migrateUsage = `Usage: switchboard migrate [flags]

Applies the database migrations (the server also does this on start) and exits.
`

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c storeConfig
	fs := newFlagSet("migrate", migrateUsage, stderr)
	c.register(fs)
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	st, where, err := c.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "migrations applied: %s\n", where)
	return nil
}

const adminUsage = `Usage:
  switchboard admin create-operator --email E --name N [--password P] [--role admin|supervisor|operator] [--max-chats N]
  switchboard admin reset-password --email E [--password P]

Without --password a password is generated and printed.
`

func admin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create-operator" && args[0] != "reset-password") {
		fmt.Fprint(stderr, adminUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return errors.New("admin: want create-operator or reset-password")
	}
	sub, args := args[0], args[1:]
	var (
		c                           storeConfig
		email, name, password, role string
		maxChats                    int
	)
	fs := newFlagSet("admin "+sub, adminUsage, stderr)
	c.register(fs)
	fs.StringVar(&email, "email", "", "the operator's email (login)")
	fs.StringVar(&password, "password", "", "the password (default: generated and printed)")
	if sub == "create-operator" {
		fs.StringVar(&name, "name", "", "the operator's display name")
		fs.StringVar(&role, "role", "operator", "admin, supervisor or operator")
		fs.IntVar(&maxChats, "max-chats", switchboard.DefaultMaxChats, "chats the operator holds at once")
	}
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if email == "" {
		return errors.New("--email is required")
	}
	generated := password == ""
	if generated {
		password = auth.GeneratePassword()
	}
	if err := switchboard.ValidatePassword(password); err != nil {
		return fmt.Errorf("--%w", err)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	st, _, err := c.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()

	switch sub {
	case "create-operator":
		o := switchboard.Operator{Name: name, Email: email, Role: switchboard.Role(role), MaxChats: maxChats, Enabled: true, PasswordHash: hash}
		o.Normalize()
		if err := o.Validate(); err != nil {
			return fmt.Errorf("--%w", err)
		}
		if err := st.CreateOperator(ctx, &o); err != nil {
			return fmt.Errorf("create operator: %w", err)
		}
		fmt.Fprintf(stdout, "created %s %s (%s), id %s\n", o.Role, o.Email, o.Name, o.ID)
	case "reset-password":
		o, err := st.OperatorByEmail(ctx, email)
		if errors.Is(err, switchboard.ErrNotFound) {
			return fmt.Errorf("no operator with email %q", email)
		} else if err != nil {
			return err
		}
		if _, err := st.UpdateOperator(ctx, o.ID, func(o *switchboard.Operator) error { o.PasswordHash = hash; return nil }); err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
		if err := st.DeleteOperatorSessions(ctx, o.ID, ""); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		fmt.Fprintf(stdout, "password of %s reset; their sessions were ended\n", o.Email)
	}
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", password)
	}
	return nil
}
