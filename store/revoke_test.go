package store

import (
	"testing"
	"time"
)

// A hub that never enrolled an agent (its broker a NATS cluster) revokes
// one by name: the record lists it revoked, with no certificate, and a
// second revocation keeps the first time.
func TestRevokeAgentNameWithoutEnrolment(t *testing.T) {
	h, _ := newHub(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := h.RevokeAgentName("site-c", at); err != nil {
		t.Fatalf("revoke on a hub with no enrolment: %v", err)
	}
	if _, err := h.RevokeAgentName("site-c", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	list, err := h.AgentCerts()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "site-c" || list[0].Serial != "" || !list[0].Revoked.Equal(at) {
		t.Fatalf("agent records %+v, want site-c revoked at %s with no certificate", list, at)
	}
}
