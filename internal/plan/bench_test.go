package plan

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkBuild10k plans a 10,000-tag repository: 2,000 multi-arch indexes
// with two children, signatures and shared tags.
func BenchmarkBuild10k(b *testing.B) {
	f := newFx(capsOCI3)
	for i := range 2000 {
		n := fmt.Sprint("i", i)
		f.img(n+"-amd64", daysAgo(i%365)).img(n+"-arm64", daysAgo(i%365)).
			index(n, daysAgo(i%365), []string{n + "-amd64", n + "-arm64"},
				fmt.Sprintf("v1.%d.%d", i/100, i%100), fmt.Sprint("pr-", i), fmt.Sprint("sha-", i), fmt.Sprint("build-", i)).
			sig(n+"-sig", n)
	}
	g := f.done()
	pol := Policy{Include: mustMatcher(b, "v*", "pr-*", "sha-*", "build-*"), KeepLatest: 10, OlderThan: 30 * 24 * time.Hour, DeleteReferrers: true}
	b.ResetTimer()
	for b.Loop() {
		Build(g, pol, testNow)
	}
}
