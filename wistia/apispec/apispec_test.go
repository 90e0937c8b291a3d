package apispec

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// miniSpec is a hand-written document with each feature the checker reads: a templated and a
// literal path that could both match, a status range, a default, a response by reference, a
// schema by reference, and a response without a body.
const miniSpec = `
openapi: 3.1.1
info: {title: mini, version: "1"}
servers:
  - url: https://api.example.com/v1/
paths:
  /things:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: array
                items: {$ref: '#/components/schemas/Thing'}
        '401':
          $ref: '#/components/responses/401'
        4XX:
          description: client error
          content:
            text/plain: {schema: {type: string}}
  /things/{id}:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Thing'}
        default:
          description: anything else
  /things/latest:
    get:
      responses:
        '204':
          description: no body
components:
  schemas:
    Thing:
      type: object
      required: [id, plays]
      properties:
        id: {type: string}
        plays: {type: integer, minimum: 0}
  responses:
    '401':
      description: unauthorized
      content:
        application/json:
          schema:
            type: object
            required: [error]
            properties:
              error: {type: string}
`

var jsonHeader = http.Header{"Content-Type": {"application/json; charset=utf-8"}}

func TestCheckResponse(t *testing.T) {
	s, err := Load([]byte(miniSpec))
	require.NoError(t, err)
	assert.Equal(t, "https://api.example.com/v1", s.Server())

	cases := []struct {
		name   string
		path   string
		status int
		header http.Header
		body   string
		want   []Problem
	}{
		{"a documented list", "/things.json?page=2", 200, jsonHeader, `[{"id":"a","plays":3}]`, nil},
		{"a schema by reference fails at its field", "/things", 200, jsonHeader, `[{"id":"a","plays":-1}]`,
			[]Problem{{At: "$[0].plays", Reason: "minimum: got -1, want 0"}}},
		{"a missing required field", "/things/abc.json", 200, jsonHeader, `{"id":"a"}`,
			[]Problem{{At: "$", Reason: "missing property 'plays'"}}},
		{"a wrong type", "/things/abc", 200, jsonHeader, `{"id":7,"plays":1}`,
			[]Problem{{At: "$.id", Reason: "got number, want string"}}},
		{"a response by reference", "/things", 401, jsonHeader, `{"error":"no"}`, nil},
		{"a response by reference holds its schema", "/things", 401, jsonHeader, `{}`,
			[]Problem{{At: "$", Reason: "missing property 'error'"}}},
		{"a status range", "/things", 404, http.Header{"Content-Type": {"text/plain"}}, `gone`, nil},
		{"an undocumented media type", "/things", 200, http.Header{"Content-Type": {"text/html"}}, `<p>`,
			[]Problem{{Reason: `content type "text/html" is not documented for status 200 of GET /things (documented: application/json)`}}},
		{"an undocumented status", "/things", 500, jsonHeader, `{}`,
			[]Problem{{Reason: "status 500 is not documented for GET /things"}}},
		{"default takes any status", "/things/abc", 503, jsonHeader, `whatever`, nil},
		{"the literal path wins over the template", "/things/latest", 200, jsonHeader, `{"id":"a","plays":1}`,
			[]Problem{{Reason: "status 200 is not documented for GET /things/latest"}}},
		{"a response without a body", "/things/latest", 204, nil, ``, nil},
		{"a body that is not JSON", "/things", 200, jsonHeader, `[{"id":`, nil},
		{"an unknown path", "/nothing/here", 200, jsonHeader, `{}`,
			[]Problem{{Reason: "no path of the spec matches /nothing/here"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := s.CheckResponse(http.MethodGet, c.path, c.status, c.header, []byte(c.body))
			if c.name == "a body that is not JSON" {
				require.Len(t, got, 1)
				assert.Contains(t, got[0].Reason, "the body is not JSON")
				return
			}
			assert.Equal(t, c.want, got)
		})
	}
	got := s.CheckResponse(http.MethodPost, "/things", 200, jsonHeader, []byte(`[]`))
	assert.Equal(t, []Problem{{Reason: "the spec documents no POST /things"}}, got)
}

func TestJSONPath(t *testing.T) {
	for ptr, want := range map[string]string{
		"": "$", "/0": "$[0]", "/0/plays": "$[0].plays", "/a~1b/x y": `$["a/b"]["x y"]`, "/tags/2/_k9": "$.tags[2]._k9",
	} {
		assert.Equal(t, want, jsonPath(ptr), ptr)
	}
}

func TestLoadNamesWhatIsWrong(t *testing.T) {
	for doc, want := range map[string]string{
		"openapi: 3.0.3\nservers: [{url: x}]\n": `openapi "3.0.3", want 3.1.x`,
		"openapi: 3.1.0\n":                      "names no server",
		"openapi: 3.1.0\nservers: [{}]\n":       "first server has no url",
		"openapi: [\n":                          "reading the OpenAPI spec",
		"- just a list\n":                       "not an object",
	} {
		_, err := Load([]byte(doc))
		require.Error(t, err, doc)
		assert.Contains(t, err.Error(), want, doc)
	}
}
