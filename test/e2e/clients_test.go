package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// tealServe runs the real `teal serve` binary on a fresh data directory with
// known root credentials, and stops it when the test ends. It returns the
// API endpoint.
func tealServe(t *testing.T, dir string) string {
	t.Helper()
	return startServe(t, buildTeal(t), dir,
		append(os.Environ(), "TEAL_ACCESS_KEY_ID=AKIATESTROOT0000000", "TEAL_SECRET_ACCESS_KEY=test-root-secret"))
}

// startServe runs `teal serve` with env until the test ends and returns
// its API endpoint once it answers /healthz.
func startServe(t *testing.T, bin, dir string, env []string) string {
	t.Helper()
	return startServeWith(t, bin, dir, env, nil)
}

// startServeWith starts `teal serve` with more options; a client that
// must trust it is given (for the API over TLS).
func startServeWith(t *testing.T, bin, dir string, env []string, client *http.Client, extra ...string) string {
	t.Helper()
	listen := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve", "--data-dir", dir, "--listen", listen, "--log-level", "warn"}, extra...)...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	endpoint := "http://" + listen
	if client != nil {
		endpoint = "https://" + listen
	}
	eventually(t, 30*time.Second, "teal serve answers /healthz", func() error {
		var code int
		var err error
		if client == nil {
			code, err = httpGet(endpoint + "/healthz")
		} else {
			var resp *http.Response
			if resp, err = client.Get(endpoint + "/healthz"); err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
		}
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return errorf("healthz: %d", code)
		}
		return nil
	})
	return endpoint
}

// clientEnv is the environment for a real AWS client talking to teal.
func clientEnv(endpoint string) []string {
	return append(os.Environ(),
		"TEAL_ENDPOINT="+endpoint,
		"AWS_ACCESS_KEY_ID=AKIATESTROOT0000000",
		"AWS_SECRET_ACCESS_KEY=test-root-secret",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
		"PYTHONUNBUFFERED=1",
	)
}

func runClient(t *testing.T, endpoint string, timeout time.Duration, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = clientEnv(endpoint)
	out, err := cmd.CombinedOutput()
	t.Logf("%s %v:\n%s", name, args, out)
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
}

// TestBoto3AndAWSCLI runs the same first session with boto3 and with the AWS
// CLI against a real teal serve; the scripts assert the results.
func TestBoto3AndAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the AWS CLI is not installed")
	}
	endpoint := tealServe(t, dataDir(t))
	runClient(t, endpoint, 5*time.Minute, "python3", "../clients/boto3_flow.py")
	runClient(t, endpoint, 5*time.Minute, "env", "TEAL_TEST_PREFIX=maria", "TEAL_TEST_ENGINE=mariadb",
		"TEAL_TEST_VERSION=10.11", "TEAL_TEST_FAMILY=mariadb10.11", "python3", "../clients/boto3_flow.py")
	runClient(t, endpoint, 5*time.Minute, "bash", "../clients/awscli_flow.sh")
}
