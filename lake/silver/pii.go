package silver

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// PII is what silver may hold of personal data. Silver's typed columns carry no email; the
// quarantine keeps a bad record as it came, so its emails are replaced unless silver may hold
// PII: by a salted hash when there is a salt (records of one person can still be matched), by
// "redacted" otherwise. IPs are kept, as silver.events keeps them. Bronze stays raw.
type PII struct {
	InSilver bool   // PII_COLUMNS_IN_SILVER
	Salt     []byte // PII_SALT; a secret
}

// redactedEmail replaces an email when no salt is set.
const redactedEmail = "redacted"

// scrub returns the record with the value of every "email" field, at any depth, replaced.
// A record without one, or that is not JSON, is returned as it came.
func (p PII) scrub(record string) string {
	if p.InSilver || !strings.Contains(strings.ToLower(record), `"email"`) {
		return record
	}
	dec := json.NewDecoder(strings.NewReader(record))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return record
	}
	if !p.replaceEmails(v) {
		return record
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return record
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// replaceEmails replaces email strings in place and reports whether it changed anything.
func (p PII) replaceEmails(v any) bool {
	changed := false
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && strings.EqualFold(k, "email") && s != "" {
				v[k] = p.hash(s)
				changed = true
				continue
			}
			changed = p.replaceEmails(x) || changed
		}
	case []any:
		for _, x := range v {
			changed = p.replaceEmails(x) || changed
		}
	}
	return changed
}

func (p PII) hash(email string) string {
	if len(p.Salt) == 0 {
		return redactedEmail
	}
	mac := hmac.New(sha256.New, p.Salt)
	mac.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "hmac-sha256:" + hex.EncodeToString(mac.Sum(nil))
}
