package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// setup logs the admin in, creates the bench department and its operators,
// and logs each operator in.
func (r *runner) setup(ctx context.Context) error {
	tok, err := r.login(ctx, r.admin.hc, r.cfg.AdminEmail, r.cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("loadgen: admin login: %w", err)
	}
	r.admin.token = tok
	var dept struct {
		ID        string  `json:"id"`
		WidgetKey *string `json:"widget_key"`
	}
	err = r.admin.call(ctx, "POST", "/api/departments", map[string]any{
		"name": "bench-" + r.runID, "description": "Created by switchboard bench",
		"visibility": "public", "routing": "auto",
	}, &dept)
	if err != nil {
		return fmt.Errorf("loadgen: create department: %w", err)
	}
	if dept.ID == "" || dept.WidgetKey == nil || *dept.WidgetKey == "" {
		return fmt.Errorf("loadgen: the new public department has no widget key (%+v)", dept)
	}
	r.deptID, r.widgetKey = dept.ID, *dept.WidgetKey

	r.operators = make([]*operator, r.cfg.Operators)
	errs := make([]error, len(r.operators))
	sem := make(chan struct{}, 4) // logins hash passwords: a few at a time
	var wg sync.WaitGroup
	for i := range r.operators {
		op := newOperator(r, i+1)
		r.operators[i] = op
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = r.createOperator(ctx, op)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loadgen: operators: %w", err)
	}
	r.log.Info("department and operators created", "department", "bench-"+r.runID, "operators", len(r.operators), "max_chats", r.maxChats)
	return nil
}

func (r *runner) createOperator(ctx context.Context, op *operator) error {
	op.email = fmt.Sprintf("bench-%s-%d@bench.example.com", r.runID, op.n)
	op.password = randomHex(12)
	var created struct {
		ID string `json:"id"`
	}
	err := r.admin.call(ctx, "POST", "/api/operators", map[string]any{
		"name": fmt.Sprintf("Bench operator %d", op.n), "email": op.email, "password": op.password,
		"role": "operator", "max_chats": r.maxChats,
	}, &created)
	if err != nil {
		return fmt.Errorf("create operator %d: %w", op.n, err)
	}
	op.id = created.ID
	if err := r.admin.call(ctx, "PUT", "/api/departments/"+r.deptID+"/operators/"+op.id, nil, nil); err != nil {
		return fmt.Errorf("add operator %d to the department: %w", op.n, err)
	}
	// The API allows ten logins per address at once: on loopback, every
	// eight operators log in from another 127.0.0.x.
	op.hc = r.client(r.sourceFor(op.n, 8, 2))
	if op.token, err = r.login(ctx, op.hc, op.email, op.password); err != nil {
		return fmt.Errorf("operator %d login: %w", op.n, err)
	}
	return nil
}

// login returns a bearer token, waiting out the API's login rate limit.
func (r *runner) login(ctx context.Context, hc *http.Client, email, password string) (string, error) {
	a := &apiClient{base: r.base, hc: hc}
	for attempt := 0; ; attempt++ {
		var out struct {
			Token string `json:"token"`
		}
		err := a.call(ctx, "POST", "/api/login", map[string]string{"email": email, "password": password}, &out)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusTooManyRequests && attempt < 20 {
			wait := max(ae.retryAfter, time.Second)
			r.log.Info("login rate-limited by the server; waiting", "email", email, "wait", wait.String())
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		if err != nil {
			return "", err
		}
		if out.Token == "" {
			return "", errors.New("login answered without a token")
		}
		return out.Token, nil
	}
}

// cleanup disables the bench operators and department (best effort), so a
// run against a real server leaves no login and no widget behind.
func (r *runner) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, op := range r.operators {
		if op.id == "" {
			continue
		}
		if err := r.admin.call(ctx, "PATCH", "/api/operators/"+op.id, map[string]any{"enabled": false}, nil); err != nil {
			r.log.Warn("cleanup: disable operator", "operator", op.email, "err", err)
		}
	}
	if r.deptID != "" {
		if err := r.admin.call(ctx, "PATCH", "/api/departments/"+r.deptID, map[string]any{"enabled": false}, nil); err != nil {
			r.log.Warn("cleanup: disable department", "department", "bench-"+r.runID, "err", err)
		}
	}
	if r.admin.token != "" {
		_ = r.admin.call(ctx, "POST", "/api/logout", nil, nil)
	}
}
