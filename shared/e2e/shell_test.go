package e2e

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// shell is one bash a test types README's commands into, one at a time, as
// a reader types them into a terminal: variables set by one command are
// there for the next, and the test can wait for the stack between them.
type shell struct {
	in   io.WriteCloser
	out  *bufio.Reader
	mark string
}

func newShell(t *testing.T, env []string) *shell {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Env = env
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // one stream, in order
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close(); _ = cmd.Wait() })
	return &shell{in: in, out: bufio.NewReader(out), mark: "__end_" + rand.Text() + "__"}
}

// run types line and returns what it printed and its exit status.
func (s *shell) run(t *testing.T, line string) (string, int) {
	t.Helper()
	// The mark goes on a line of its own even after output with no newline.
	if _, err := fmt.Fprintf(s.in, "%s\nprintf '\\n%s %%d\\n' $?\n", line, s.mark); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	var b strings.Builder
	for {
		l, err := s.out.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: the shell ended: %v\n%s", line, err, b.String())
		}
		if rest, ok := strings.CutPrefix(l, s.mark+" "); ok {
			status, _ := strconv.Atoi(strings.TrimSpace(rest))
			return strings.TrimSuffix(b.String(), "\n"), status
		}
		b.WriteString(l)
	}
}
