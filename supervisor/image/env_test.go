package image

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEnvDiffByNameOnly(t *testing.T) {
	at := map[string]string{"DB_URL": "jdbc:one", "SECRET": "hunter2", "GONE": "x", "SAME": "1"}
	salt, hashes, err := HashEnv(at)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Env: hashes, EnvSalt: salt}
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "jdbc:one") {
		t.Fatalf("a value reached the manifest: %s", b)
	}
	diff, known := m.EnvDiff(map[string]string{"DB_URL": "jdbc:two", "SECRET": "hunter2", "SAME": "1", "NEW": ""})
	if !known || strings.Join(diff, ",") != "DB_URL,GONE,NEW" {
		t.Fatalf("diff %q (known %v), want DB_URL,GONE,NEW", diff, known)
	}
	if diff, _ := m.EnvDiff(at); len(diff) != 0 {
		t.Fatalf("the same environment differs: %q", diff)
	}
	if _, known := (&Manifest{}).EnvDiff(at); known {
		t.Fatal("a manifest without an environment cannot tell")
	}
	// Another image of the same environment hashes differently (its own salt).
	_, other, _ := HashEnv(at)
	if other["SECRET"] == hashes["SECRET"] {
		t.Fatal("two images hash a value alike: the salt is not per image")
	}
}
