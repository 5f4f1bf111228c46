// Command demo runs the whole sync loop on this machine without a cluster: envtest, slapd, SCIMMY and
// the operator in one process (see internal/demo). It is a separate command so that the manager
// binary links no test harness.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/directory-sync/directory-sync-operator/internal/demo"
)

func main() {
	if err := demo.Run(context.Background(), os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
