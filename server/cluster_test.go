package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/cluster"
	clusterredis "github.com/switchboard-chat/switchboard/cluster/redis"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
)

// pgStore opens a fresh PostgreSQL database for one test.
func pgStore(t *testing.T) store.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), testenv.PostgresURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// redisNode joins a cluster node to the Redis server at url under prefix,
// with a short TTL so that tests see a dead node's entries go quickly.
func redisNode(t *testing.T, url, prefix, id string, ttl time.Duration) cluster.Node {
	t.Helper()
	client, err := clusterredis.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	n, err := clusterredis.New(clusterredis.Config{Client: client, Node: id, Prefix: prefix, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(); _ = client.Close() })
	return n
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, n *node) (int, string) {
	t.Helper()
	resp, err := http.Get(n.http.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// TestReadyzRedisOutage: /readyz says 503 with the reason while Redis is
// down, and 200 again once it is back, without a restart.
func TestReadyzRedisOutage(t *testing.T) {
	rs := testenv.StartRedis(t)
	n := newNode(t, pgStore(t), nodeOptions{node: redisNode(t, rs.URL(), "test:readyz:", "a", 2*time.Second)})
	if code, body := readyz(t, n); code != 200 {
		t.Fatalf("readyz with Redis up: %d %s", code, body)
	}
	rs.Stop()
	waitFor(t, 10*time.Second, func() bool {
		code, body := readyz(t, n)
		return code == 503 && strings.Contains(body, "redis")
	})
	rs.Start()
	waitFor(t, 15*time.Second, func() bool { code, _ := readyz(t, n); return code == 200 })
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
