package router_test

import (
	"context"
	"sync"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// faultStore wraps a real store and fails chosen calls, for the error paths
// a real database does not produce on demand.
type faultStore struct {
	backend
	mu    sync.Mutex
	fault map[string]error // method name → error to return (once)
}

func (f *faultStore) failOnce(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fault == nil {
		f.fault = map[string]error{}
	}
	f.fault[method] = err
}

func (f *faultStore) take(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.fault[method]
	delete(f.fault, method)
	return err
}

func (f *faultStore) AssignChat(ctx context.Context, chatID, operatorID string, at time.Time) (switchboard.Chat, error) {
	if err := f.take("AssignChat"); err != nil {
		return switchboard.Chat{}, err
	}
	return f.backend.AssignChat(ctx, chatID, operatorID, at)
}

func (f *faultStore) MissChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error) {
	if err := f.take("MissChat"); err != nil {
		return switchboard.Chat{}, err
	}
	return f.backend.MissChat(ctx, chatID, at)
}

func (f *faultStore) RequeueChat(ctx context.Context, chatID, operatorID string) (switchboard.Chat, error) {
	if err := f.take("RequeueChat"); err != nil {
		return switchboard.Chat{}, err
	}
	return f.backend.RequeueChat(ctx, chatID, operatorID)
}
