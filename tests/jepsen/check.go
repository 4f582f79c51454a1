package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvModel is a map of string keys with get, put (answers the previous
// value) and compare-and-set, partitioned by key. An absent key reads "".
// A write whose outcome is unknown has its return at the end of time: the
// checker may place it anywhere after its call, or after everything
// (which is the same as never applied).
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(Input).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st, in, out := state.(string), input.(Input), output.(Output)
		switch in.Op {
		case "get":
			return out.Value == st, st
		case "put":
			return out.Unknown || out.Value == st, in.Value
		case "cas":
			if out.Unknown {
				if st == in.Old {
					return true, in.Value
				}
				return true, st
			}
			if out.OK {
				return st == in.Old, in.Value
			}
			return st != in.Old && out.Value == st, st
		}
		return false, st
	},
	Equal: func(a, b interface{}) bool { return a.(string) == b.(string) },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(Input), output.(Output)
		res := out.Value
		if out.Unknown {
			res = "unknown"
		}
		switch in.Op {
		case "get":
			return fmt.Sprintf("get(%s) -> %q", in.Key, res)
		case "put":
			return fmt.Sprintf("put(%s, %s) -> %q", in.Key, in.Value, res)
		default:
			ok := "fail " + res
			if out.OK {
				ok = "ok"
			} else if out.Unknown {
				ok = "unknown"
			}
			return fmt.Sprintf("cas(%s, %s -> %s) -> %s", in.Key, in.Old, in.Value, ok)
		}
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("%q", state.(string)) },
	// The attempts (host, time, answer), shown in the visualization.
	DescribeOperationMetadata: func(info interface{}) string {
		if info == nil {
			return ""
		}
		return info.(string)
	},
}

// CheckResult is the checker's verdict on one run.
type CheckResult struct {
	Verdict  porcupine.CheckResult // Ok, Illegal, or Unknown (the checker ran out of time)
	Ops      int
	Took     time.Duration
	VizPath  string // the visualization, written on a violation
	VizError error
}

// checkHistory checks the completed and ambiguous operations of a run
// (failed ones were certainly not applied and are left out).
func checkHistory(ops []Op, limit time.Duration, vizPath string) CheckResult {
	var hist []porcupine.Operation
	for _, op := range ops {
		switch op.Outcome {
		case Completed:
			hist = append(hist, porcupine.Operation{ClientId: op.Client, Input: op.In, Output: op.Out, Call: op.Call, Return: op.Return, Metadata: strings.Join(op.Tries, " | ")})
		case Ambiguous:
			hist = append(hist, porcupine.Operation{ClientId: op.Client, Input: op.In, Output: op.Out, Call: op.Call, Return: math.MaxInt64 / 2, Metadata: strings.Join(op.Tries, " | ")})
		}
	}
	t0 := time.Now()
	verdict, info := porcupine.CheckOperationsVerbose(kvModel, hist, limit)
	res := CheckResult{Verdict: verdict, Ops: len(hist), Took: time.Since(t0)}
	if verdict == porcupine.Illegal {
		res.VizPath = vizPath
		res.VizError = porcupine.VisualizePath(kvModel, info, vizPath)
	}
	return res
}
