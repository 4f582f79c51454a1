package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/anishathalye/porcupine"
)

func op(client int, in Input, out Output, call, ret int64) Op {
	return Op{Client: client, In: in, Out: out, Call: call, Return: ret, Outcome: Completed}
}

func put(k, v string) Input    { return Input{Op: "put", Key: k, Value: v} }
func cas(k, o, v string) Input { return Input{Op: "cas", Key: k, Old: o, Value: v} }
func get(k string) Input       { return Input{Op: "get", Key: k} }
func unknown(c int, in Input, call int64) Op {
	return Op{Client: c, In: in, Out: Output{Unknown: true}, Call: call, Outcome: Ambiguous}
}

func TestModelAcceptsLinearizableHistories(t *testing.T) {
	h := []Op{
		op(0, put("a", "1"), Output{Value: "", OK: true}, 0, 10),
		op(1, get("a"), Output{Value: "1"}, 11, 20),
		op(0, cas("a", "1", "2"), Output{OK: true}, 21, 30),
		op(1, cas("a", "1", "3"), Output{Value: "2"}, 31, 40),
		// Concurrent: either order.
		op(0, put("b", "x"), Output{OK: true}, 50, 60),
		op(1, get("b"), Output{Value: ""}, 50, 60),
		// A write that timed out may have been applied later...
		unknown(2, put("c", "late"), 70),
		op(0, get("c"), Output{Value: ""}, 80, 90),
		op(1, get("c"), Output{Value: "late"}, 100, 110),
		// ...or never.
		unknown(2, put("d", "never"), 70),
		op(0, get("d"), Output{Value: ""}, 200, 210),
		// Failed operations are left out.
		{Client: 3, In: put("a", "zzz"), Call: 1, Outcome: Failed},
	}
	if r := checkHistory(h, 0, ""); r.Verdict != porcupine.Ok {
		t.Fatalf("verdict %v", r.Verdict)
	}
}

func TestModelFindsViolationsAndWritesTheVisualization(t *testing.T) {
	cases := map[string][]Op{
		"stale read": {
			op(0, put("a", "1"), Output{OK: true}, 0, 10),
			op(1, get("a"), Output{Value: ""}, 20, 30),
		},
		"lost write": {
			op(0, put("a", "1"), Output{OK: true}, 0, 10),
			op(0, put("a", "2"), Output{Value: "1", OK: true}, 20, 30),
			op(1, get("a"), Output{Value: "1"}, 40, 50),
		},
		"cas applied twice": {
			op(0, put("a", "1"), Output{OK: true}, 0, 10),
			op(0, cas("a", "1", "2"), Output{OK: true}, 20, 30),
			op(1, cas("a", "1", "3"), Output{OK: true}, 40, 50),
		},
		"put sees a wrong previous value": {
			op(0, put("a", "1"), Output{OK: true}, 0, 10),
			op(1, put("a", "2"), Output{Value: "", OK: true}, 20, 30),
		},
		"failed cas with the expected value": {
			op(0, put("a", "1"), Output{OK: true}, 0, 10),
			op(1, cas("a", "1", "2"), Output{Value: "1"}, 20, 30),
		},
		"unknown write seen before its call": {
			op(1, get("a"), Output{Value: "x"}, 0, 10),
			unknown(0, put("a", "x"), 20),
		},
	}
	dir := t.TempDir()
	for name, h := range cases {
		path := filepath.Join(dir, "v.html")
		os.Remove(path)
		r := checkHistory(h, 0, path)
		if r.Verdict != porcupine.Illegal {
			t.Errorf("%s: verdict %v", name, r.Verdict)
			continue
		}
		if st, err := os.Stat(path); err != nil || st.Size() == 0 || r.VizError != nil {
			t.Errorf("%s: no visualization: %v %v", name, err, r.VizError)
		}
	}
}

func TestParseWrite(t *testing.T) {
	for _, c := range []struct {
		op, ans string
		out     Output
		ok      bool
	}{
		{"put", "ok", Output{OK: true}, true},
		{"put", "ok v1", Output{Value: "v1", OK: true}, true},
		{"cas", "ok", Output{OK: true}, true},
		{"cas", "fail v2", Output{Value: "v2"}, true},
		{"cas", "fail", Output{}, true},
		{"cas", "err rejected: no leader", Output{}, false},
		{"put", "err timed out (the outcome is unknown)", Output{}, false},
	} {
		out, ok := parseWrite(c.op, c.ans)
		if out != c.out || ok != c.ok {
			t.Errorf("parseWrite(%q, %q) = %+v %v", c.op, c.ans, out, ok)
		}
	}
}
