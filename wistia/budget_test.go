package wistia

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConfigDefaultsAreWistiasBudget keeps the client's default budget, which struct tags spell
// out, equal to the published one.
func TestConfigDefaultsAreWistiasBudget(t *testing.T) {
	typ := reflect.TypeFor[Config]()
	limit, _ := typ.FieldByName("RateLimit")
	period, _ := typ.FieldByName("RatePeriod")
	require.Equal(t, strconv.Itoa(AccountRateLimit), limit.Tag.Get("default"))
	d, err := time.ParseDuration(period.Tag.Get("default"))
	require.NoError(t, err)
	require.Equal(t, AccountRatePeriod, d)
}
