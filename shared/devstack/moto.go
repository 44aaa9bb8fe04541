package devstack

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Moto is a moto_server child process.
type Moto struct {
	Endpoint string
	Log      string // where its output goes ("" when discarded)
	cmd      *exec.Cmd
}

// StartMoto runs moto's server on 127.0.0.1:port (port 0 picks a free one)
// and waits until it answers. Its output goes to logPath when given. It runs
// infra/moto/server.py under root: moto's server with its per-request costs
// trimmed and two of its gaps closed (stream sequence numbers repeated under
// concurrent writes; a transaction copying whole tables to back itself up).
// The stack relies on both, so plain moto_server is not a fallback.
func StartMoto(ctx context.Context, root string, port int, logPath string) (*Moto, error) {
	launcher := filepath.Join(root, "infra", "moto", "server.py")
	if _, err := os.Stat(launcher); err != nil {
		return nil, err
	}
	if out, err := exec.Command("python3", "-c", "import moto.server").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("python3 cannot import moto (make tools installs it; elsewhere `pip install 'moto[server]'`): %w: %s", err, out)
	}
	bin, args := "python3", []string{launcher}
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	cmd := exec.Command(bin, append(args, "-H", "127.0.0.1", "-p", strconv.Itoa(port))...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &Moto{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Log: logPath, cmd: cmd}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/moto-api/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return m, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			m.Stop()
			return nil, fmt.Errorf("moto_server did not start on port %d: %v", port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends moto_server and its children.
func (m *Moto) Stop() {
	if m == nil || m.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	_ = m.cmd.Wait()
}

// CPUTime is the processor time moto's process has used so far (user and
// system, from /proc), so a benchmark can say how much of a run was moto's.
func (m *Moto) CPUTime() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at ") ";
	// utime and stime are the 14th and 15th fields of the line.
	rest := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	if len(rest) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat line")
	}
	var ticks int64
	for _, f := range rest[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100
