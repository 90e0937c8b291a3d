package silver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func fields(line string) [][2]string {
	var out [][2]string
	eachField([]byte(line), func(k, v []byte) { out = append(out, [2]string{string(k), string(v)}) })
	return out
}

func TestEachFieldFindsTopLevelFieldsAsWritten(t *testing.T) {
	line := ` { "a" : "x\"}y" , "b":{"c":[1,"]}",{"d":null}]},"e":-1.5e3,"f":true,"g":null, "h":[] ,"a":"again"} `
	assert.Equal(t, [][2]string{{"a", `"x\"}y"`}, {"b", `{"c":[1,"]}",{"d":null}]}`}, {"e", "-1.5e3"}, {"f", "true"},
		{"g", "null"}, {"h", "[]"}, {"a", `"again"`}}, fields(line))
	assert.Empty(t, fields(`{}`))
	assert.Empty(t, fields(`[1,2]`))
	assert.Empty(t, fields(``))
	// Broken lines: the fields before the break are found, nothing after it.
	assert.Equal(t, [][2]string{{"a", "1"}}, fields(`{"a":1,"b":"unterminated`))
	assert.Equal(t, [][2]string{{"a", "1"}}, fields(`{"a":1 "b":2}`))
	assert.Equal(t, [][2]string(nil), fields(`{"a" 1}`))
	assert.Equal(t, [][2]string{{"a", "1"}, {"b", `{"c":1}`}}, fields(`{"a":1,"b":{"c":1}`)) // its own end is missing
}

// Every valid object's fields are the ones encoding/json reads, values byte for byte.
func FuzzEachFieldAgreesWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{`{"a":1}`, `{"event_key":"k\u00e9","x":{"y":[1,{"z":"]"}]},"n":null}`, ` {"a" : [ ] , "b":"\\"} `} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var obj map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader([]byte(line)))
		if dec.Decode(&obj) != nil || dec.More() || obj == nil {
			return // not one object: eachField only has to stop somewhere
		}
		got := map[string]string{}
		for _, kv := range fields(line) {
			var key string
			if err := json.Unmarshal([]byte(`"`+kv[0]+`"`), &key); err != nil {
				t.Fatalf("key %q: %v", kv[0], err)
			}
			got[key] = kv[1] // the last of a repeated key, as encoding/json keeps
		}
		want := map[string]string{}
		for k, v := range obj {
			want[k] = string(v)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: got %v, want %v", line, got, want)
		}
	})
}

func TestEventFieldNamesEveryField(t *testing.T) {
	for i, name := range eventFieldNames {
		assert.Equal(t, i, eventField([]byte(name)), name)
	}
	assert.Equal(t, -1, eventField([]byte("email")))
}

// A bronze event line as the API's events come: keys and strings make up most of it.
const benchEventLine = `{"_ingested_at":"2026-11-20T01:00:07.998Z","_page":1,"_run_id":"bench","_source":"/stats/events.json","event_key":"evt_1cz0d","received_at":"2026-11-16T02:16:42Z","visitor_key":"vis_5iybdcx8zkae","media_id":"bm001997","media_name":"Quick Demo 12","media_url":"https://home.wistia.com/medias/bm001997","embed_url":"https://www.example-shop.com/pricing","percent_viewed":0.16,"ip":"203.0.113.195","org":"Comcast Cable","country":"US","region":"California","city":"San Francisco","lat":37.77,"lon":-122.42,"email":null,"conversion_type":"","thumbnail":{"url":"https://embed-ssl.wistia.com/deliveries/abc.jpg"},"user_agent_details":{"browser":"Chrome","browser_version":"131.0","platform":"windows","mobile":false}}`

func BenchmarkEachField(b *testing.B) {
	line := []byte(benchEventLine)
	b.SetBytes(int64(len(line)))
	n := 0
	for b.Loop() {
		eachField(line, func(k, v []byte) { n++ })
	}
	if n != 23*b.N {
		b.Fatalf("%d fields in %d loops", n, b.N)
	}
}
