package workflows_test

import "os/exec"

func testenvCommand(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
