package testenv

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server killed from outside is reported as a crash, with its program named; one stopped by
// Stop is not, and Start brings it back on the same port.
func TestServerReportsItsCrashes(t *testing.T) {
	d := StartDynamoDB(t)
	d.Stop()
	assert.Empty(t, d.Crashes(), "Stop is not a crash")

	d.Start()
	require.NoError(t, syscall.Kill(d.PID(), syscall.SIGKILL))
	require.Eventually(t, func() bool { return d.PID() == 0 }, 10*time.Second, 10*time.Millisecond)
	crashes := d.Crashes()
	require.Len(t, crashes, 1)
	assert.Contains(t, crashes[0], "dynalite exited on its own")
	assert.Contains(t, crashes[0], "signal: killed")
	assert.Empty(t, d.Crashes(), "each crash is returned once")

	d.Start()
	assert.NotZero(t, d.PID(), "started again on %s", d.Addr)
}
