// Package testenv gives tests real PostgreSQL, Redis and SMTP (Mailpit) servers.
//
// Each service comes from the environment when its variable is set
// (SWITCHBOARD_TEST_POSTGRES_URL, SWITCHBOARD_TEST_REDIS_URL, and
// SWITCHBOARD_TEST_SMTP_URL with SWITCHBOARD_TEST_MAILPIT_API). Otherwise testenv
// starts a throwaway server from the binaries on PATH, in a temp dir, on free
// loopback ports, the first time a test of the process asks for it. Tests stay
// isolated and may run in parallel: each gets its own database, its own Redis key
// prefix and its own Mailpit.
//
// A package that uses testenv runs its tests through Main, so that the servers
// are stopped and their directories removed when the tests end:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// The servers die with the test process even when it is killed (they get SIGKILL
// when it exits), and the next test process removes directories left behind.
//
// A missing binary fails the test with a message saying how to install it;
// ./scripts/test installs everything.
package testenv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The environment variables that point tests at existing servers.
const (
	postgresEnv   = "SWITCHBOARD_TEST_POSTGRES_URL" // postgres://... of a superuser; each test gets a new database there
	redisEnv      = "SWITCHBOARD_TEST_REDIS_URL"    // redis://...; each test gets a key prefix there
	smtpEnv       = "SWITCHBOARD_TEST_SMTP_URL"     // smtp://host:port of a Mailpit
	mailpitAPIEnv = "SWITCHBOARD_TEST_MAILPIT_API"  // http://host:port of the same Mailpit
)

// startTimeout bounds how long a server may take to answer after it is started.
const startTimeout = 30 * time.Second

// Main runs the package's tests (m.Run) and then stops every throwaway server
// this process started and removes its directory; it exits with m.Run's code.
// Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	registry.Lock()
	all := make([]*server, 0, len(registry.servers))
	for s := range registry.servers {
		all = append(all, s)
	}
	registry.Unlock()
	for _, s := range all {
		s.close()
	}
	os.Exit(code)
}

// registry holds the servers not closed yet, for Main.
var registry = struct {
	sync.Mutex
	servers map[*server]bool
}{servers: map[*server]bool{}}

// errPortTaken means a server could not listen on the port picked for it,
// taken by someone else in the meantime: start again on another.
var errPortTaken = errors.New("port taken")

// server is one throwaway server process and the temp dir that holds its data
// and its log.
type server struct {
	name    string              // binary name, for messages
	dir     string              // removed by close
	cred    *syscall.Credential // run as this user; nil means as ourselves
	stopSig syscall.Signal      // what stop sends first
	argv    []string            // what start runs; set by the owner
	// ready reports whether the server answers, and is the process pid (not
	// someone else's server that holds the port we picked).
	ready func(ctx context.Context, pid int) bool

	mu  sync.Mutex
	cmd *exec.Cmd // nil while stopped
}

// newServer makes the temp dir for a server of the given binary.
func newServer(name string) (*server, error) {
	sweepOnce.Do(sweep)
	dir, err := os.MkdirTemp("", dirPrefix+name+"-")
	if err != nil {
		return nil, err
	}
	// The owner's pid lets sweep tell our directory from a killed process's.
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &server{name: name, dir: dir, stopSig: syscall.SIGKILL}
	registry.Lock()
	registry.servers[s] = true
	registry.Unlock()
	return s, nil
}

func (s *server) logPath() string { return filepath.Join(s.dir, s.name+".log") }

// start runs argv and waits until the server is ready. It returns errPortTaken
// when the server could not listen on its port, and an error holding the tail of
// the server's log when it failed for another reason.
func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	logStart, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig fires when the OS thread that started the child exits. The Go
	// runtime ends a thread only when a goroutine exits while locked to it
	// (runtime.LockOSThread without Unlock); a test that does that could take
	// servers started from that thread down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: s.cred}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	pid := cmd.Process.Pid
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		if exited(pid) {
			cmd.Wait()
			if strings.Contains(strings.ToLower(s.logSince(logStart)), "address already in use") {
				return fmt.Errorf("%s: %w%s", s.name, errPortTaken, s.logTail())
			}
			return fmt.Errorf("%s exited while starting (%s)%s", s.name, cmd.ProcessState, s.logTail())
		}
		if s.ready(ctx, pid) {
			s.cmd = cmd
			return nil
		}
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("%s not ready after %v%s", s.name, startTimeout, s.logTail())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// exited reports whether the child pid has exited, without reaping it, so that
// no goroutine has to sit in cmd.Wait for the life of the server (leak checks in
// other packages' tests would report it).
func exited(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != nil || info.Signo != 0
}

// stop sends stopSig and waits for the process to exit, killing it after 10s.
// Stopping a stopped server does nothing.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	p := s.cmd.Process
	p.Signal(s.stopSig)
	timer := time.AfterFunc(10*time.Second, func() { p.Kill() })
	s.cmd.Wait() // an error is the signal we sent
	timer.Stop()
	s.cmd = nil
}

// close stops the server and removes its directory.
func (s *server) close() {
	s.stop()
	os.RemoveAll(s.dir)
	registry.Lock()
	delete(registry.servers, s)
	registry.Unlock()
}

// logSince returns what the server logged from offset on.
func (s *server) logSince(offset int64) string {
	b, _ := os.ReadFile(s.logPath())
	return string(b[min(offset, int64(len(b))):])
}

// logTail returns the end of the server's log, formatted to end an error message.
func (s *server) logTail() string {
	b, err := os.ReadFile(s.logPath())
	if err != nil || len(b) == 0 {
		return ""
	}
	const max = 3000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return fmt.Sprintf("\n--- end of the %s log ---\n%s", s.name, strings.TrimRight(string(b), "\n"))
}

// startOnFreePorts picks n free loopback ports and calls start with them, again
// with new ports while start reports errPortTaken.
func startOnFreePorts(n int, start func(ports []int) error) error {
	var err error
	for range 5 {
		var ports []int
		if ports, err = freePorts(n); err != nil {
			return err
		}
		if err = start(ports); !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return fmt.Errorf("no free port after 5 tries: %w", err)
}

// freePorts returns n different loopback TCP ports that were free a moment ago.
// The caller must cope with losing one to someone else before it listens there.
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		// Listening on port 0 lets the kernel pick; keeping the listener open
		// until all are picked keeps the ports different.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// serverUser returns whom to run PostgreSQL as: nil (ourselves) unless we are
// root, which initdb and postgres refuse; then the postgres user, or nobody.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
		}
	}
	return nil, errors.New("running as root, and neither user postgres nor nobody exists to run PostgreSQL as")
}

// installHints says how to get each binary testenv runs.
var installHints = map[string]string{
	"initdb":       "apt-get install -y postgresql, then put /usr/lib/postgresql/*/bin on PATH",
	"postgres":     "apt-get install -y postgresql, then put /usr/lib/postgresql/*/bin on PATH",
	"redis-server": "apt-get install -y redis-server",
	"mailpit":      "go install github.com/axllent/mailpit@v1.27.11, then put $(go env GOPATH)/bin on PATH",
}

// lookPath finds a binary on PATH, or where its installer puts it when that is
// not on PATH. Its error says how to install the binary.
func lookPath(name, env string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var dirs []string
	switch name {
	case "initdb", "postgres":
		dirs, _ = filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	case "mailpit":
		gopath := os.Getenv("GOPATH")
		if home, err := os.UserHomeDir(); gopath == "" && err == nil {
			gopath = filepath.Join(home, "go")
		}
		dirs = []string{os.Getenv("GOBIN"), filepath.Join(filepath.SplitList(gopath + ":")[0], "bin")}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); d != "" && err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH: install it with `%s` (./scripts/test installs everything), or set %s",
		name, installHints[name], env)
}

// pgVersion is the major version in /usr/lib/postgresql/VERSION/bin.
func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// randomName returns 16 random lowercase letters and digits.
func randomName() string { return strings.ToLower(rand.Text()[:16]) }

// dirPrefix starts the name of every temp dir testenv makes, for sweep.
const dirPrefix = "switchboard-testenv-"

var sweepOnce sync.Once

// sweep removes the temp dirs of test processes that were killed before Main
// could remove them.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			// Being made right now, or not ours: leave it unless it is old.
			if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(dir)
			}
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err == nil && pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			os.RemoveAll(dir)
		}
	}
}
