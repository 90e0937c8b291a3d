// Package testenv starts the real servers integration tests run against (versitygw for S3,
// dynalite for DynamoDB, the Temporal dev server) on free loopback ports with temporary data folders, and stops them
// when the test ends. A missing tool fails the test: `make tools` installs them.
package testenv

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/devserver"
)

// Tool finds a pinned tool on PATH or in the project's .tools folder.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	root := ModuleRoot(t)
	for _, p := range []string{
		filepath.Join(root, ".tools", "bin", name),
		filepath.Join(root, ".tools", "node_modules", ".bin", name),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s not found on PATH or in .tools/: run `make tools`", name)
	return ""
}

// ModuleRoot is the folder of the module's go.mod, found from the test's working folder.
func ModuleRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's folder")
		}
		dir = parent
	}
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a tool process serving on a loopback port.
type Server struct {
	t    testing.TB
	Addr string // host:port
	args []string
	env  []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd's process has ended
	logs    *lockedBuffer
	crashes []string // the processes that ended without Stop, with what they printed
}

// lockedBuffer collects a process's output while tests may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startServer(t testing.TB, addr string, env []string, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, Addr: addr, args: args, env: env}
	s.Start()
	t.Cleanup(func() {
		s.Stop()
		for _, c := range s.Crashes() {
			t.Log(c)
		}
	})
	return s
}

// Start runs the server and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = &lockedBuffer{}
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.args[0], err)
	}
	s.cmd = cmd
	exited := make(chan struct{})
	s.exited = exited
	go s.watch(cmd, s.logs, exited)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("%s exited before it listened on %s (%v):\n%s", filepath.Base(s.args[0]), s.Addr, cmd.ProcessState, s.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.cmd = nil
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			s.t.Fatalf("%s did not listen on %s within 30s:\n%s", filepath.Base(s.args[0]), s.Addr, s.logs.String())
		}
	}
}

// watch waits for cmd's process to end, and records it as a crash unless Stop ended it.
func (s *Server) watch(cmd *exec.Cmd, logs *lockedBuffer, exited chan struct{}) {
	err := cmd.Wait()
	close(exited) // before the lock: Start holds it while the process comes up
	s.mu.Lock()
	if s.cmd == cmd {
		s.cmd = nil
		s.crashes = append(s.crashes, fmt.Sprintf("%s exited on its own at %s (%v); it printed:\n%s",
			filepath.Base(s.args[0]), time.Now().UTC().Format("15:04:05"), err, logs.String()))
	}
	s.mu.Unlock()
}

// Stop kills the server and waits for it to exit; the data folder stays for a restart.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
}

// Crashes returns, once each, the server's exits that Stop did not cause, with what the
// process printed: a dependency that dies mid-test explains the failures that follow.
func (s *Server) Crashes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.crashes
	s.crashes = nil
	return c
}

// S3 is a versitygw server with a posix backend.
type S3 struct {
	*Server
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
}

// StartS3 starts versitygw on a free port with a temporary data folder.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	root := t.TempDir()
	meta := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	s := &S3{AccessKey: "testaccess", SecretKey: "testsecret-not-a-real-one", Region: "us-east-1"}
	// The internal IAM lets AddUser make accounts besides the root one given here.
	s.Server = startServer(t, addr, nil, Tool(t, "versitygw"),
		"--access", s.AccessKey, "--secret", s.SecretKey, "--port", addr, "--quiet", "--iam-dir", t.TempDir(),
		"posix", "--sidecar", meta, root)
	s.Endpoint = "http://" + addr
	return s
}

// AddUser makes an account with versitygw's "user" role: it may use only the buckets it
// creates, so on the root account's buckets every call it makes is denied.
func (s *S3) AddUser(t testing.TB, access, secret string) {
	t.Helper()
	out, err := exec.Command(Tool(t, "versitygw"), "admin", "--access", s.AccessKey, "--secret", s.SecretKey,
		"--endpoint-url", s.Endpoint, "create-user", "--access", access, "--secret", secret, "--role", "user").CombinedOutput()
	if err != nil {
		t.Fatalf("versitygw admin create-user: %v\n%s", err, out)
	}
}

// DynamoDB is a dynalite server.
type DynamoDB struct {
	*Server
	Endpoint string
}

// StartDynamoDB starts dynalite on a free port, in memory.
func StartDynamoDB(t testing.TB) *DynamoDB {
	t.Helper()
	return startDynamoDB(t)
}

// StartDynamoDBOnDisk starts dynalite on a free port with its tables in a temporary folder, so
// Stop and Start make an outage that loses nothing.
func StartDynamoDBOnDisk(t testing.TB) *DynamoDB {
	t.Helper()
	return startDynamoDB(t, "--path", t.TempDir())
}

func startDynamoDB(t testing.TB, extra ...string) *DynamoDB {
	t.Helper()
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	d := &DynamoDB{Endpoint: "http://" + addr}
	args := append([]string{Tool(t, "dynalite"), "--host", "127.0.0.1", "--port", strconv.Itoa(port)}, extra...)
	d.Server = startServer(t, addr, nil, args...)
	return d
}

// Temporal is a Temporal dev server (the temporal CLI's start-dev), in memory, with the
// pipeline's search attribute registered.
type Temporal struct {
	*devserver.Server
	CLI string // the temporal binary, for tests that drive the CLI
}

// StartTemporal starts a dev server on free ports; it stops when the test ends.
func StartTemporal(t testing.TB) *Temporal {
	t.Helper()
	cli := Tool(t, "temporal")
	for attempt := 1; ; attempt++ {
		logs := &lockedBuffer{}
		srv, err := devserver.Start(context.Background(), devserver.Options{CLI: cli, Port: FreePort(t), UIPort: FreePort(t), LogLevel: "error", Log: logs})
		if err == nil {
			t.Cleanup(srv.Stop)
			return &Temporal{Server: srv, CLI: cli}
		}
		// FreePort's ports are free when picked, not always when the server binds them: a
		// server starting beside it (a dev server opens several ports of its own) may take one.
		if attempt < 3 && errors.Is(err, devserver.ErrExited) && strings.Contains(logs.String(), "address already in use") {
			t.Logf("temporal dev server: a port was taken while it started; starting it on others")
			continue
		}
		t.Fatalf("temporal dev server: %v\n%s", err, logs.String())
	}
}

// Build compiles a package of this module (for example "./worker") and returns the binary.
// Tests in flight at once share one build: linking the worker takes seconds on a small
// machine, and a package's stack tests run in parallel. The binary is removed when the last
// test using it ends.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	b := built[pkg]
	if b == nil {
		dir, err := os.MkdirTemp("", "testenv-build-")
		if err != nil {
			t.Fatal(err)
		}
		b = &binary{path: filepath.Join(dir, filepath.Base(pkg))}
		cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", b.path, pkg) // no DWARF: links faster
		cmd.Dir = ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
		built[pkg] = b
	}
	b.users++
	t.Cleanup(func() {
		builtMu.Lock()
		defer builtMu.Unlock()
		if b.users--; b.users == 0 {
			delete(built, pkg)
			os.RemoveAll(filepath.Dir(b.path))
		}
	})
	return b.path
}

// binary is a build that tests share while any of them runs.
type binary struct {
	path  string
	users int
}

var (
	builtMu sync.Mutex
	built   = map[string]*binary{}
)

// StartProcess runs a binary with extra environment until the test ends; it is ready when it
// listens on addr (for example its metrics endpoint). Stop kills it with SIGKILL.
func StartProcess(t testing.TB, addr string, env []string, args ...string) *Server {
	t.Helper()
	return startServer(t, addr, env, args...)
}

// Name is the server's program.
func (s *Server) Name() string { return s.args[0] }

// PID is the running process's id, or 0 when it is stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Logs returns what the process printed so far.
func (s *Server) Logs() string {
	s.mu.Lock()
	logs := s.logs
	s.mu.Unlock()
	if logs == nil {
		return ""
	}
	return logs.String()
}

// SNS is a goaws server: an SNS and SQS emulator with one topic whose messages are delivered
// raw to one subscribed queue.
type SNS struct {
	*Server
	Endpoint string
	TopicARN string
	Queue    string // the queue's name
	Region   string
}

// StartSNS starts goaws on a free port with the topic "wistia-alerts" and its queue
// "wistia-alerts-queue".
func StartSNS(t testing.TB) *SNS {
	t.Helper()
	port := FreePort(t)
	s := &SNS{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Region: "us-east-1", Queue: "wistia-alerts-queue",
		TopicARN: "arn:aws:sns:us-east-1:100010001000:wistia-alerts"}
	conf := filepath.Join(t.TempDir(), "goaws.yaml")
	yaml := fmt.Sprintf(`Local:
  Host: 127.0.0.1
  Port: %d
  Region: us-east-1
  AccountId: "100010001000"
  QueueAttributeDefaults:
    VisibilityTimeout: 30
    ReceiveMessageWaitTimeSeconds: 0
  Topics:
    - Name: wistia-alerts
      Subscriptions:
        - QueueName: %s
          Raw: true
`, port, s.Queue)
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Server = startServer(t, fmt.Sprintf("127.0.0.1:%d", port), nil, Tool(t, "goaws"), "-config", conf, "Local")
	return s
}

// Receive takes the messages waiting in the topic's queue (deleting them) and returns their
// bodies; none when the queue is empty. goaws speaks SQS's query protocol only, which the
// current SDK no longer does: plain requests.
func (s *SNS) Receive(t testing.TB) []string {
	t.Helper()
	queue := s.Endpoint + "/100010001000/" + s.Queue
	resp, err := http.PostForm(queue, url.Values{"Action": {"ReceiveMessage"}, "MaxNumberOfMessages": {"10"}})
	if err != nil {
		t.Fatalf("receive from %s: %v", s.Queue, err)
	}
	defer resp.Body.Close()
	var out struct {
		Messages []struct {
			Body          string `xml:"Body"`
			ReceiptHandle string `xml:"ReceiptHandle"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("receive from %s: %s", s.Queue, resp.Status)
	}
	if err := xml.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("receive from %s: %v", s.Queue, err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, m.Body)
		del, err := http.PostForm(queue, url.Values{"Action": {"DeleteMessage"}, "ReceiptHandle": {m.ReceiptHandle}})
		if err != nil {
			t.Fatalf("delete from %s: %v", s.Queue, err)
		}
		del.Body.Close()
	}
	return bodies
}
