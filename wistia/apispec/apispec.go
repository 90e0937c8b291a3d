// Package apispec holds answers of the Wistia Data API against Wistia's published OpenAPI 3.1
// document: the status must be documented for the request's path and method, the media type
// for that status, and the body must satisfy the response's schema. OpenAPI 3.1's schemas are
// JSON Schema 2020-12, validated here by santhosh-tekuri/jsonschema (which iceberg-go already
// builds into the worker); the rest of the document is walked by hand. That is all the simulator's
// contract test and the live check (cmd/contract) need, at a small share of the compile time of a
// general OpenAPI library (libopenapi and its validator were 370 of the 1,222 s of compiling in
// `make test` from nothing).
package apispec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// docURL names the document inside the schema compiler; it is never fetched.
const docURL = "urn:wistia:openapi-v1.json"

// Spec is an OpenAPI 3.1 document, ready to hold answers against. It is safe for concurrent use.
type Spec struct {
	doc    map[string]any
	server string // the first server's URL, without a trailing slash
	paths  []template

	mu       sync.Mutex // the compiler (which keeps what it compiled) is not safe for concurrent use
	compiler *jsonschema.Compiler
}

// template is one of the document's paths, split at its slashes; "{name}" segments match any
// one segment.
type template struct {
	path     string
	segments []string
	literals int // segments that are not parameters: the most specific template wins
}

// Problem is one thing the spec objects to in an answer.
type Problem struct {
	At     string // where in the body, as a JSONPath ("$[0].plays"); "" for the answer as a whole
	Reason string
}

func (p Problem) String() string {
	if p.At == "" {
		return p.Reason
	}
	return p.At + ": " + p.Reason
}

// Load reads an OpenAPI 3.1 document (YAML or JSON) whose first server is the API root.
func Load(spec []byte) (*Spec, error) {
	var raw any
	if err := yaml.Unmarshal(spec, &raw); err != nil {
		return nil, fmt.Errorf("reading the OpenAPI spec: %w", err)
	}
	// The schema compiler takes JSON's values (json.Number, string keys): YAML's ints and
	// non-string keys are turned into those by a round trip through JSON.
	asJSON, err := json.Marshal(stringKeys(raw))
	if err != nil {
		return nil, fmt.Errorf("reading the OpenAPI spec: %w", err)
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(asJSON))
	if err != nil {
		return nil, fmt.Errorf("reading the OpenAPI spec: %w", err)
	}
	doc, ok := value.(map[string]any)
	if !ok {
		return nil, errors.New("reading the OpenAPI spec: the document is not an object")
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		return nil, fmt.Errorf("reading the OpenAPI spec: openapi %q, want 3.1.x (whose schemas are JSON Schema 2020-12)", v)
	}
	servers, _ := doc["servers"].([]any)
	if len(servers) == 0 {
		return nil, errors.New("the OpenAPI spec names no server")
	}
	first, _ := servers[0].(map[string]any)
	server, _ := first["url"].(string)
	if server == "" {
		return nil, errors.New("the OpenAPI spec's first server has no url")
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, fmt.Errorf("reading the OpenAPI spec: %w", err)
	}
	s := &Spec{doc: doc, server: strings.TrimRight(server, "/"), compiler: c}
	paths, _ := doc["paths"].(map[string]any)
	for p := range paths {
		segs := strings.Split(strings.Trim(p, "/"), "/")
		t := template{path: p, segments: segs}
		for _, seg := range segs {
			if !isParam(seg) {
				t.literals++
			}
		}
		s.paths = append(s.paths, t)
	}
	// Most literal segments first; the path itself breaks ties, so a match never depends on
	// the map's order.
	slices.SortFunc(s.paths, func(a, b template) int {
		if a.literals != b.literals {
			return b.literals - a.literals
		}
		return strings.Compare(a.path, b.path)
	})
	return s, nil
}

// Server is the API root the spec's paths are named under.
func (s *Spec) Server() string { return s.server }

// CheckResponse holds one answer against the spec. path is the request's path under the API
// root, with or without the ".json" suffix the API accepts; its query is ignored. An answer the
// spec allows gives no problem.
func (s *Spec) CheckResponse(method, path string, status int, header http.Header, body []byte) []Problem {
	path, _, _ = strings.Cut(path, "?")
	path = strings.TrimSuffix(path, ".json") // the spec names paths without it
	t, ok := s.match(path)
	if !ok {
		return []Problem{{Reason: fmt.Sprintf("no path of the spec matches %s", path)}}
	}
	op, ok := s.doc["paths"].(map[string]any)[t.path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if !ok {
		return []Problem{{Reason: fmt.Sprintf("the spec documents no %s %s", method, t.path)}}
	}
	responses, _ := op["responses"].(map[string]any)
	code, resp, ok := pickResponse(responses, status)
	if !ok {
		return []Problem{{Reason: fmt.Sprintf("status %d is not documented for %s %s", status, method, t.path)}}
	}
	ptr := "/paths/" + escape(t.path) + "/" + strings.ToLower(method) + "/responses/" + escape(code)
	resp, ptr, err := s.deref(resp, ptr)
	if err != nil {
		return []Problem{{Reason: err.Error()}}
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		return nil // the response documents no body
	}
	mt, ok := pickMediaType(content, header.Get("Content-Type"))
	if !ok {
		documented := make([]string, 0, len(content))
		for k := range content {
			documented = append(documented, k)
		}
		slices.Sort(documented)
		return []Problem{{Reason: fmt.Sprintf("content type %q is not documented for status %d of %s %s (documented: %s)",
			header.Get("Content-Type"), status, method, t.path, strings.Join(documented, ", "))}}
	}
	media, _ := content[mt].(map[string]any)
	if _, ok := media["schema"]; !ok || !strings.HasSuffix(mt, "json") {
		return nil // only JSON bodies are held against a schema
	}
	schema, err := s.schema(ptr + "/content/" + escape(mt) + "/schema")
	if err != nil {
		return []Problem{{Reason: err.Error()}}
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return []Problem{{Reason: fmt.Sprintf("the body is not JSON: %v", err)}}
	}
	err = schema.Validate(value)
	var verr *jsonschema.ValidationError
	if errors.As(err, &verr) {
		return leaves(verr)
	}
	if err != nil {
		return []Problem{{Reason: err.Error()}}
	}
	return nil
}

// match finds the most specific path template matching path.
func (s *Spec) match(path string) (template, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, t := range s.paths {
		if len(t.segments) != len(segs) {
			continue
		}
		ok := true
		for i, seg := range t.segments {
			if isParam(seg) {
				ok = segs[i] != ""
			} else {
				ok = seg == segs[i]
			}
			if !ok {
				break
			}
		}
		if ok {
			return t, true
		}
	}
	return template{}, false
}

// pickResponse takes the response documented for status: the code itself, then its range
// ("4XX"), then "default".
func pickResponse(responses map[string]any, status int) (string, map[string]any, bool) {
	code := strconv.Itoa(status)
	for _, key := range []string{code, code[:1] + "XX", "default"} {
		if r, ok := responses[key].(map[string]any); ok {
			return key, r, true
		}
	}
	return "", nil, false
}

// pickMediaType takes the documented media type of the answer's Content-Type: exact, then
// "type/*", then "*/*".
func pickMediaType(content map[string]any, contentType string) (string, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", false
	}
	kind, _, _ := strings.Cut(mt, "/")
	for _, key := range []string{mt, kind + "/*", "*/*"} {
		if _, ok := content[key]; ok {
			return key, true
		}
	}
	return "", false
}

// deref follows a response object's "$ref" within the document (components/responses).
func (s *Spec) deref(obj map[string]any, ptr string) (map[string]any, string, error) {
	for range 8 { // a chain longer than this is a loop
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj, ptr, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, "", fmt.Errorf("the spec's %s refers outside the document (%s)", ptr, ref)
		}
		var node any = s.doc
		for _, tok := range strings.Split(ref[2:], "/") {
			m, _ := node.(map[string]any)
			tok = unescape(tok)
			if node, ok = m[tok]; !ok {
				return nil, "", fmt.Errorf("the spec's %s refers to %s, which it does not hold", ptr, ref)
			}
		}
		if obj, ok = node.(map[string]any); !ok {
			return nil, "", fmt.Errorf("the spec's %s is not an object", ref)
		}
		ptr = ref[1:]
	}
	return nil, "", fmt.Errorf("the spec's %s is a loop of references", ptr)
}

// schema compiles the schema at a JSON pointer into the document; the compiler keeps it, so
// each is compiled once.
func (s *Spec) schema(ptr string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sch, err := s.compiler.Compile(docURL + "#" + ptr)
	if err != nil {
		return nil, fmt.Errorf("the spec's schema at %s: %w", ptr, err)
	}
	return sch, nil
}

// leaves lists the innermost failures of a validation: where in the body, and why.
func leaves(verr *jsonschema.ValidationError) []Problem {
	var out []Problem
	var walk func(u jsonschema.OutputUnit)
	walk = func(u jsonschema.OutputUnit) {
		if len(u.Errors) == 0 && u.Error != nil {
			out = append(out, Problem{At: jsonPath(u.InstanceLocation), Reason: u.Error.String()})
		}
		for _, e := range u.Errors {
			walk(e)
		}
	}
	walk(*verr.DetailedOutput())
	// The validator's order follows its maps; the body's order reads better and never changes.
	slices.SortStableFunc(out, func(a, b Problem) int { return strings.Compare(a.At, b.At) })
	if len(out) == 0 {
		out = append(out, Problem{At: "$", Reason: verr.Error()})
	}
	return out
}

// jsonPath writes a JSON pointer into the body as the JSONPath people read: /0/plays is $[0].plays.
func jsonPath(ptr string) string {
	var b strings.Builder
	b.WriteString("$")
	if ptr == "" {
		return b.String()
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = unescape(tok)
		if _, err := strconv.Atoi(tok); err == nil {
			fmt.Fprintf(&b, "[%s]", tok)
		} else if isName(tok) {
			b.WriteString("." + tok)
		} else {
			fmt.Fprintf(&b, "[%q]", tok)
		}
	}
	return b.String()
}

func isName(s string) bool {
	for i, r := range s {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return s != ""
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// escape makes a JSON pointer token of a key; unescape reads one back.
func escape(key string) string   { return strings.NewReplacer("~", "~0", "/", "~1").Replace(key) }
func unescape(tok string) string { return strings.NewReplacer("~1", "/", "~0", "~").Replace(tok) }

// stringKeys turns YAML's maps with non-string keys (an unquoted status code) into maps with
// string keys, as JSON has.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
		return v
	}
	return v
}
