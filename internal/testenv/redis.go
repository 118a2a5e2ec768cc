package testenv

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis returns the URL of a Redis server, that of SWITCHBOARD_TEST_REDIS_URL
// when set, else a throwaway one shared by the test process, and a random key
// prefix ("test:<random>:") unique to this test. The test must put every key,
// and every pub/sub channel name, under the prefix; keys under it are deleted in
// t.Cleanup. It fails the test when there is no server to be had.
func Redis(t testing.TB) (url, prefix string) {
	t.Helper()
	url = os.Getenv(redisEnv)
	if url == "" {
		srv, err := sharedRedis()
		if err != nil {
			t.Fatalf("testenv: Redis: %v", err)
		}
		url = srv.URL()
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("testenv: %s=%q: %v", redisEnv, url, err)
	}
	prefix = "test:" + randomName() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
		defer cancel()
		if err := deleteKeys(ctx, opts, prefix); err != nil {
			t.Errorf("testenv: delete Redis keys %s*: %v", prefix, err)
		}
	})
	return url, prefix
}

// deleteKeys deletes every key that starts with prefix.
func deleteKeys(ctx context.Context, opts *redis.Options, prefix string) error {
	c := redis.NewClient(opts)
	defer c.Close()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := c.Unlink(ctx, keys[:n]...).Err(); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// sharedRedis starts, once per process, the server behind Redis.
var sharedRedis = sync.OnceValues(func() (*RedisServer, error) { return startRedis(nil) })

// RedisServer is a throwaway Redis server that keeps nothing on disk. It listens
// on 127.0.0.1 only.
type RedisServer struct {
	t    testing.TB // nil for the shared server
	srv  *server
	port int
}

// StartRedis starts a Redis server dedicated to the test, for tests that stop
// and start it; it is removed in t.Cleanup. It never uses
// SWITCHBOARD_TEST_REDIS_URL. It fails the test when the server cannot start.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	s, err := startRedis(t)
	if err != nil {
		t.Fatalf("testenv: Redis: %v", err)
	}
	return s
}

// URL returns the server's URL, redis://127.0.0.1:PORT.
func (s *RedisServer) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) }

// Stop kills the server (SIGKILL) and waits until it is gone; its data is lost.
// Stopping a stopped server does nothing. Call it from the test's goroutine.
func (s *RedisServer) Stop() { s.srv.stop() }

// Start starts a stopped server again, empty, on the same port. Starting a
// running server does nothing. It fails the test when the server does not come
// back; call it from the test's goroutine.
func (s *RedisServer) Start() {
	s.t.Helper()
	if err := s.srv.start(); err != nil {
		s.t.Fatalf("testenv: restart Redis: %v", err)
	}
}

// startRedis starts a server; t, when not nil, removes it in t.Cleanup.
func startRedis(t testing.TB) (*RedisServer, error) {
	bin, err := lookPath("redis-server", redisEnv)
	if err != nil {
		return nil, err
	}
	srv, err := newServer("redis-server")
	if err != nil {
		return nil, err
	}
	if t != nil {
		t.Cleanup(srv.close)
	}
	s := &RedisServer{t: t, srv: srv}
	srv.ready = func(ctx context.Context, pid int) bool {
		return redisPID(ctx, "127.0.0.1:"+strconv.Itoa(s.port)) == pid
	}
	err = startOnFreePorts(1, func(ports []int) error {
		s.port = ports[0]
		srv.argv = []string{bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", srv.dir}
		return srv.start()
	})
	if err != nil {
		if t == nil {
			srv.close()
		}
		return nil, err
	}
	return s, nil
}

// redisPID asks the Redis server at addr for its process id, with a raw INFO
// command: go-redis backs off between failed dials, which would slow startup.
// It returns 0 when there is no answer.
func redisPID(ctx context.Context, addr string) int {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "INFO server\r\n"); err != nil {
		return 0
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "$") {
		return 0 // an error reply such as -LOADING
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return 0
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0
	}
	for line := range bytes.Lines(body) {
		if v, ok := bytes.CutPrefix(line, []byte("process_id:")); ok {
			pid, _ := strconv.Atoi(string(bytes.TrimSpace(v)))
			return pid
		}
	}
	return 0
}
