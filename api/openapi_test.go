package api_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The OpenAPI document and the route table must agree: these tests read
// docs/openapi.yaml and the source of routes() in api.go, so adding,
// removing or re-roling a route without updating the document fails here.

const (
	openAPIPath = "../docs/openapi.yaml"
	routesFile  = "api.go"
)

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// route is one pattern registered in routes().
type route struct {
	method, path string
	role         string // "" for a handler without s.authed
	line         int
}

func (r route) key() string { return r.method + " " + r.path }

var (
	routesFuncRE = regexp.MustCompile(`(?s)\nfunc \(s \*Server\) routes\(\) \{\n(.*?)\n\}\n`)
	handleRE     = regexp.MustCompile(`\bm\.Handle(?:Func)?\(\s*"([^"]*)"\s*,\s*(.*)$`)
	authedRE     = regexp.MustCompile(`^s\.authed\(\s*switchboard\.Role(\w+)\s*,`)
	wildcardRE   = regexp.MustCompile(`\{(\w+)\.\.\.\}`)
)

// registeredRoutes parses the m.Handle / m.HandleFunc calls of routes() in
// api.go, skipping the "/api/" catch-all.
func registeredRoutes(t *testing.T) []route {
	t.Helper()
	src, err := os.ReadFile(routesFile)
	if err != nil {
		t.Fatal(err)
	}
	m := routesFuncRE.FindSubmatchIndex(src)
	if m == nil {
		t.Fatalf("%s: func (s *Server) routes() not found", routesFile)
	}
	firstLine := 1 + strings.Count(string(src[:m[2]]), "\n")
	var routes []route
	for i, line := range strings.Split(string(src[m[2]:m[3]]), "\n") {
		sm := handleRE.FindStringSubmatch(strings.TrimSpace(line))
		if sm == nil {
			if strings.Contains(line, "m.Handle") {
				t.Errorf("%s:%d: cannot parse route registration %q (keep one m.Handle/m.HandleFunc call per line with a literal pattern)", routesFile, firstLine+i, strings.TrimSpace(line))
			}
			continue
		}
		pattern, rest := sm[1], sm[2]
		if pattern == "/api/" {
			continue // the JSON 404 for everything else under /api
		}
		method, path, ok := strings.Cut(pattern, " ")
		if !ok || method == "" || !strings.HasPrefix(path, "/") {
			t.Errorf("%s:%d: pattern %q has no method; register routes as \"METHOD /path\"", routesFile, firstLine+i, pattern)
			continue
		}
		// OpenAPI has no {$} or {name...}: /a/{$} is /a/, {rest...} is {rest}.
		path = strings.TrimSuffix(path, "{$}")
		path = wildcardRE.ReplaceAllString(path, "{$1}")
		r := route{method: method, path: path, line: firstLine + i}
		if am := authedRE.FindStringSubmatch(rest); am != nil {
			r.role = strings.ToLower(am[1])
		} else if strings.Contains(rest, "authed(") {
			t.Errorf("%s:%d: cannot read the role of %q", routesFile, firstLine+i, pattern)
		}
		routes = append(routes, r)
	}
	if len(routes) < 2 {
		t.Fatalf("%s: found only %d routes in routes(); is the regexp out of date?", routesFile, len(routes))
	}
	return routes
}

// operation is one documented method + path.
type operation struct {
	method, path string
	node         *yaml.Node // the operation object
}

func (o operation) key() string { return o.method + " " + o.path }

// loadOpenAPI parses the document into a node tree (yaml.v3 refuses
// duplicate keys, so a path or method documented twice fails here too).
func loadOpenAPI(t *testing.T) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", openAPIPath, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: not a YAML mapping", openAPIPath)
	}
	return doc.Content[0]
}

// get returns the value of key in a mapping node, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func documentedOperations(t *testing.T, root *yaml.Node) []operation {
	t.Helper()
	paths := get(root, "paths")
	if paths == nil || paths.Kind != yaml.MappingNode {
		t.Fatalf("%s: no paths", openAPIPath)
	}
	var ops []operation
	for i := 0; i+1 < len(paths.Content); i += 2 {
		path, item := paths.Content[i].Value, paths.Content[i+1]
		for j := 0; j+1 < len(item.Content); j += 2 {
			if m := item.Content[j].Value; slices.Contains(httpMethods, m) {
				ops = append(ops, operation{method: strings.ToUpper(m), path: path, node: item.Content[j+1]})
			}
		}
	}
	return ops
}

// TestOpenAPIRoutes checks that docs/openapi.yaml documents exactly the
// routes that routes() registers, with the role each requires.
func TestOpenAPIRoutes(t *testing.T) {
	routes := registeredRoutes(t)
	root := loadOpenAPI(t)
	ops := documentedOperations(t, root)

	byKey := map[string]operation{}
	for _, o := range ops {
		byKey[o.key()] = o
	}
	registered := map[string]bool{}
	for _, r := range routes {
		registered[r.key()] = true
		o, ok := byKey[r.key()]
		if !ok {
			t.Errorf("%s:%d: %s is registered but not documented in %s", routesFile, r.line, r.key(), openAPIPath)
			continue
		}
		role := ""
		if n := get(o.node, "x-required-role"); n != nil {
			role = n.Value
		}
		if role != r.role {
			t.Errorf("%s (line %d of the document): x-required-role is %q; routes() requires %q", r.key(), o.node.Line, role, r.role)
		}
		// Public routes must say so; authenticated ones inherit the
		// document's bearer-or-cookie security.
		sec := get(o.node, "security")
		public := sec != nil && sec.Kind == yaml.SequenceNode && len(sec.Content) == 0
		switch {
		case r.role == "" && !public:
			t.Errorf("%s: registered without authentication; document it with security: []", r.key())
		case r.role != "" && public:
			t.Errorf("%s: requires role %s but is documented with security: []", r.key(), r.role)
		}
	}

	for _, o := range ops {
		if registered[o.key()] {
			continue
		}
		// The WebSocket endpoints are added to the mux by the server package,
		// not by routes(); they must say they are upgrades and stay off /api.
		if n := get(o.node, "x-websocket-upgrade"); n != nil && n.Value == "true" {
			if o.method != "GET" || !strings.HasPrefix(o.path, "/ws/") {
				t.Errorf("%s (line %d): a WebSocket upgrade endpoint must be GET /ws/...", o.key(), o.node.Line)
			}
			continue
		}
		// Pages and scripts outside the API (the widget loader, its demo)
		// are mounted by the server package too; they say so and stay off /api.
		if n := get(o.node, "x-mounted-by-server"); n != nil && n.Value == "true" {
			if strings.HasPrefix(o.path, "/api/") {
				t.Errorf("%s (line %d): an operation under /api/ must be registered in routes()", o.key(), o.node.Line)
			}
			continue
		}
		t.Errorf("%s (line %d of %s) is documented but routes() does not register it", o.key(), o.node.Line, openAPIPath)
	}
}

// TestOpenAPIDocument checks the document's version, that every $ref
// resolves inside it, and that the error code enum lists every code the
// package can send.
func TestOpenAPIDocument(t *testing.T) {
	root := loadOpenAPI(t)

	v := get(root, "openapi")
	if v == nil || !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v.Value) {
		t.Errorf("openapi: want 3.1.x, got %v", v)
	}

	refs := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k, val := n.Content[i], n.Content[i+1]; k.Value == "$ref" && val.Kind == yaml.ScalarNode {
					refs++
					if err := resolveRef(root, val.Value); err != nil {
						t.Errorf("line %d: $ref %q: %v", val.Line, val.Value, err)
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	if refs == 0 {
		t.Error("no $ref found; is the walk broken?")
	}

	// Every error code the package writes is in the Error schema's enum.
	enum := get(get(get(get(get(get(get(get(root, "components"), "schemas"), "Error"), "properties"), "error"), "properties"), "code"), "enum")
	if enum == nil {
		t.Fatal("components.schemas.Error.properties.error.properties.code.enum is missing")
	}
	documented := map[string]bool{}
	for _, c := range enum.Content {
		documented[c.Value] = true
	}
	for code, where := range errorCodesInSource(t) {
		if !documented[code] {
			t.Errorf("%s sends error code %q, missing from the Error schema's code enum", where, code)
		}
	}
}

// resolveRef resolves a local JSON pointer reference ("#/a/b") in root.
func resolveRef(root *yaml.Node, ref string) error {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return fmt.Errorf("not a local reference; the document must be self-contained")
	}
	if ptr == "" {
		return nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return fmt.Errorf("not a JSON pointer")
	}
	n := root
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n.Kind {
		case yaml.MappingNode:
			next := get(n, tok)
			if next == nil {
				return fmt.Errorf("no %q", tok)
			}
			n = next
		case yaml.SequenceNode:
			var i int
			if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(n.Content) {
				return fmt.Errorf("no index %q", tok)
			}
			n = n.Content[i]
		default:
			return fmt.Errorf("%q: not an object or array", tok)
		}
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
	}
	return nil
}

var codeRE = regexp.MustCompile(`(?:\bCode:\s*|\berrorf\(\s*http\.\w+\s*,\s*)"(\w+)"`)

// errorCodesInSource returns the error codes written in the package's
// non-test Go files, each with one place it occurs.
func errorCodesInSource(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range codeRE.FindAllSubmatchIndex(src, -1) {
			code := string(src[m[2]:m[3]])
			if _, ok := codes[code]; !ok {
				codes[code] = fmt.Sprintf("%s:%d", f, 1+strings.Count(string(src[:m[0]]), "\n"))
			}
		}
	}
	if len(codes) < 3 {
		t.Fatalf("found only %d error codes in the source; is the regexp out of date?", len(codes))
	}
	return codes
}
