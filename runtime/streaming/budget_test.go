package streaming

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestFairShares(t *testing.T) {
	for _, tc := range []struct {
		name    string
		written [2]int64
		limit   int
		want    [2]int64
	}{
		{"nothing", [2]int64{0, 0}, 100, [2]int64{0, 0}},
		{"fits", [2]int64{60, 40}, 100, [2]int64{60, 40}},
		{"stdout alone", [2]int64{1000, 0}, 100, [2]int64{100, 0}},
		{"stderr alone", [2]int64{0, 1000}, 100, [2]int64{0, 100}},
		{"stderr small", [2]int64{1000, 10}, 100, [2]int64{90, 10}},
		{"stdout small", [2]int64{10, 1000}, 100, [2]int64{10, 90}},
		{"both large", [2]int64{1000, 1000}, 100, [2]int64{50, 50}},
		{"odd limit", [2]int64{1000, 1000}, 101, [2]int64{50, 51}},
		{"stdout exactly its share", [2]int64{50, 1000}, 100, [2]int64{50, 50}},
		{"one over", [2]int64{51, 50}, 100, [2]int64{50, 50}},
	} {
		if got := fairShares(tc.written, tc.limit); got != tc.want {
			t.Errorf("%s: fairShares(%v, %d) = %v, want %v", tc.name, tc.written, tc.limit, got, tc.want)
		}
	}
}

// pattern is stream i's output: bytes that tell the streams and the
// positions apart, so a kept byte out of place shows.
func pattern(i int, from, n int64) []byte {
	b := make([]byte, n)
	for k := range b {
		pos := from + int64(k)
		b[k] = byte(pos*7+int64(i)*101) ^ byte(pos>>8)
	}
	return b
}

// TestBudgetAgainstModel writes random interleavings of random sizes and
// checks, against fairShares, what each stream keeps; that it is a prefix
// of what the stream wrote; and that the two never hold more than the
// limit at any moment.
func TestBudgetAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		limit := 1 + rng.IntN(400)
		maxWrite := 1 + rng.IntN(200)
		if round%10 == 0 {
			// Across chunk boundaries.
			limit = chunkSize*3 + rng.IntN(chunkSize)
			maxWrite = chunkSize + rng.IntN(chunkSize)
		}
		b := newBudget(limit)
		var written [2]int64
		for range rng.IntN(30) {
			i := rng.IntN(2)
			n := int64(rng.IntN(maxWrite + 1))
			w := b.writer(i)
			if got, err := w.Write(pattern(i, written[i], n)); got != int(n) || err != nil {
				t.Fatalf("Write = %d, %v; want %d, nil", got, err, n)
			}
			written[i] += n
			if held := b.streams[0].kept + b.streams[1].kept; held > limit {
				t.Fatalf("round %d: the streams hold %d bytes, over the limit %d", round, held, limit)
			}
		}
		out, usage := b.result()
		want := fairShares(written, limit)
		for i := range 2 {
			if int64(len(out[i])) != want[i] {
				t.Fatalf("round %d (limit %d, written %v): stream %d kept %d, want %d", round, limit, written, i, len(out[i]), want[i])
			}
			if !bytes.Equal(out[i], pattern(i, 0, want[i])) {
				t.Fatalf("round %d: stream %d kept bytes that are not a prefix of its output", round, i)
			}
			if usage[i].Written != written[i] || usage[i].Kept != want[i] {
				t.Fatalf("round %d: usage %+v, want written %d kept %d", round, usage[i], written[i], want[i])
			}
		}
	}
}

// TestBudgetChunksTrackKept: memory is held in chunks of what is kept, and
// chunks given back are released.
func TestBudgetChunksTrackKept(t *testing.T) {
	limit := 4 * chunkSize
	b := newBudget(limit)
	b.writer(0).Write(make([]byte, 10*chunkSize)) // stdout takes everything
	if n := len(b.streams[0].chunks); n != 4 {
		t.Fatalf("stdout holds %d chunks, want 4", n)
	}
	b.writer(1).Write(make([]byte, chunkSize+1)) // stderr takes back what it needs
	if n := len(b.streams[0].chunks); n != 3 {
		t.Errorf("stdout holds %d chunks after giving back %d bytes, want 3", n, chunkSize+1)
	}
	if k := b.streams[0].kept + b.streams[1].kept; k != limit {
		t.Errorf("kept %d bytes, want %d", k, limit)
	}
}

// TestFullResponseFitsTheKubeletLimit: a response carrying the whole
// budget, however it is split and whatever the exit code, encodes under
// the kubelet's 16 MiB receive limit.
func TestFullResponseFitsTheKubeletLimit(t *testing.T) {
	for _, split := range [][2]int{{OutputBudget, 0}, {0, OutputBudget}, {OutputBudget / 2, OutputBudget - OutputBudget/2}, {1, OutputBudget - 1}} {
		resp := &runtimeapi.ExecSyncResponse{
			Stdout:   make([]byte, split[0]),
			Stderr:   make([]byte, split[1]),
			ExitCode: -1, // the longest varint
		}
		if n := proto.Size(resp); n >= ResponseLimit {
			t.Errorf("split %v: response is %d bytes, not under %d", split, n, ResponseLimit)
		}
	}
	if OutputBudget/2 > 16<<20 || OutputBudget > ResponseLimit {
		t.Errorf("budget %d exceeds the limit", OutputBudget)
	}
}
