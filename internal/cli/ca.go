package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// runCA prints the CA certificate of the teal server at the endpoint, for
// clients to verify database servers with (sslrootcert=, --ssl-ca=).
func runCA(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("teal ca", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint-url", env("TEAL_ENDPOINT", defaultEndpoint), "the teal server (env TEAL_ENDPOINT)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(*endpoint, "/")+"/ca.pem", nil)
	if err != nil {
		fmt.Fprintln(stderr, "teal ca:", err)
		return 2
	}
	hc, err := httpClient()
	if err != nil {
		fmt.Fprintln(stderr, "teal ca:", err)
		return 2
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "teal ca: cannot reach %s: %v (set --endpoint-url or TEAL_ENDPOINT)\n", *endpoint, err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		fmt.Fprintln(stderr, "teal ca:", err)
		return 1
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "BEGIN CERTIFICATE") {
		fmt.Fprintf(stderr, "teal ca: %s answered %s\n", *endpoint, resp.Status)
		return 1
	}
	if _, err := stdout.Write(body); err != nil {
		fmt.Fprintln(stderr, "teal ca:", err)
		return 1
	}
	return 0
}
