package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// scrape reads GET /metrics and parses it with the Prometheus library's
// parser of the text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s: %s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// sample is the value of the metric of family with every label given, or
// -1 when there is none.
func sample(families map[string]*dto.MetricFamily, family string, labels map[string]string) float64 {
	f := families[family]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestMetricsDuringSwitchover scrapes /metrics while a switchover holds
// new connections, and after it: the held connection and every phase's
// duration show, with the outcome, the instances, the deployment's lag and
// the API's requests. The exposition parses with Prometheus's parser.
func TestMetricsDuringSwitchover(t *testing.T) {
	t.Parallel()
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15")
	rig := startAPI(t, svc)
	ctx := ctxFor(t, 5*time.Minute)
	blue := createPostgres(t, svc, "mx", "15")
	port := blue.Endpoint.Port
	if _, err := connect(t, blue, "app").Exec(ctx, `CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int NOT NULL,
		seq int NOT NULL, at timestamptz DEFAULT now(), UNIQUE (writer, seq))`); err != nil {
		t.Fatal(err)
	}
	dep := createBlueGreen(t, svc, "mx-bg", blue.DBInstanceArn, "15", "")
	id := dep.BlueGreenDeploymentIdentifier
	if _, err := rig.client.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("mx")}); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	l, wg := runWriters(t, port, 0, 2, stop)
	var during map[string]*dto.MetricFamily
	var held sync.WaitGroup
	svc.SetSwitchoverHook(func(d, phase string) {
		if d != id || phase != bluegreen.PhaseStopWrites {
			return
		}
		// The endpoints hold new connections now: one more arrives.
		held.Add(1)
		go func() {
			defer held.Done()
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second); err == nil {
				c.Close()
			}
		}()
		deadline := time.Now().Add(5 * time.Second)
		for {
			during = scrape(t, rig.url)
			if sample(during, "teal_endpoint_connections", map[string]string{"endpoint": "mx", "state": "held"}) >= 1 || time.Now().After(deadline) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	defer svc.SetSwitchoverHook(nil)
	time.Sleep(300 * time.Millisecond)
	timeout := 120
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, id, &timeout); err != nil {
		t.Fatal(err)
	}
	got := waitDeployment(t, svc, id, 2*time.Minute, bluegreen.StatusSwitchoverCompleted, bluegreen.StatusSwitchoverFailed)
	close(stop)
	wg.Wait()
	held.Wait()
	if got.Status != bluegreen.StatusSwitchoverCompleted {
		t.Fatalf("switchover %s: %s", got.Status, got.StatusDetails)
	}
	c := connect(t, waitStatus(t, svc, "mx", "available", time.Minute), "app")
	checkLedger(t, c, l)
	c.Close(context.Background())

	if during == nil {
		t.Fatal("the phase hook never scraped")
	}
	if v := sample(during, "teal_endpoint_connections", map[string]string{"endpoint": "mx", "state": "held"}); v < 1 {
		t.Errorf("during the hold, mx's held connections: %v", v)
	}
	if v := sample(during, "teal_bluegreen_deployment_status", map[string]string{"deployment": id, "status": bluegreen.StatusSwitchoverInProgress}); v != 1 {
		t.Errorf("during the switchover, the deployment's status sample: %v", v)
	}

	after := scrape(t, rig.url)
	if v := sample(after, "teal_switchovers_total", map[string]string{"outcome": "completed"}); v != 1 {
		t.Errorf("completed switchovers: %v", v)
	}
	for _, phase := range []string{bluegreen.PhaseGuardrails, bluegreen.PhaseHold, bluegreen.PhaseStopWrites,
		bluegreen.PhaseCatchUp, bluegreen.PhaseSequences, bluegreen.PhaseCommitted, bluegreen.PhaseRelease} {
		if v := sample(after, "teal_switchover_phase_duration_seconds", map[string]string{"phase": phase}); v != 1 {
			t.Errorf("phase %s observed %v times", phase, v)
		}
	}
	if v := sample(after, "teal_db_instance_status", map[string]string{"instance": "mx", "status": "available"}); v != 1 {
		t.Errorf("instance mx available: %v", v)
	}
	if v := sample(after, "teal_db_instance_status", map[string]string{"instance": "mx-old1"}); v != 1 {
		t.Errorf("instance mx-old1: %v", v)
	}
	// A read replica of the new production: its lag is measured at the
	// scrape.
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{DBInstanceIdentifier: "mx-r", SourceDBInstanceIdentifier: "mx"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, "mx-r", rds.StatusAvailable, 2*time.Minute)
	after = scrape(t, rig.url)
	if v := sample(after, "teal_replica_lag_seconds", map[string]string{"instance": "mx-r", "source": "mx"}); v < 0 {
		t.Errorf("replica lag of mx-r: %v", v)
	}
	if v := sample(after, "teal_api_requests_total", map[string]string{"action": "DescribeDBInstances", "code": "200"}); v < 1 {
		t.Errorf("API requests of DescribeDBInstances: %v", v)
	}
	if v := sample(after, "teal_api_request_duration_seconds", map[string]string{"action": "DescribeDBInstances"}); v < 1 {
		t.Errorf("API request durations of DescribeDBInstances: %v", v)
	}
	// An action teal does not know is counted under one label.
	resp, err := http.Get(rig.url + "/?Action=" + strings.Repeat("X", 40))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, m := range scrape(t, rig.url)["teal_api_requests_total"].GetMetric() {
		for _, lb := range m.GetLabel() {
			if lb.GetName() == "action" && strings.HasPrefix(lb.GetValue(), "XXX") {
				t.Errorf("a request's own action name became a label: %s", lb.GetValue())
			}
		}
	}
}
