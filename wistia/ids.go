package wistia

import "fmt"

// maxIDLength bounds an ID the pipeline puts in object keys and workflow IDs.
const maxIDLength = 64

// CheckID reports whether an ID from the API (a media's hashed_id, a visitor_key) is a plain
// token: 1 to 64 letters, digits, '_' or '-'. Only such IDs go into object keys and workflow
// IDs; any other (a '/', "..", whitespace, empty, too long) is refused, naming what was wrong.
func CheckID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("%s is empty", kind)
	}
	if len(id) > maxIDLength {
		return fmt.Errorf("%s %.20q… is %d characters long, more than %d", kind, id, len(id), maxIDLength)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("%s %q holds %q: only letters, digits, '_' and '-' are allowed", kind, id, r)
		}
	}
	return nil
}
