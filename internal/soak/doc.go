// Package soak runs the pipeline's real stack (the Temporal dev server on a persisted
// database, versitygw, dynalite, goaws, the Wistia simulator and three worker processes)
// through consecutive simulated days started by the wistia-daily schedule, with faults, and
// checks the lakehouse against the simulator's ground truth after every day. Its only code is
// the test: `make soak` runs a week (CI runs it after `make test`, which leaves it out).
package soak
