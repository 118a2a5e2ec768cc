//go:build !unix

package loadgen

// raiseFileLimit does nothing where there is no RLIMIT_NOFILE.
func raiseFileLimit() (uint64, error) { return 1 << 20, nil }
