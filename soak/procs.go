package soak

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is one fieldflow process (dev, api or worker) kept running: when it exits, killed or
// failed, it is started again after a short pause, until stop.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  io.Writer

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd exits
	stopping bool
	exits    int
	wg       sync.WaitGroup
}

// exitCount is how many times the process has exited (killed or failed).
func (p *proc) exitCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exits
}

// supervise starts the process and keeps it running until stop.
func (p *proc) supervise() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			p.mu.Lock()
			if p.stopping {
				p.mu.Unlock()
				return
			}
			cmd := exec.Command(p.bin, p.args...)
			cmd.Env = p.env
			cmd.Stdout, cmd.Stderr = p.log, p.log
			// Its own process group: a Ctrl-C at the terminal reaches the driver, which stops the
			// children itself; and killed when the driver dies (a test timing out), so none is left.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			err := cmd.Start()
			exited := make(chan struct{})
			if err == nil {
				p.cmd, p.exited = cmd, exited
			}
			p.mu.Unlock()
			if err != nil {
				fmt.Fprintf(p.log, "soak: start %s: %v\n", p.name, err)
				time.Sleep(time.Second)
				continue
			}
			err = cmd.Wait()
			p.mu.Lock()
			p.exits++
			p.mu.Unlock()
			close(exited)
			fmt.Fprintf(p.log, "soak: %s exited: %v\n", p.name, err)
			time.Sleep(300 * time.Millisecond)
		}
	}()
}

// kill sends SIGKILL to the running process and waits for it to exit; the supervisor starts it
// again.
func (p *proc) kill() error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s did not exit after SIGKILL", p.name)
	}
}

// stop ends supervision and stops the process with sig (SIGTERM for a clean stop), waiting up to
// a minute before SIGKILL.
func (p *proc) stop(sig os.Signal) {
	p.mu.Lock()
	p.stopping = true
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
		}
	}
	p.wg.Wait()
}
