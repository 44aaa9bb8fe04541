package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Moto is a moto_server child process.
type Moto struct {
	Endpoint string
	cmd      *exec.Cmd
}

// StartMoto runs moto's server on 127.0.0.1:port (port 0 picks a free one)
// and waits until it answers. Its output goes to logPath when given. It runs
// infra/moto/server.py under root (moto's server less its per-request
// directory listing and request log) when python3 can import moto, and the
// moto_server command otherwise.
func StartMoto(ctx context.Context, root string, port int, logPath string) (*Moto, error) {
	launcher := filepath.Join(root, "infra", "moto", "server.py")
	args := []string{launcher}
	bin := "python3"
	if _, err := os.Stat(launcher); err != nil || exec.Command("python3", "-c", "import moto.server").Run() != nil {
		if _, err := exec.LookPath("moto_server"); err != nil {
			return nil, fmt.Errorf("moto_server not found on PATH (it ships with the machine image; `pip install 'moto[server]'` elsewhere): %w", err)
		}
		bin, args = "moto_server", nil
	}
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
	m := &Moto{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
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
