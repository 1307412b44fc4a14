package shard

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("host/team/r%02d", i)
	}
	return out
}

func TestBalance(t *testing.T) {
	tests := []struct {
		name   string
		repos  []string
		n      int
		weight map[string]int
		want   [][]string
	}{
		{name: "none", repos: nil, n: 4, want: [][]string{}},
		{name: "zero shards", repos: []string{"a"}, n: 0, want: [][]string{}},
		{name: "fewer repositories than shards", repos: []string{"b", "a"}, n: 4, want: [][]string{{"a"}, {"b"}}},
		{name: "duplicates once", repos: []string{"a", "a", "b"}, n: 2, want: [][]string{{"a"}, {"b"}}},
		{name: "by count", repos: []string{"e", "d", "c", "b", "a"}, n: 2, want: [][]string{{"a", "c", "e"}, {"b", "d"}}},
		{name: "by weight", repos: []string{"a", "b", "c", "d"}, n: 2,
			weight: map[string]int{"a": 10, "b": 1, "c": 1, "d": 8},
			want:   [][]string{{"a"}, {"b", "c", "d"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w func(string) int
			if tt.weight != nil {
				w = func(r string) int { return tt.weight[r] }
			}
			if got := Balance(tt.repos, tt.n, w); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Balance = %v, want %v", got, tt.want)
			}
		})
	}
}

// The same repositories in any order give the same shards, each sorted,
// together every repository once, no two differing by more than one.
func TestBalanceStable(t *testing.T) {
	repos := names(41)
	want := Balance(repos, 4, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(repos)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := Balance(shuffled, 4, nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("order changed the shards:\n%v\n%v", got, want)
		}
	}
	var all []string
	for _, s := range want {
		if !slices.IsSorted(s) {
			t.Fatalf("shard %v is not sorted", s)
		}
		if len(s) < 10 || len(s) > 11 {
			t.Fatalf("shard of %d repositories, want 10 or 11", len(s))
		}
		all = append(all, s...)
	}
	slices.Sort(all)
	if !reflect.DeepEqual(all, repos) {
		t.Fatalf("the shards hold %v, want %v", all, repos)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Expansion
		wantErr string
	}{
		{name: "shards output", in: `[["b","a"],["c"]]`, want: &Expansion{Repositories: []string{"a", "b", "c"}, Shards: [][]string{{"b", "a"}, {"c"}}}},
		{name: "record", in: `{"repositories":["a","b"],"shards":[["a"],["b"]]}`, want: &Expansion{Repositories: []string{"a", "b"}, Shards: [][]string{{"a"}, {"b"}}}},
		{name: "record without shards", in: "\n{\"repositories\":[\"a\",\"b\"]}\n", want: &Expansion{Repositories: []string{"a", "b"}, Shards: [][]string{{"a", "b"}}}},
		{name: "not JSON", in: "shards.json", wantErr: "not JSON"},
		{name: "bad array", in: `["a"]`, wantErr: "not a JSON array of repository lists"},
		{name: "empty", in: `[]`, wantErr: "names no shard"},
		{name: "empty shard", in: `[["a"],[]]`, wantErr: "shard 2 of 2 is empty"},
		{name: "twice", in: `[["a"],["a"]]`, wantErr: "a is in shard 1 and in shard 2"},
		{name: "in no shard", in: `{"repositories":["a","b"],"shards":[["a"]]}`, wantErr: "b is in `repositories` but in no shard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}
