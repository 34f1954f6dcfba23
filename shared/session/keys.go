package session

import (
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Keys are a purpose's signing keys: the current one signs; the current
// and the previous one verify, so a key can be rotated without refusing
// what was signed just before (docs/operations.md, "Rotating the keys").
type Keys interface {
	// Signing is the current key.
	Signing() []byte
	// Verifying are the keys a signature may be made with, current first.
	Verifying() [][]byte
}

// StaticKeys are keys that do not change while the process runs.
type StaticKeys struct{ Current, Previous []byte }

// Signing returns the current key.
func (k StaticKeys) Signing() []byte { return k.Current }

// Verifying returns the current key and, when there is one, the previous.
func (k StaticKeys) Verifying() [][]byte {
	if len(k.Previous) == 0 {
		return [][]byte{k.Current}
	}
	return [][]byte{k.Current, k.Previous}
}

func checkKeys(what string, keys Keys) error {
	for _, k := range keys.Verifying() {
		if len(k) < MinKeyBytes {
			return fmt.Errorf("%s key is %d bytes; at least %d are required", what, len(k), MinKeyBytes)
		}
	}
	if len(keys.Signing()) < MinKeyBytes {
		return fmt.Errorf("%s key is %d bytes; at least %d are required", what, len(keys.Signing()), MinKeyBytes)
	}
	return nil
}

// verificationSet is what golang-jwt tries a signature against: each key
// in turn.
func verificationSet(keys Keys) jwt.VerificationKeySet {
	var set jwt.VerificationKeySet
	for _, k := range keys.Verifying() {
		set.Keys = append(set.Keys, k)
	}
	return set
}
