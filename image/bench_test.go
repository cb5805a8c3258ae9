package image

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// benchImage is a ~100 MiB (uncompressed) image of 8 layers, each of 100
// files of 128 KiB: half random bytes (incompressible, like binaries'
// compressed sections), half repetitive text (like configs and scripts).
func benchImage(b *testing.B) (img v1.Image, uncompressed, compressed int64) {
	rng := rand.New(rand.NewSource(42))
	var layers []v1.Layer
	for l := 0; l < 8; l++ {
		var es []ent
		es = append(es, dirEnt(fmt.Sprintf("layer%d/", l), 0o755))
		for f := 0; f < 100; f++ {
			var body string
			if f%2 == 0 {
				buf := make([]byte, 128<<10)
				rng.Read(buf)
				body = string(buf)
			} else {
				line := fmt.Sprintf("line %d of file %d in layer %d\n", rng.Intn(1000), f, l)
				body = strings.Repeat(line, 128<<10/len(line)+1)[:128<<10]
			}
			es = append(es, fileEnt(fmt.Sprintf("layer%d/file%03d", l, f), body, 0o644))
		}
		raw := tarOf(b, es...)
		uncompressed += int64(len(raw))
		layer := layerOf(b, raw, tarball.WithCompressedCaching)
		size, err := layer.Size()
		if err != nil {
			b.Fatal(err)
		}
		compressed += size
		layers = append(layers, layer)
	}
	return imageOf(b, "amd64", "bench", layers...), uncompressed, compressed
}

// BenchmarkPull measures a cold pull (resolve, download, verify, unpack,
// fsync, commit) of a ~100 MiB multi-layer image from the in-process
// registry over loopback. MB/s is uncompressed layer bytes per second.
func BenchmarkPull(b *testing.B) {
	reg := newRegistry(b, false)
	img, uncompressed, compressed := benchImage(b)
	reg.push(b, "bench:1", img)
	b.SetBytes(uncompressed)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, err := os.MkdirTemp("", "bench-store-")
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(dir, Options{Mirrors: mirrorTo(reg), Transport: (&dialLog{}).transport(nil)})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p, err := s.Pull(context.Background(), "example.test/bench:1", nil)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		p.Release()
		s.Close()
		os.RemoveAll(dir)
	}
	b.ReportMetric(float64(compressed)*float64(b.N)/1e6/b.Elapsed().Seconds(), "compressed-MB/s")
}
