package filter

import "testing"

func TestMatch(t *testing.T) {
	closed := `{"eventName":"MODIFY","dynamodb":{"NewImage":{"state":{"S":"closed"},"n":{"N":"3"},"tags":["a","b"]},"OldImage":{"state":{"S":"assigned"}}}}`
	cases := []struct {
		pattern, record string
		want            bool
	}{
		{`{"dynamodb":{"NewImage":{"state":{"S":["closed"]}}}}`, closed, true},
		{`{"dynamodb":{"NewImage":{"state":{"S":["escalated","closed"]}}}}`, closed, true},
		{`{"dynamodb":{"NewImage":{"state":{"S":["bot"]}}}}`, closed, false},
		{`{"dynamodb":{"NewImage":{"missing":{"S":["closed"]}}}}`, closed, false},
		{`{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":{"state":{"S":["closed"]}}}}`, closed, true},
		{`{"eventName":["INSERT"],"dynamodb":{"NewImage":{"state":{"S":["closed"]}}}}`, closed, false},
		{`{"dynamodb":{"NewImage":{"state":{"S":[{"prefix":"clo"}]}}}}`, closed, true},
		{`{"dynamodb":{"NewImage":{"state":{"S":[{"prefix":"bo"}]}}}}`, closed, false},
		{`{"dynamodb":{"OldImage":{"state":{"S":[{"anything-but":"closed"}]}}}}`, closed, true},
		{`{"dynamodb":{"NewImage":{"state":{"S":[{"anything-but":["closed","bot"]}]}}}}`, closed, false},
		{`{"dynamodb":{"NewImage":{"handoff":[{"exists":false}]}}}`, closed, true},
		{`{"dynamodb":{"NewImage":{"state":[{"exists":true}]}}}`, closed, true},
		{`{"dynamodb":{"NewImage":{"state":[{"exists":false}]}}}`, closed, false},
		{`{"dynamodb":{"NewImage":{"n":{"N":["3"]}}}}`, closed, true},
		{`{"dynamodb":{"NewImage":{"tags":["b"]}}}`, closed, true},
		{`{"dynamodb":{"NewImage":{"tags":["c"]}}}`, closed, false},
		{`{"dynamodb":{"NewImage":{"state":{"S":["closed"]}}}}`, `{"eventName":"REMOVE","dynamodb":{"OldImage":{"state":{"S":"closed"}}}}`, false},
		{`{"dynamodb":{"NewImage":{"state":{"S":["closed"]}}}}`, `not json`, false},
	}
	for _, tc := range cases {
		p, err := Compile(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		if got := p.Match([]byte(tc.record)); got != tc.want {
			t.Errorf("%s on %s = %v, want %v", tc.pattern, tc.record, got, tc.want)
		}
	}
}

func TestCompileRefusesWhatItCannotMatch(t *testing.T) {
	for _, p := range []string{
		`{"a":[{"numeric":[">",1]}]}`,
		`{"a":[{"prefix":1}]}`,
		`{"a":[{"exists":"yes"}]}`,
		`{"a":[{"prefix":"x","exists":true}]}`,
		`{"a":"closed"}`,
		`{"a":{}}`,
		`[1]`,
	} {
		if _, err := Compile(p); err == nil {
			t.Errorf("%s compiled", p)
		}
	}
}
