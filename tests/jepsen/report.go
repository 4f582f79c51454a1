package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// leaderKinds are the faults whose time to a new leader is reported when
// they hit the leader: the time from the fault to the first successful
// probe write through the other hosts (Fault.FirstWrite).
var leaderKinds = []string{"kill", "pause", "partition", "stall"}

// RunReport is what one run measured.
type RunReport struct {
	Index       int
	Hosts       int
	Seed        int64
	Duration    time.Duration
	Dir         string
	End         int64
	Ops         []Op
	Faults      []Fault
	FaultCounts map[string]int
	Recovered   bool
	Recovery    time.Duration
	Check       CheckResult
	Errors      []string

	OK, Failed, Unknown  int
	RateQuiet, RateFault float64 // completed operations per second
	QuietTime, FaultTime time.Duration
	NewLeader            map[string][]time.Duration // kind -> time to the first probe write through the others after a fault on the leader
	NoNewLeader          map[string]int             // leader faults healed before any write completed
}

// Passed: no violation, checked in time, recovered, no harness error.
func (r *RunReport) Passed() bool {
	return len(r.Errors) == 0 && r.Recovered && r.Check.Verdict == porcupine.Ok
}

// analyse counts outcomes, rates with and without faults, and the time to
// a new leader after each fault that hit the leader.
func (r *RunReport) analyse() {
	r.NewLeader, r.NoNewLeader = map[string][]time.Duration{}, map[string]int{}
	inFault := func(t int64) bool {
		for _, f := range r.Faults {
			if t >= f.Start && t < f.End {
				return true
			}
		}
		return false
	}
	var faultNs int64
	for _, f := range r.Faults {
		end := f.End
		if end > r.End {
			end = r.End
		}
		if end > f.Start {
			faultNs += end - f.Start
		}
	}
	r.FaultTime = time.Duration(faultNs)
	r.QuietTime = time.Duration(r.End - faultNs)
	var quietOps, faultOps int
	for _, op := range r.Ops {
		switch op.Outcome {
		case Completed:
			r.OK++
			if inFault(op.Return) {
				faultOps++
			} else {
				quietOps++
			}
		case Failed:
			r.Failed++
		case Ambiguous:
			r.Unknown++
		}
	}
	if r.QuietTime > 0 {
		r.RateQuiet = float64(quietOps) / r.QuietTime.Seconds()
	}
	if r.FaultTime > 0 {
		r.RateFault = float64(faultOps) / r.FaultTime.Seconds()
	}
	for _, f := range r.Faults {
		if !f.OnLeader || !contains(leaderKinds, f.Kind) {
			continue
		}
		if f.FirstWrite >= 0 {
			r.NewLeader[f.Kind] = append(r.NewLeader[f.Kind], f.FirstWrite)
		} else {
			r.NoNewLeader[f.Kind]++
		}
	}
}

func faultCounts(m map[string]int) string {
	var parts []string
	total := 0
	for _, k := range nemesisKinds {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
			total += m[k]
		}
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, " "))
}

func durStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n=0"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("n=%d median=%.2fs max=%.2fs", len(s), s[len(s)/2].Seconds(), s[len(s)-1].Seconds())
}

func verdict(r *RunReport) string {
	switch r.Check.Verdict {
	case porcupine.Ok:
		return "yes"
	case porcupine.Illegal:
		if r.Check.VizError != nil {
			return fmt.Sprintf("NO (visualization failed: %v)", r.Check.VizError)
		}
		return "NO, see " + r.Check.VizPath
	case porcupine.Unknown:
		return "UNKNOWN (the checker ran out of time)"
	}
	return "not checked"
}

// Print writes the run's report.
func (r *RunReport) Print(w io.Writer) {
	status := "PASS"
	if !r.Passed() {
		status = "FAIL"
	}
	fmt.Fprintf(w, "run %d: %s hosts=%d seed=%d duration=%v dir=%s\n", r.Index, status, r.Hosts, r.Seed, r.Duration, r.Dir)
	fmt.Fprintf(w, "  ops: ok=%d failed=%d unknown=%d\n", r.OK, r.Failed, r.Unknown)
	fmt.Fprintf(w, "  faults: %s\n", faultCounts(r.FaultCounts))
	for _, f := range r.Faults {
		lead := ""
		if f.OnLeader {
			lead = " (leader)"
		}
		first := "no write through the others succeeded during it"
		if f.FirstWrite >= 0 {
			first = fmt.Sprintf("a write through the others after %.2fs", f.FirstWrite.Seconds())
		}
		fmt.Fprintf(w, "    %6.2fs-%6.2fs %s %s%s: %s\n", float64(f.Start)/1e9, float64(f.End)/1e9, f.Kind, f.Detail, lead, first)
	}
	fmt.Fprintf(w, "  linearizable: %s (%d ops checked in %v)\n", verdict(r), r.Check.Ops, r.Check.Took.Round(time.Millisecond))
	fmt.Fprintf(w, "  availability: %.1f ops/s without faults (%.1fs), %.1f ops/s during faults (%.1fs)\n", r.RateQuiet, r.QuietTime.Seconds(), r.RateFault, r.FaultTime.Seconds())
	for _, k := range leaderKinds {
		if len(r.NewLeader[k])+r.NoNewLeader[k] > 0 {
			fmt.Fprintf(w, "  new leader after %s of the leader: %s", k, durStats(r.NewLeader[k]))
			if r.NoNewLeader[k] > 0 {
				fmt.Fprintf(w, " (%d healed before any write completed)", r.NoNewLeader[k])
			}
			fmt.Fprintln(w)
		}
	}
	if r.Recovered {
		fmt.Fprintf(w, "  recovered: a write %.2fs after healing\n", r.Recovery.Seconds())
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

// printSummary writes the totals over all runs; false when any failed.
func printSummary(w io.Writer, rs []*RunReport) bool {
	counts := map[string]int{}
	newLeader := map[string][]time.Duration{}
	var ok, failed, unknown, passed int
	var quietOps, faultOps, quietT, faultT float64
	var worstRecovery time.Duration
	violations := 0
	for _, r := range rs {
		ok, failed, unknown = ok+r.OK, failed+r.Failed, unknown+r.Unknown
		for k, v := range r.FaultCounts {
			counts[k] += v
		}
		for k, v := range r.NewLeader {
			newLeader[k] = append(newLeader[k], v...)
		}
		quietOps += r.RateQuiet * r.QuietTime.Seconds()
		faultOps += r.RateFault * r.FaultTime.Seconds()
		quietT += r.QuietTime.Seconds()
		faultT += r.FaultTime.Seconds()
		if r.Recovery > worstRecovery {
			worstRecovery = r.Recovery
		}
		if r.Check.Verdict == porcupine.Illegal {
			violations++
		}
		if r.Passed() {
			passed++
		}
	}
	fmt.Fprintf(w, "SUMMARY runs=%d passed=%d violations=%d\n", len(rs), passed, violations)
	fmt.Fprintf(w, "  ops: ok=%d failed=%d unknown=%d\n", ok, failed, unknown)
	fmt.Fprintf(w, "  faults: %s\n", faultCounts(counts))
	lin := "yes"
	for _, r := range rs {
		if r.Check.Verdict != porcupine.Ok {
			lin = fmt.Sprintf("NO (run %d: %s)", r.Index, verdict(r))
			break
		}
	}
	fmt.Fprintf(w, "  linearizable: %s\n", lin)
	if quietT > 0 && faultT > 0 {
		fmt.Fprintf(w, "  availability: %.1f ops/s without faults, %.1f ops/s during faults\n", quietOps/quietT, faultOps/faultT)
	}
	for _, k := range leaderKinds {
		if len(newLeader[k]) > 0 {
			fmt.Fprintf(w, "  new leader (first write) after %s of the leader: %s\n", k, durStats(newLeader[k]))
		}
	}
	fmt.Fprintf(w, "  worst recovery after healing: %.2fs\n", worstRecovery.Seconds())
	return passed == len(rs)
}
