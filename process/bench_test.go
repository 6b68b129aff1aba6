package process

import (
	"testing"
)

// BenchmarkApplyServiceRequest measures one interpreter step: a progress and a regress.
func BenchmarkApplyServiceRequest(b *testing.B) {
	c, err := LoadDir("../definitions")
	if err != nil {
		b.Fatal(err)
	}
	q, _ := c.Queue("billing")
	sr, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "r", Queue: "billing", Subject: "s", Contact: Contact{Email: "a@b"}}, "alice", t0)
	if err != nil {
		b.Fatal(err)
	}
	progress := Action{Kind: ActionProgress, Actor: "alice"}
	regress := Action{Kind: ActionRegress, Actor: "alice", Reason: "r"}
	b.ReportAllocs()
	for b.Loop() {
		next, _, err := ApplyServiceRequest(q, sr, progress, t0)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ApplyServiceRequest(q, next, regress, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadDir measures loading and validating the shipped definitions.
func BenchmarkLoadDir(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadDir("../definitions"); err != nil {
			b.Fatal(err)
		}
	}
}
