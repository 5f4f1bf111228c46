package mapping

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/synthetic"
)

func benchRecords(n int) []model.Record {
	departments := []string{"102", "200", "999"}
	records := make([]model.Record, n)
	for i := range records {
		id := strconv.Itoa(i)
		records[i] = model.Record{
			ID: "guid-" + id,
			DN: "cn=user" + id + ",ou=people,dc=example,dc=com",
			Attributes: map[string][]string{
				"sAMAccountName":   {"user" + id},
				"mail":             {"User" + id + "@Example.com"},
				"telephoneNumber":  {"+49 30 " + id},
				"departmentNumber": {departments[i%len(departments)]},
				"givenName":        {"Given" + id},
				"sn":               {"Family" + id},
				"title":            {"Engineer"},
				"employeeID":       {id},
				"objectClass":      {"top", "person", "organizationalPerson", "user"},
				"proxyAddresses":   {"smtp:user" + id + "@example.com", "SMTP:user" + id + "@example.org"},
			},
			Groups:   []string{"staff", "app-crm", "app-wiki", "vpn-users", "building-" + strconv.Itoa(i%7)},
			Disabled: i%50 == 0,
		}
		if i%4 == 0 {
			records[i].Groups = append(records[i].Groups, "pilot")
		}
	}
	return records
}

// cpuTime is the CPU time the process used so far: on a shared machine the wall time of a
// benchmark says little, its CPU time per operation does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkMapAll100k(b *testing.B) {
	m := mustCompile(b, realisticRules()...)
	records := benchRecords(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		users, problems, _ := m.MapAll(records)
		if len(users) == 0 || len(problems) == 0 {
			b.Fatalf("%d users, %d problems", len(users), len(problems))
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*len(records)), "cpu-ns/record")
}

// syntheticRules are the rules of the in-memory scale bench (test/bench, synthetic.RuleSpec).
func syntheticRules() []NamedRule {
	return []NamedRule{{Name: "bench", Generation: 1, Spec: synthetic.RuleSpec()}}
}

// BenchmarkMapSynthetic100k maps the scale bench's synthetic directory with its rules.
func BenchmarkMapSynthetic100k(b *testing.B) {
	m := mustCompile(b, syntheticRules()...)
	snap, err := (&synthetic.Source{Users: 100_000, Groups: 2000}).Read(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	records := snap.Records
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		out, err := m.MapRecords(context.Background(), records)
		if err != nil || len(out.Users) != len(records) {
			b.Fatalf("%d users of %d: %v", len(out.Users), len(records), err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*len(records)), "cpu-ns/record")
}
