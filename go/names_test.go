package polyraft

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// exportedNames are the exported top-level names (and exported methods,
// as Type.Method) declared by the non-test Go files of dir.
func exportedNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	// The files of the default build (etcd's state tracing needs a tag).
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
		ok, err := build.Default.MatchFile(dir, fi.Name())
		return err == nil && ok && !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if !d.Name.IsExported() {
						continue
					}
					if d.Recv != nil {
						recv := d.Recv.List[0].Type
						if s, ok := recv.(*ast.StarExpr); ok {
							recv = s.X
						}
						if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
							names[id.Name+"."+d.Name.Name] = true
						}
						continue
					}
					names[d.Name.Name] = true
				case *ast.GenDecl:
					for _, sp := range d.Specs {
						switch sp := sp.(type) {
						case *ast.TypeSpec:
							if sp.Name.IsExported() {
								names[sp.Name.Name] = true
							}
						case *ast.ValueSpec:
							for _, n := range sp.Names {
								if n.IsExported() {
									names[n.Name] = true
								}
							}
						}
					}
				}
			}
		}
	}
	return names
}

// Every exported name of etcd raft's package exists in this one, so a
// program compiles after the import swap whatever it uses.
func TestEtcdExportedNames(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.etcd.io/raft/v3").Output()
	if err != nil {
		t.Fatalf("locating etcd raft: %v", err)
	}
	etcdDir := strings.TrimSpace(string(out))
	etcdNames := exportedNames(t, etcdDir)
	ours := exportedNames(t, ".")
	var missing []string
	for n := range etcdNames {
		if ours[n] {
			continue
		}
		// Methods of aliased types are etcd's own.
		if typ, _, ok := strings.Cut(n, "."); ok && aliased[typ] {
			continue
		}
		missing = append(missing, n)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("etcd raft names missing here (%s): %v", filepath.Base(etcdDir), missing)
	}
}

// aliased are the types this package takes from etcd (types.go).
var aliased = map[string]bool{}

func init() {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "types.go", nil, 0)
	if err != nil {
		panic(err)
	}
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
			for _, sp := range g.Specs {
				if ts := sp.(*ast.TypeSpec); ts.Assign.IsValid() {
					aliased[ts.Name.Name] = true
				}
			}
		}
	}
}
