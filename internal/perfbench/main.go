// Command perfbench measures the figures of issue 18 in one run, each beside its
// reference where one exists, through the patchnight binary as a user runs it:
//
//	go run ./internal/perfbench                       every figure (builds the labs once in -dir)
//	go run ./internal/perfbench -only compliance,wol  some of them
//
// compliance: `patchnight report compliance` on a lab of -compliance-hosts machines and
// -compliance-updates updates, against Debian's sqlite3 CLI running the same query text
// (queries/compliance.sql, the same parameters) on the same file; prints both and the
// ratio (patchnight / sqlite3).
//
// wol: `patchnight wol --all --wake-online` on a lab of -wol-hosts machines, unpaced
// (one packet per machine, rates and batches out of the way), end to end (planning from
// SQL, sending), against Debian's wakeonlan given the same MACs in a file, both to
// 127.0.0.1; prints both and the speed-up (wakeonlan time / patchnight time).
//
// demo: `patchnight demo --hosts -demo-hosts --seed 1`: wall and CPU time (client and lab
// share the process) and CPU per host.
//
// The fan-out figures come from the remote benchmark:
//
//	go test -run x -bench FanOut -benchtime 1x -benchmem ./pkg/remote/
//
// Nothing here asserts a time; the machine should be otherwise idle.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/queries"
)

func main() {
	dir := flag.String("dir", filepath.Join(os.TempDir(), "patchnight-perfbench"), "folder for the labs (kept between runs)")
	bin := flag.String("bin", "", "patchnight binary (default: go build ./cmd/patchnight into -dir)")
	only := flag.String("only", "compliance,wol,demo", "figures to measure, comma separated")
	compHosts := flag.Int("compliance-hosts", 50_000, "machines of the compliance lab")
	compUpdates := flag.Int("compliance-updates", 200, "updates of the compliance lab")
	wolHosts := flag.Int("wol-hosts", 20_000, "machines of the wol lab")
	demoHosts := flag.Int("demo-hosts", 2_000, "machines of the demo night")
	port := flag.Int("port", 40019, "UDP port on 127.0.0.1 for the wol comparison")
	flag.Parse()
	if err := run(*dir, *bin, *only, *compHosts, *compUpdates, *wolHosts, *demoHosts, *port); err != nil {
		fmt.Fprintln(os.Stderr, "perfbench:", err)
		os.Exit(1)
	}
}

func run(dir, bin, only string, compHosts, compUpdates, wolHosts, demoHosts, port int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if bin == "" {
		bin = filepath.Join(dir, "patchnight")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/patchnight").CombinedOutput(); err != nil {
			return fmt.Errorf("go build (run from the repository root): %v: %s", err, out)
		}
	}
	want := map[string]bool{}
	for _, f := range strings.Split(only, ",") {
		want[strings.TrimSpace(f)] = true
	}
	if want["compliance"] {
		if err := compliance(dir, bin, compHosts, compUpdates); err != nil {
			return err
		}
	}
	if want["wol"] {
		if err := wake(dir, bin, wolHosts, port); err != nil {
			return err
		}
	}
	if want["demo"] {
		if err := demo(dir, bin, demoHosts); err != nil {
			return err
		}
	}
	return nil
}

// lab builds (once) a lab database of hosts machines and updates updates.
func lab(dir, bin string, hosts, updates int) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("lab-%d-%d.db", hosts, updates))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	fmt.Printf("building %s ...\n", path)
	_, err := timed(bin, "lab", "init", "--db", path, "--hosts", strconv.Itoa(hosts), "--updates", strconv.Itoa(updates), "--seed", "1")
	return path, err
}

// result is one timed run of a command.
type result struct {
	wall, cpu time.Duration
	out       []byte
}

func timed(name string, args ...string) (result, error) {
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{wall: time.Since(start), out: out.Bytes()}
	if cmd.ProcessState != nil {
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return r, fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, errb.String())
	}
	return r, nil
}

func compliance(dir, bin string, hosts, updates int) error {
	path, err := lab(dir, bin, hosts, updates)
	if err != nil {
		return err
	}
	pn, err := timed(bin, "report", "compliance", "--sql", "sqlite:"+path, "-o", "json")
	if err != nil {
		return err
	}
	fmt.Printf("compliance, %d hosts x %d updates: patchnight %.2f s wall (%.2f s CPU)\n", hosts, updates, pn.wall.Seconds(), pn.cpu.Seconds())
	if _, err := exec.LookPath("sqlite3"); err != nil {
		fmt.Println("  sqlite3 is not installed (apt-get install sqlite3): no ratio")
		return nil
	}
	text, err := queries.Get("compliance")
	if err != nil {
		return err
	}
	script := filepath.Join(dir, "compliance-sqlite3.sql")
	params := ".parameter init\n.parameter set @collection ''\n.parameter set @group 0\n.parameter set @article ''\n" +
		".parameter set @bulletin ''\n.parameter set @all 0\n.parameter set @eligible 0\n"
	for i := 1; i <= queries.MaxExcluded; i++ {
		params += ".parameter set @" + queries.ExcludeParam(i) + " ''\n"
	}
	if err := os.WriteFile(script, []byte(params+text+";\n"), 0o644); err != nil {
		return err
	}
	ref, err := timed("sqlite3", "-bail", "-cmd", ".read "+script, path, ".quit")
	if err != nil {
		return err
	}
	fmt.Printf("  sqlite3 (C) on the same file and query: %.2f s wall; ratio patchnight / sqlite3 = %.2f\n",
		ref.wall.Seconds(), pn.wall.Seconds()/ref.wall.Seconds())
	return nil
}

func wake(dir, bin string, hosts, port int) error {
	path, err := lab(dir, bin, hosts, 40)
	if err != nil {
		return err
	}
	pn, err := timed(bin, "wol", "--all", "--wake-online", "--sql", "sqlite:"+path, "--repeat", "1",
		"--rate", "1000000", "--subnet-rate", "1000000", "--batch", "1000000", "--batch-pause", "0",
		"--port", strconv.Itoa(port), "-o", "json")
	if err != nil {
		return err
	}
	var plan struct {
		Subnets []struct {
			Wakes []struct {
				MAC string `json:"mac"`
			} `json:"wakes"`
		} `json:"subnets"`
	}
	if err := json.Unmarshal(pn.out, &plan); err != nil {
		return fmt.Errorf("read the wol plan: %w", err)
	}
	var macs strings.Builder
	n := 0
	for _, s := range plan.Subnets {
		for _, w := range s.Wakes {
			macs.WriteString(w.MAC + "\n")
			n++
		}
	}
	fmt.Printf("wol --all, %d hosts: patchnight %d packets, %.2f s wall end to end (%.2f s CPU)\n", hosts, n, pn.wall.Seconds(), pn.cpu.Seconds())
	if _, err := exec.LookPath("wakeonlan"); err != nil {
		fmt.Println("  wakeonlan is not installed (apt-get install wakeonlan): no ratio")
		return nil
	}
	list := filepath.Join(dir, "macs.txt")
	if err := os.WriteFile(list, []byte(macs.String()), 0o644); err != nil {
		return err
	}
	ref, err := timed("wakeonlan", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-f", list)
	if err != nil {
		return err
	}
	fmt.Printf("  wakeonlan, the same %d MACs: %.2f s wall; speed-up wakeonlan / patchnight = %.2fx\n",
		n, ref.wall.Seconds(), ref.wall.Seconds()/pn.wall.Seconds())
	return nil
}

func demo(dir, bin string, hosts int) error {
	keep := filepath.Join(dir, fmt.Sprintf("demo-%d", hosts))
	if err := os.RemoveAll(keep); err != nil {
		return err
	}
	r, err := timed(bin, "demo", "--hosts", strconv.Itoa(hosts), "--seed", "1", "--keep", keep)
	if err != nil {
		return err
	}
	morning, _ := filepath.Glob(filepath.Join(keep, "patchnight-state", "morning-*.json")) // where demo --keep keeps its journal
	if len(morning) == 0 {
		return errors.New("the demo wrote no morning report")
	}
	fmt.Printf("demo night, %d hosts: %.1f s wall, %.1f s CPU, %.1f ms CPU per host; morning report %s\n",
		hosts, r.wall.Seconds(), r.cpu.Seconds(), 1000*r.cpu.Seconds()/float64(hosts), morning[0])
	return nil
}
