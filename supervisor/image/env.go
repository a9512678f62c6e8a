package image

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
)

// The manifest records the checkpoint's environment by name, each value as
// a keyed hash: enough to tell at restore which variables changed, without
// writing a secret into the manifest. The key (env_salt) is random per image,
// so equal values in two images do not hash alike.

// HashEnv returns a fresh salt and the hash of every variable's value.
func HashEnv(environ map[string]string) (salt string, hashes map[string]string, err error) {
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return "", nil, fmt.Errorf("salt for the environment's hashes: %w", err)
	}
	salt = hex.EncodeToString(key)
	hashes = make(map[string]string, len(environ))
	for name, value := range environ {
		hashes[name] = envHash(key, value)
	}
	return salt, hashes, nil
}

func envHash(key []byte, value string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(value))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// EnvDiff lists, sorted, the variables whose value at restore (environ)
// differs from the checkpoint's, including those set only at one of the
// two. known is false when the image records no environment (an older
// stasis made it): then nothing can be said.
func (m *Manifest) EnvDiff(environ map[string]string) (names []string, known bool) {
	if m.Env == nil {
		return nil, false
	}
	key, err := hex.DecodeString(m.EnvSalt)
	if err != nil {
		return nil, false
	}
	for name, value := range environ {
		if h, ok := m.Env[name]; !ok || !hmac.Equal([]byte(h), []byte(envHash(key, value))) {
			names = append(names, name)
		}
	}
	for name := range m.Env {
		if _, ok := environ[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, true
}
