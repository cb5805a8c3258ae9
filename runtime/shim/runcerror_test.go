package shim

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLastRuncError(t *testing.T) {
	for _, tc := range []struct{ log, want string }{
		{"", ""},
		{`{"level":"info","msg":"x","time":"t"}`, ""},
		{`{"level":"error","msg":"container does not exist","time":"2026-11-27T18:02:57Z"}`, "container does not exist"},
		{`{"level":"error","msg":"first","time":"t"}` + "\n" + `{"level":"warning","msg":"w","time":"t"}` + "\n" +
			`{"level":"error","msg":"exec failed: exec: \"nope\": not found in $PATH","time":"t"}` + "\n",
			`exec failed: exec: "nope": not found in $PATH`},
		{`{"level":"fatal","msg":"path a\/b\u00e9\n","time":"t"}`, "path a/bé"},
		{`not json at all` + "\n" + `{"level":"error","msg":"ok"}`, "ok"},
		{`{"level":"error","msg":"unterminated`, ""},
	} {
		if got := LastRuncError([]byte(tc.log)); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.log, got, tc.want)
		}
	}
}

// FuzzLastRuncError checks the hand-rolled field reader against
// encoding/json on lines shaped as logrus writes them.
func FuzzLastRuncError(f *testing.F) {
	f.Add("container does not exist", "error")
	f.Add(`quote " backslash \ slash / tab 	 nl `+"\n"+` uni é \u2028`, "error")
	f.Add("msg", "info")
	f.Fuzz(func(t *testing.T, msg, level string) {
		line, err := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, "2026-01-01T00:00:00Z"})
		if err != nil {
			t.Skip()
		}
		var back struct{ Level, Msg string }
		json.Unmarshal(line, &back)
		want := ""
		if back.Level == "error" || back.Level == "fatal" {
			want = strings.TrimSpace(back.Msg)
		}
		if got := LastRuncError(line); got != want {
			t.Fatalf("line %s: %q, want %q", line, got, want)
		}
	})
}
