package wistiasim

import (
	_ "embed"
	"slices"
)

//go:embed testdata/openapi-v1.yml
var openAPISpec []byte

// OpenAPISpec returns Wistia's published OpenAPI document for the Data API v1
// (testdata/openapi-v1.yml, copied from shared/wistia): the contract the simulator's answers are
// tested against and the live API is checked against (cmd/contract). The copy is the caller's.
func OpenAPISpec() []byte { return slices.Clone(openAPISpec) }
