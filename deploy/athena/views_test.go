package athena_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
)

// The views are checked statically, without Athena, against the gold schemas the pipeline
// creates (gold.TableSchemas). The check relies on a house style that keeps it simple:
//
//   - a file holds one statement, CREATE OR REPLACE VIEW wistia_gold.<file name> AS …, after a
//     header comment;
//   - every FROM and JOIN reads a gold table as wistia_gold.<table> <alias> (no subqueries,
//     CTEs or functions written with FROM, such as extract(… FROM …));
//   - every column of a gold table is named as <alias>.<column>;
//   - any other bare word is an SQL keyword, a function call, a table alias, a type or an
//     output name after AS, or the type of a typed literal (DATE '2026-01-01').
//
// What it cannot see (types, function names, grouping rules) Athena checks when the view is
// created; deploy/athena/README.md says how.

// goldDatabase is the Glue database (Iceberg namespace) of the gold tables and the views.
const goldDatabase = "wistia_gold"

func TestViews(t *testing.T) {
	schemas := gold.TableSchemas()
	if len(schemas) == 0 {
		t.Fatal("gold.TableSchemas() returned no tables")
	}
	files, err := filepath.Glob("*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no .sql files in deploy/athena")
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range checkView(strings.TrimSuffix(file, ".sql"), string(src), schemas) {
				t.Errorf("%s:%s", file, problem)
			}
		})
	}
}

// TestCheckViewFindsMistakes breaks a real view in the ways the check is meant to catch.
func TestCheckViewFindsMistakes(t *testing.T) {
	schemas := gold.TableSchemas()
	src, err := os.ReadFile("channel_weekly.sql")
	if err != nil {
		t.Fatal(err)
	}
	good := string(src)
	if problems := checkView("channel_weekly", good, schemas); len(problems) != 0 {
		t.Fatalf("channel_weekly.sql should pass: %v", problems)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown column", "sum(f.load_count)", "sum(f.loads)", `f.loads: fact_media_daily has no column "loads"`},
		{"column of the other table", "sum(f.load_count)", "sum(m.load_count)", `m.load_count: dim_media has no column "load_count"`},
		{"quoted unknown column", `f."date")`, `f."day")`, `f.day: fact_media_daily has no column "day"`},
		{"unqualified column", "sum(f.hours_watched)", "sum(hours_watched)", `"hours_watched" is not an alias.column`},
		{"unknown alias", "sum(f.play_count) AS play_count", "sum(x.play_count) AS play_count", `x.play_count: no table has the alias "x"`},
		{"unknown table", "wistia_gold.dim_media m", "wistia_gold.dim_medias m", `wistia_gold.dim_medias is not a gold table`},
		{"silver table", "wistia_gold.dim_media m", "wistia_silver.media m", `FROM/JOIN must read wistia_gold.<table> <alias>`},
		{"no alias", "wistia_gold.dim_media m ON", "wistia_gold.dim_media ON", `FROM/JOIN must read wistia_gold.<table> <alias>`},
		{"view name", "VIEW wistia_gold.channel_weekly AS", "VIEW wistia_gold.channels AS", `the view is named "channels", the file "channel_weekly"`},
		{"other database", "VIEW wistia_gold.channel_weekly AS", "VIEW wistia_silver.channel_weekly AS", `must start with CREATE OR REPLACE VIEW wistia_gold.channel_weekly AS`},
		{"two statements", "GROUP BY", "; SELECT 1 FROM wistia_gold.dim_media d; GROUP BY", `one statement per file`},
		{"no header", "-- wistia_gold.channel_weekly:", "wistia_gold.channel_weekly:", `no header comment`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("channel_weekly.sql no longer contains %q: update this case", tc.old)
			}
			bad := strings.Replace(good, tc.old, tc.new, 1)
			problems := checkView("channel_weekly", bad, schemas)
			if !strings.Contains(strings.Join(problems, "\n"), tc.want) {
				t.Errorf("problems %q do not include %q", problems, tc.want)
			}
		})
	}
}

// checkView returns the problems of one view's SQL, each prefixed with its line number.
func checkView(name, src string, schemas map[string]*iceberg.Schema) []string {
	var problems []string
	report := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%d: %s", line, fmt.Sprintf(format, args...)))
	}
	if first := strings.TrimSpace(src); !strings.HasPrefix(first, "--") && !strings.HasPrefix(first, "/*") {
		report(1, "no header comment saying what the view answers")
	}
	toks, err := lex(src)
	if err != nil {
		return append(problems, err.Error())
	}

	// CREATE OR REPLACE VIEW wistia_gold.<name> AS
	head := []string{"create", "or", "replace", "view", goldDatabase, ".", name, "as"}
	for i, want := range head {
		if i >= len(toks) || toks[i].text != want || toks[i].kind == stringLit {
			report(1, "must start with CREATE OR REPLACE VIEW %s.%s AS", goldDatabase, name)
			if len(toks) > 6 && toks[3].text == "view" && toks[5].text == "." && toks[6].text != name {
				report(toks[6].line, "the view is named %q, the file %q", toks[6].text, name)
			}
			return problems
		}
	}
	body := toks[len(head):]
	for i, tok := range body {
		if tok.kind == punct && tok.text == ";" && i != len(body)-1 {
			report(tok.line, "one statement per file: text follows the ;")
			break
		}
	}

	// Table references: FROM|JOIN wistia_gold.<table> [AS] <alias>.
	aliases := map[string]string{} // alias → gold table
	used := map[int]bool{}         // body indexes consumed by table references
	for i, tok := range body {
		if tok.kind != word || (tok.text != "from" && tok.text != "join") {
			continue
		}
		j := i + 1
		if j+2 >= len(body) || body[j].text != goldDatabase || body[j+1].text != "." || body[j+2].kind != word {
			report(tok.line, "FROM/JOIN must read wistia_gold.<table> <alias>")
			continue
		}
		table := body[j+2].text
		used[j], used[j+1], used[j+2] = true, true, true
		j += 3
		if j < len(body) && body[j].text == "as" && !body[j].quoted {
			used[j] = true
			j++
		}
		if j >= len(body) || body[j].kind != word || (keywords[body[j].text] && !body[j].quoted) {
			report(tok.line, "FROM/JOIN must read wistia_gold.<table> <alias>: %s has no alias", table)
			continue
		}
		alias := body[j].text
		used[j] = true
		if _, ok := schemas[table]; !ok {
			report(tok.line, "%s.%s is not a gold table (gold tables: %s)", goldDatabase, table, tableNames(schemas))
			continue
		}
		if prev, ok := aliases[alias]; ok {
			report(tok.line, "alias %q names both %s and %s", alias, prev, table)
		}
		aliases[alias] = table
	}
	if len(aliases) == 0 {
		report(toks[0].line, "the view reads no gold table")
	}

	// Every other word: alias.column of a gold table, or a word that is not a column.
	for i := 0; i < len(body); i++ {
		tok := body[i]
		if tok.kind != word || used[i] {
			continue
		}
		if i+2 < len(body) && body[i+1].text == "." && body[i+1].kind == punct && body[i+2].kind == word {
			col := body[i+2]
			i += 2
			table, ok := aliases[tok.text]
			switch {
			case tok.text == goldDatabase:
				report(tok.line, "%s.%s is read outside FROM/JOIN", goldDatabase, col.text)
			case !ok:
				report(tok.line, "%s.%s: no table has the alias %q", tok.text, col.text, tok.text)
			default:
				if _, found := schemas[table].FindFieldByName(col.text); !found {
					report(col.line, "%s.%s: %s has no column %q (it has %s)", tok.text, col.text, table, col.text, columnNames(schemas[table]))
				}
			}
			continue
		}
		next := token{}
		if i+1 < len(body) {
			next = body[i+1]
		}
		prevAs := i > 0 && body[i-1].text == "as" && !body[i-1].quoted
		switch {
		case keywords[tok.text] && !tok.quoted:
		case next.kind == punct && next.text == "(": // a function call
		case next.kind == stringLit && !tok.quoted: // a typed literal: DATE '…'
		case prevAs: // an output name, or a type in CAST(… AS type)
		case aliases[tok.text] != "":
		default:
			report(tok.line, "%q is not an alias.column, a keyword, a function or an output name: name gold columns as alias.column", tok.text)
		}
	}
	return problems
}

// keywords are the SQL words the views may use bare. Types and output names follow AS and
// need no entry; a view that needs another keyword adds it here.
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`select distinct all from join left right inner outer full cross on
		where group by having order asc desc nulls first last limit offset union intersect except
		and or not is null in between like escape case when then else end as with
		over partition rows range unbounded preceding following current row
		true false interval`) {
		keywords[k] = true
	}
}

type tokenKind int

const (
	word      tokenKind = iota // an identifier or keyword, lower-cased; quoted identifiers unquoted
	number                     // a numeric literal
	stringLit                  // a '…' literal
	punct                      // any other single character
)

type token struct {
	kind   tokenKind
	text   string
	quoted bool // a "…" identifier
	line   int
}

// lex splits SQL into tokens, dropping comments and white space.
func lex(src string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "--"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("%d: unterminated /* comment", line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case c == '\'' || c == '"':
			start := line
			j := i + 1
			for ; j < len(src); j++ {
				if src[j] == '\n' {
					line++
				}
				if src[j] == c {
					if j+1 < len(src) && src[j+1] == c { // doubled quote
						j++
						continue
					}
					break
				}
			}
			if j >= len(src) {
				return nil, fmt.Errorf("%d: unterminated %c", start, c)
			}
			text := strings.ReplaceAll(src[i+1:j], string([]byte{c, c}), string(c))
			if c == '"' {
				toks = append(toks, token{kind: word, text: strings.ToLower(text), quoted: true, line: start})
			} else {
				toks = append(toks, token{kind: stringLit, text: text, line: start})
			}
			i = j + 1
		case isWordStart(c):
			j := i
			for j < len(src) && (isWordStart(src[j]) || isDigit(src[j])) {
				j++
			}
			toks = append(toks, token{kind: word, text: strings.ToLower(src[i:j]), line: line})
			i = j
		case isDigit(c):
			j := i
			for j < len(src) && (isDigit(src[j]) || isWordStart(src[j]) || src[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: number, text: src[i:j], line: line})
			i = j
		default:
			toks = append(toks, token{kind: punct, text: string(c), line: line})
			i++
		}
	}
	return toks, nil
}

func isWordStart(c byte) bool { return c == '_' || (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }

func tableNames(schemas map[string]*iceberg.Schema) string {
	return strings.Join(slices.Sorted(maps.Keys(schemas)), ", ")
}

func columnNames(sc *iceberg.Schema) string {
	var names []string
	for _, f := range sc.Fields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}
