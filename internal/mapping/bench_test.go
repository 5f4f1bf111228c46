package mapping

import (
	"strconv"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
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

func BenchmarkMapAll100k(b *testing.B) {
	m := mustCompile(b, realisticRules()...)
	records := benchRecords(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		users, problems, _ := m.MapAll(records)
		if len(users) == 0 || len(problems) == 0 {
			b.Fatalf("%d users, %d problems", len(users), len(problems))
		}
	}
}
