// Command teal is self-hosted blue/green deployments for PostgreSQL and
// MariaDB, driven through the Amazon RDS API.
package main

import (
	"os"

	"github.com/tealdb/teal/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
