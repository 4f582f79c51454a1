package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Group is the raft group every node runs (replica id = host id).
const Group = 1

// Node is one kvnode process (one host), restartable on its data dir.
type Node struct {
	id      int
	cluster *Cluster
	dataDir string

	mu         sync.Mutex
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	raftAddr   string
	clientAddr string
	alive      bool
	paused     bool
	exited     chan struct{}
}

// Cluster is N kvnode processes with a Proxy on every directed link.
type Cluster struct {
	bin     string
	dir     string
	certs   string
	n       int
	Nodes   []*Node
	proxies map[[2]int]*Proxy
	logFile *os.File
}

// startCluster makes certificates and proxies, then starts n nodes and
// bootstraps group 1 with all of them.
func startCluster(bin, dir string, n int) (*Cluster, error) {
	c := &Cluster{bin: bin, dir: dir, certs: filepath.Join(dir, "certs"), n: n, proxies: map[[2]int]*Proxy{}}
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i + 1
	}
	if err := writeDevCerts(c.certs, ids); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	lf, err := os.Create(filepath.Join(dir, "nodes.log"))
	if err != nil {
		return nil, err
	}
	c.logFile = lf
	for _, a := range ids {
		for _, b := range ids {
			if a != b {
				p, err := startProxy(a, b)
				if err != nil {
					return nil, err
				}
				c.proxies[[2]int{a, b}] = p
			}
		}
	}
	for _, id := range ids {
		nd := &Node{id: id, cluster: c, dataDir: filepath.Join(dir, fmt.Sprintf("h%d", id))}
		c.Nodes = append(c.Nodes, nd)
	}
	for _, nd := range c.Nodes {
		if err := nd.Start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) node(id int) *Node { return c.Nodes[id-1] }

func (c *Cluster) members() string {
	var m []string
	for i := 1; i <= c.n; i++ {
		m = append(m, fmt.Sprintf("%d=%d", i, i))
	}
	return strings.Join(m, ",")
}

// Start runs the node's process (again, on the same data dir after a
// kill) and starts its replica; the replica recovers from its log when
// the log has the group.
func (nd *Node) Start() error {
	c := nd.cluster
	args := []string{strconv.Itoa(nd.id), "127.0.0.1:0", nd.dataDir, c.certs}
	for j := 1; j <= c.n; j++ {
		if j != nd.id {
			args = append(args, fmt.Sprintf("%d=%s", j, c.proxies[[2]int{nd.id, j}].Addr()))
		}
	}
	args = append(args, "--client", "127.0.0.1:0")
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), "KVNODE_OP_TIMEOUT_MS=1500", "KVNODE_SNAPSHOT_ENTRIES=500")
	cmd.Stderr = c.logFile
	dieWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting node %d: %w", nd.id, err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // answers nobody waits for
			}
		}
		close(lines)
	}()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	next := func() (string, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", fmt.Errorf("node %d exited", nd.id)
			}
			return l, nil
		case <-time.After(30 * time.Second):
			return "", fmt.Errorf("node %d did not answer", nd.id)
		}
	}
	ready, err := next()
	if err != nil || !strings.HasPrefix(ready, "ready ") {
		cmd.Process.Kill()
		return fmt.Errorf("node %d did not start: %q %v", nd.id, ready, err)
	}
	client, err := next()
	if err != nil || !strings.HasPrefix(client, "client ") {
		cmd.Process.Kill()
		return fmt.Errorf("node %d has no client port: %q %v", nd.id, client, err)
	}
	fmt.Fprintf(stdin, "start %d %d bootstrap %s\n", Group, nd.id, c.members())
	if ans, err := next(); err != nil || ans != "ok" {
		cmd.Process.Kill()
		return fmt.Errorf("node %d: start replica: %q %v", nd.id, ans, err)
	}
	nd.mu.Lock()
	nd.cmd, nd.stdin, nd.exited = cmd, stdin, exited
	nd.raftAddr = strings.TrimPrefix(ready, "ready ")
	nd.clientAddr = strings.TrimPrefix(client, "client ")
	nd.alive, nd.paused = true, false
	nd.mu.Unlock()
	for j := 1; j <= c.n; j++ {
		if j != nd.id {
			c.proxies[[2]int{j, nd.id}].SetTarget(nd.raftAddr)
		}
	}
	return nil
}

// ClientAddr is the node's client port, "" while it is down.
func (nd *Node) ClientAddr() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.alive {
		return ""
	}
	return nd.clientAddr
}

// Kill sends SIGKILL and waits for the process to be gone.
func (nd *Node) Kill() {
	nd.mu.Lock()
	cmd, exited, alive := nd.cmd, nd.exited, nd.alive
	nd.alive, nd.paused = false, false
	nd.mu.Unlock()
	if !alive || cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Pause sends SIGSTOP (true) or SIGCONT (false).
func (nd *Node) Pause(stop bool) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.alive || nd.paused == stop {
		return
	}
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	nd.cmd.Process.Signal(sig)
	nd.paused = stop
}

// Ask sends one command on a fresh client connection and returns the
// answer line.
func (nd *Node) Ask(line string, timeout time.Duration) (string, error) {
	addr := nd.ClientAddr()
	if addr == "" {
		return "", fmt.Errorf("node %d is down", nd.id)
	}
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(conn, "%s\n", line); err != nil {
		return "", err
	}
	ans, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(ans), err
}

// Block cuts (or restores) the directed link a -> b.
func (c *Cluster) Block(a, b int, on bool) { c.proxies[[2]int{a, b}].SetBlocked(on) }

// HealNetwork restores every link.
func (c *Cluster) HealNetwork() {
	for _, p := range c.proxies {
		p.SetBlocked(false)
	}
}

// Leader asks every node (that answers within a second) for the group's
// state and returns the host that says it leads with the highest term, or
// 0.
func (c *Cluster) Leader() (leader int, term uint64) {
	type answer struct {
		id   int
		term uint64
		lead bool
	}
	ch := make(chan answer, c.n)
	for _, nd := range c.Nodes {
		go func(nd *Node) {
			a, err := nd.Ask(fmt.Sprintf("info %d", Group), time.Second)
			if err != nil {
				ch <- answer{}
				return
			}
			ch <- answer{nd.id, infoField(a, "term"), strings.Contains(a, "state=leader")}
		}(nd)
	}
	for range c.Nodes {
		a := <-ch
		if a.lead && a.term >= term {
			leader, term = a.id, a.term
		}
	}
	return leader, term
}

// WaitLeader polls until some node leads, or the limit passes.
func (c *Cluster) WaitLeader(limit time.Duration) (int, uint64) {
	end := time.Now().Add(limit)
	for {
		l, t := c.Leader()
		if l != 0 || time.Now().After(end) {
			return l, t
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func infoField(line, name string) uint64 {
	for _, w := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(w, name+"="); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

// Close kills every process and closes the proxies.
func (c *Cluster) Close() {
	for _, nd := range c.Nodes {
		nd.Pause(false)
		nd.Kill()
	}
	for _, p := range c.proxies {
		p.Close()
	}
	if c.logFile != nil {
		c.logFile.Close()
	}
}
