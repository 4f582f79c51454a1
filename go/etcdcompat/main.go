// Command etcdcompat runs etcd raft's own public-API tests against
// polyraft, the way a user switching from etcd raft would: it takes etcd
// raft v3.7.0 from the Go module cache (go mod download), copies its
// rafttest package and the tests of node_test.go, rawnode_test.go,
// example_test.go and storage_test.go into a temporary module, points their import of
// go.etcd.io/raft/v3 at polyraft's package, and runs them under the race
// detector and under GOEXPERIMENT=cgocheck2. The same tests run against
// etcd itself first: that is the baseline. Nothing of etcd's code is kept
// in this repository; it is fetched and rewritten at test time.
//
// etcd's node and rawnode tests are internal tests (package raft). Each
// is compiled in a package that dot-imports the implementation; a test
// (or helper) that does not compile against etcd's exported API needs
// etcd's internals, and is left out of both runs, with the internal names
// it uses listed. A few helpers that reach into internals are replaced by
// equivalents over the exported API (shim.go.txt), for both runs alike.
// Any test that compiles against etcd's exported API but not against
// polyraft is an API gap: the run fails.
//
//	go run -tags polyraft_debug ./etcdcompat [-tags polyraft_debug] [-keep]
//
// It exits non-zero when a test fails on polyraft, when example_test.go or
// rafttest does not compile against polyraft, or on an API gap.
package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

const (
	etcdModule  = "go.etcd.io/raft/v3"
	etcdVersion = "v3.7.0"
	polyModule  = "github.com/polyraft/polyraft/go"
)

// testFiles are the files whose tests run; helperFiles only lend helpers
// (their own tests are left out).
var (
	testFiles   = []string{"node_test.go", "rawnode_test.go", "example_test.go", "storage_test.go"}
	helperFiles = []string{"node_util_test.go", "raft_test.go"}
)

//go:embed shim.go.txt
var shim string

// shimmed are etcd declarations that shim.go.txt replaces.
var shimmed = map[string]bool{
	"noLimit": true, "nodeTestHarness": true, "newNodeTestHarness": true,
	"testMemoryStorageOptions": true, "withConf": true,
	"withPeers": true, "withLearners": true, "newTestMemoryStorage": true,
	"isHardStateEqual": true, "readyWithTimeout": true,
}

func main() {
	tags := flag.String("tags", "polyraft_debug", "build tags for polyraft (polyraft_debug links the dev library)")
	keep := flag.Bool("keep", false, "keep the temporary directory")
	flag.Parse()
	if err := run(*tags, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "etcdcompat:", err)
		os.Exit(1)
	}
}

// mode is one run: etcd itself (the baseline) or polyraft.
type mode struct {
	name    string
	impl    string // the import path standing in for go.etcd.io/raft/v3
	tags    string
	dir     string
	pruned  map[string]string // declaration -> why it was left out
	kept    []string          // tests kept
	results map[string]*counts
}

type counts struct{ pass, fail, skip int }

func run(tags string, keep bool) error {
	polyDir, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(polyDir, "go.mod")); err != nil {
		return fmt.Errorf("run from polyraft's go/ directory: %v", err)
	}
	etcdDir, err := download(etcdModule + "@" + etcdVersion)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "etcdcompat-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("temporary directory:", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	modes := []*mode{
		{name: "etcd", impl: etcdModule, dir: filepath.Join(tmp, "etcd")},
		{name: "polyraft", impl: polyModule, tags: tags, dir: filepath.Join(tmp, "polyraft")},
	}
	for _, m := range modes {
		if err := m.prepare(etcdDir, polyDir); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	var problems []string
	base, poly := modes[0], modes[1]
	// Tests that compile on etcd's exported API must compile on polyraft.
	for name, why := range poly.pruned {
		if _, ok := base.pruned[name]; !ok {
			problems = append(problems, fmt.Sprintf("API gap: %s compiles against etcd but not polyraft: %s", name, why))
		}
	}
	for name := range poly.pruned {
		if strings.HasPrefix(name, "example_test.go:") {
			problems = append(problems, "example_test.go does not compile against polyraft: "+name)
		}
	}
	runs := []struct {
		m     *mode
		label string
		env   []string
		race  bool
	}{
		{base, "etcd -race", nil, true},
		{poly, "polyraft -race", nil, true},
		{poly, "polyraft GOEXPERIMENT=cgocheck2", []string{"GOEXPERIMENT=cgocheck2"}, false},
	}
	report := map[string]map[string]*counts{}
	var failures []string
	for _, r := range runs {
		res, failed, err := r.m.test(r.env, r.race)
		if err != nil {
			return fmt.Errorf("%s: %w", r.label, err)
		}
		report[r.label] = res
		if r.m == poly {
			for _, f := range failed {
				failures = append(failures, r.label+": "+f)
			}
		}
	}
	printReport(base, poly, report, runs[0].label, runs[1].label, runs[2].label)
	sort.Strings(problems)
	for _, p := range problems {
		fmt.Println("PROBLEM:", p)
	}
	for _, f := range failures {
		fmt.Println("FAILED:", f)
	}
	if len(problems) > 0 || len(failures) > 0 {
		return fmt.Errorf("%d problems, %d failed tests on polyraft", len(problems), len(failures))
	}
	return nil
}

// download returns the module cache directory of a module version.
func download(modVer string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", modVer).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %v", modVer, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", modVer, info.Error)
	}
	return info.Dir, nil
}

// prepare writes the module of one mode: rafttest (whole, its import
// rewritten) and raftapi (the selected tests, pruned of what needs
// internals).
func (m *mode) prepare(etcdDir, polyDir string) error {
	if err := os.MkdirAll(filepath.Join(m.dir, "rafttest"), 0o755); err != nil {
		return err
	}
	gomod := fmt.Sprintf("module etcdcompat.test\n\ngo 1.26\n\nrequire %s %s\n", etcdModule, etcdVersion)
	if m.impl == polyModule {
		gomod += fmt.Sprintf("\nrequire %s v0.0.0\n\nreplace %s => %s\n", polyModule, polyModule, polyDir)
	}
	if err := os.WriteFile(filepath.Join(m.dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	// rafttest: every file, the raft import pointed at the implementation.
	ents, err := os.ReadDir(filepath.Join(etcdDir, "rafttest"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(etcdDir, "rafttest", e.Name()))
		if err != nil {
			return err
		}
		b = rewriteImport(b, m.impl)
		if err := os.WriteFile(filepath.Join(m.dir, "rafttest", e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	// raftapi: written once so that go mod tidy sees its imports, then
	// pruned and written again.
	src, err := loadSources(etcdDir)
	if err != nil {
		return err
	}
	if err := src.write(m); err != nil {
		return err
	}
	tidy := exec.Command("go", "mod", "tidy")
	tidy.Dir = m.dir
	if out, err := tidy.CombinedOutput(); err != nil {
		return fmt.Errorf("go mod tidy: %v\n%s", err, out)
	}
	m.pruned, err = src.prune(m)
	if err != nil {
		return err
	}
	m.kept = src.tests()
	return src.write(m)
}

// rewriteImport points a file's import of etcd's root package at impl.
func rewriteImport(b []byte, impl string) []byte {
	if impl == etcdModule {
		return b
	}
	re := regexp.MustCompile(`(?m)^(\s*)(raft\s+)?"` + regexp.QuoteMeta(etcdModule) + `"`)
	return re.ReplaceAll(b, []byte(`${1}raft "`+impl+`"`))
}

// decl is one top-level declaration of a source file, as its text.
type decl struct {
	name string // file:Name (methods: file:Recv.Name)
	text string
	test bool // a Test function of a test file
	drop bool
}

// file is a source file taken apart: imports and declarations.
type file struct {
	name    string
	imports []string // import specs as text (name and path)
	decls   []*decl
}

type sources struct{ files []*file }

func loadSources(etcdDir string) (*sources, error) {
	s := &sources{}
	for _, n := range append(append([]string{}, testFiles...), helperFiles...) {
		b, err := os.ReadFile(filepath.Join(etcdDir, n))
		if err != nil {
			return nil, err
		}
		f, err := split(n, b, contains(testFiles, n))
		if err != nil {
			return nil, err
		}
		s.files = append(s.files, f)
	}
	f, err := split("shim.go", []byte(shim), false)
	if err != nil {
		return nil, err
	}
	s.files = append(s.files, f)
	return s, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// split parses a file into imports and declarations. In helper files the
// tests are dropped; everywhere, declarations the shim replaces are.
func split(name string, b []byte, testFile bool) (*file, error) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, name, b, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	f := &file{name: name}
	text := func(from, to token.Pos) string {
		return string(b[fset.Position(from).Offset:fset.Position(to).Offset])
	}
	for _, is := range af.Imports {
		f.imports = append(f.imports, text(is.Pos(), is.End()))
	}
	for _, d := range af.Decls {
		start := d.Pos()
		var names []string
		isTest := false
		switch d := d.(type) {
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				continue
			}
			if d.Doc != nil {
				start = d.Doc.Pos()
			}
			for _, sp := range d.Specs {
				switch sp := sp.(type) {
				case *ast.TypeSpec:
					names = append(names, sp.Name.Name)
				case *ast.ValueSpec:
					for _, n := range sp.Names {
						names = append(names, n.Name)
					}
				}
			}
		case *ast.FuncDecl:
			if d.Doc != nil {
				start = d.Doc.Pos()
			}
			n := d.Name.Name
			if d.Recv != nil && len(d.Recv.List) > 0 {
				n = recvName(d.Recv.List[0].Type) + "." + n
			} else {
				isTest = strings.HasPrefix(n, "Test") || strings.HasPrefix(n, "Example") || strings.HasPrefix(n, "Benchmark")
			}
			names = append(names, n)
		}
		if name != "shim.go" && anyShimmed(names) {
			continue
		}
		if isTest && !testFile {
			continue
		}
		f.decls = append(f.decls, &decl{name: name + ":" + strings.Join(names, ","), text: text(start, d.End()), test: isTest})
	}
	return f, nil
}

func anyShimmed(names []string) bool {
	for _, n := range names {
		if shimmed[n] {
			return true
		}
	}
	return false
}

func recvName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return recvName(e.X)
	case *ast.Ident:
		return e.Name
	case *ast.IndexExpr:
		return recvName(e.X)
	}
	return "?"
}

// tests lists the Test and Example functions kept.
func (s *sources) tests() []string {
	var out []string
	for _, f := range s.files {
		for _, d := range f.decls {
			if d.test && !d.drop {
				out = append(out, d.name)
			}
		}
	}
	return out
}

// write writes raftapi: each file with the implementation dot-imported.
func (s *sources) write(m *mode) error {
	dir := filepath.Join(m.dir, "raftapi")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range s.files {
		var b bytes.Buffer
		b.WriteString("package raft\n\nimport (\n")
		fmt.Fprintf(&b, "\t. %q\n", m.impl)
		for _, is := range f.imports {
			if is != "" {
				b.WriteString("\t" + is + "\n")
			}
		}
		b.WriteString(")\n\n")
		// Keeps the dot import used in every file.
		b.WriteString("var _ = IsEmptySnap\n\n")
		for _, d := range f.decls {
			if !d.drop {
				b.WriteString(d.text + "\n\n")
			}
		}
		name := strings.TrimSuffix(f.name, ".go") + "_test.go"
		if strings.HasSuffix(f.name, "_test.go") {
			name = f.name
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// prune type-checks raftapi against the mode's implementation and drops
// every declaration with an error, then the imports left unused, until it
// compiles. It returns why each dropped declaration was dropped.
func (s *sources) prune(m *mode) (map[string]string, error) {
	why := map[string]string{}
	for round := 0; ; round++ {
		if round > 50 {
			return nil, fmt.Errorf("pruning does not converge")
		}
		if err := s.write(m); err != nil {
			return nil, err
		}
		errs, fset, files, err := typeCheck(m)
		if err != nil {
			return nil, err
		}
		if len(errs) == 0 {
			return why, nil
		}
		// Resolve every error against this round's layout first, then
		// drop: dropping shifts the layout.
		type target struct {
			f   *file
			imp int // index into f.imports, or -1
			d   *decl
			msg string
		}
		var targets []target
		for _, te := range errs {
			pos := fset.Position(te.Pos)
			f, af := s.fileOf(filepath.Base(pos.Filename), files)
			if f == nil {
				return nil, fmt.Errorf("error outside the sources: %v", te)
			}
			if strings.Contains(te.Msg, "imported and not used") {
				for i, is := range af.Imports {
					if is.Pos() <= te.Pos && te.Pos <= is.End() && i > 0 {
						// Spec i of the written file is the i-th import
						// of f still written (the dot import comes
						// first).
						n := 0
						for j := range f.imports {
							if f.imports[j] == "" {
								continue
							}
							if n++; n == i {
								targets = append(targets, target{f: f, imp: j})
								break
							}
						}
					}
				}
				continue
			}
			// The declaration holding the error. Decls of the written
			// file: the import decl, the var _ line, then the kept
			// declarations in order.
			k := -1
			for i, d := range af.Decls {
				if d.Pos() <= te.Pos && te.Pos <= d.End() {
					k = i
				}
			}
			idx := k - 2
			if idx < 0 {
				return nil, fmt.Errorf("%s: %v", pos, te.Msg)
			}
			n := 0
			for _, d := range f.decls {
				if d.drop {
					continue
				}
				if n == idx {
					targets = append(targets, target{f: f, imp: -1, d: d, msg: te.Msg})
					break
				}
				n++
			}
		}
		changed := false
		for _, t := range targets {
			if t.d == nil {
				if t.f.imports[t.imp] != "" {
					t.f.imports[t.imp] = ""
					changed = true
				}
				continue
			}
			if !t.d.drop {
				t.d.drop = true
				why[t.d.name] = t.msg
				changed = true
			}
		}
		if !changed {
			return nil, fmt.Errorf("pruning stuck on %v", errs[0])
		}
	}
}

func (s *sources) fileOf(base string, files []*ast.File) (*file, *ast.File) {
	for _, f := range s.files {
		name := strings.TrimSuffix(f.name, ".go") + "_test.go"
		if strings.HasSuffix(f.name, "_test.go") {
			name = f.name
		}
		if name == base {
			for _, af := range files {
				if af.Name != nil && filepath.Base(afFile(af)) == base {
					return f, af
				}
			}
		}
	}
	return nil, nil
}

var fileNames = map[*ast.File]string{}

func afFile(af *ast.File) string { return fileNames[af] }

// typeCheck checks raftapi with export data from go list -export.
func typeCheck(m *mode) ([]types.Error, *token.FileSet, []*ast.File, error) {
	dir := filepath.Join(m.dir, "raftapi")
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	var files []*ast.File
	imports := map[string]bool{}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		af, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		fileNames[af] = p
		files = append(files, af)
		for _, is := range af.Imports {
			imports[strings.Trim(is.Path.Value, `"`)] = true
		}
	}
	exports, err := exportData(m, imports)
	if err != nil {
		return nil, nil, nil, err
	}
	var errs []types.Error
	conf := types.Config{
		Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
			p, ok := exports[path]
			if !ok || p == "" {
				return nil, fmt.Errorf("no export data for %s", path)
			}
			return os.Open(p)
		}),
		Error: func(err error) {
			if te, ok := err.(types.Error); ok {
				errs = append(errs, te)
			}
		},
	}
	_, _ = conf.Check("raft", fset, files, nil)
	return errs, fset, files, nil
}

var exportCache = map[string]map[string]string{}

// exportData maps import paths (and their dependencies) to export data
// files, built by go list -export in the mode's module.
func exportData(m *mode, imports map[string]bool) (map[string]string, error) {
	var pkgs []string
	for p := range imports {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	key := m.dir + "|" + strings.Join(pkgs, ",")
	if e, ok := exportCache[key]; ok {
		return e, nil
	}
	args := []string{"list", "-e", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}
	if m.tags != "" {
		args = append(args, "-tags", m.tags)
	}
	cmd := exec.Command("go", append(args, pkgs...)...)
	cmd.Dir = m.dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -export: %v", err)
	}
	e := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, exp, _ := strings.Cut(sc.Text(), "\t")
		e[path] = exp
	}
	exportCache[key] = e
	return e, nil
}

// test runs go test on both packages and counts the top-level tests.
func (m *mode) test(env []string, race bool) (map[string]*counts, []string, error) {
	args := []string{"test", "-count=1", "-json", "-timeout", "20m"}
	if race {
		args = append(args, "-race")
	}
	if m.tags != "" {
		args = append(args, "-tags", m.tags)
	}
	args = append(args, "./rafttest", "./raftapi")
	cmd := exec.Command("go", args...)
	cmd.Dir = m.dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	res := map[string]*counts{}
	var failed []string
	outputs := map[string]*strings.Builder{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var ev struct{ Action, Package, Test, Output string }
		if err := dec.Decode(&ev); err != nil {
			break
		}
		pkg := filepath.Base(ev.Package)
		if ev.Test == "" {
			if ev.Action == "fail" && res[pkg] == nil {
				failed = append(failed, pkg+": package failed (build?)")
			}
			continue
		}
		key := pkg + "." + ev.Test
		if ev.Action == "output" {
			if outputs[key] == nil {
				outputs[key] = &strings.Builder{}
			}
			outputs[key].WriteString(ev.Output)
		}
		if strings.Contains(ev.Test, "/") {
			continue
		}
		c := res[pkg]
		if c == nil {
			c = &counts{}
			res[pkg] = c
		}
		switch ev.Action {
		case "pass":
			c.pass++
		case "fail":
			c.fail++
			failed = append(failed, key+"\n"+indent(outputs[key]))
		case "skip":
			c.skip++
		}
	}
	if runErr != nil && len(failed) == 0 {
		return nil, nil, fmt.Errorf("go test: %v\n%s", runErr, stderr.String())
	}
	return res, failed, nil
}

func indent(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > 40 {
		// The end says why it failed.
		lines = append([]string{"..."}, lines[len(lines)-40:]...)
	}
	return "    " + strings.Join(lines, "\n    ")
}

var undefinedRe = regexp.MustCompile(`undefined: (\w+)|\.(\w+) undefined|unexported field (\w+)|cannot refer to unexported \w+ (\w+)`)

func printReport(base, poly *mode, report map[string]map[string]*counts, labels ...string) {
	fmt.Printf("etcd raft %s public-API tests (%s, rafttest)\n\n", etcdVersion, strings.Join(testFiles, ", "))
	fmt.Printf("%-34s %-9s %6s %6s %6s\n", "run", "package", "pass", "fail", "skip")
	for _, l := range labels {
		for _, pkg := range []string{"rafttest", "raftapi"} {
			c := report[l][pkg]
			if c == nil {
				c = &counts{}
			}
			fmt.Printf("%-34s %-9s %6d %6d %6d\n", l, pkg, c.pass, c.fail, c.skip)
		}
	}
	fmt.Printf("\ntests kept (compile against etcd's exported API): etcd %d, polyraft %d\n", len(base.kept), len(poly.kept))
	for _, n := range poly.kept {
		fmt.Println("  " + n)
	}
	fmt.Println("(Examples without an Output comment are compiled, not run.)")
	var names []string
	for n := range base.pruned {
		if isTestDecl(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	fmt.Printf("\ntests left out because they need etcd's internals (%d):\n", len(names))
	for _, n := range names {
		fmt.Printf("  %-60s %s\n", n, resolve(base.pruned, base.pruned[n], 0))
	}
}

// resolve follows "undefined: helper" to why the helper was left out.
func resolve(pruned map[string]string, msg string, depth int) string {
	m := undefinedRe.FindStringSubmatch(msg)
	if m == nil || depth > 5 {
		return msg
	}
	name := ""
	for _, g := range m[1:] {
		if g != "" {
			name = g
		}
	}
	for d, why := range pruned {
		_, names, _ := strings.Cut(d, ":")
		for _, n := range strings.Split(names, ",") {
			if n == name {
				return name + " -> " + resolve(pruned, why, depth+1)
			}
		}
	}
	return internals(msg)
}

func isTestDecl(name string) bool {
	_, n, _ := strings.Cut(name, ":")
	return contains(testFiles, strings.Split(name, ":")[0]) &&
		(strings.HasPrefix(n, "Test") || strings.HasPrefix(n, "Example") || strings.HasPrefix(n, "Benchmark"))
}

// internals names what an error refers to.
func internals(msg string) string {
	if m := undefinedRe.FindStringSubmatch(msg); m != nil {
		for _, g := range m[1:] {
			if g != "" {
				return g + "  (" + msg + ")"
			}
		}
	}
	return msg
}
