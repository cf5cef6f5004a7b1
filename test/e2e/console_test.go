package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tealdb/teal/internal/server"
)

// TestConsole drives the web console in a headless Chromium against a real
// teal serve with real servers: sign in with the root key, create an
// instance, create a blue/green deployment to a newer PostgreSQL, watch it
// become available, open Switch over, check the summary and the
// guardrails, have a bad timeout refused, switch over and see it complete.
// Then a read-only key: it sees everything, its buttons are disabled, and
// the server refuses its switchover anyway; a request without the
// session's CSRF token is refused too. Screenshots go to
// TEAL_CONSOLE_SCREENSHOTS when it is set (docs/console/ is made so).
func TestConsole(t *testing.T) {
	t.Parallel()
	browser, endpoint, root, teal := consoleRig(t, "chromium")
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := teal.ok(t, "iam", "create-access-key", "--policy-file", policy, "--description", "console reader", "--output", "json")
	var reader struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	if err := json.Unmarshal([]byte(out), &reader); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("TEAL_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	b := newPage(t, browser, shots)
	// Sign in as root.
	b.run(chromedp.Navigate(endpoint+"/console"), chromedp.WaitVisible(chromedp.ID("#access-key-id")))
	b.signIn(root.AccessKeyID, "wrong-secret")
	b.waitText(".signin .error", "InvalidClientTokenId")
	b.signIn(root.AccessKeyID, root.SecretAccessKey)
	b.run(chromedp.WaitEnabled(chromedp.ID("#create-instance")))

	// Create an instance from the Databases page.
	b.run(chromedp.Click(chromedp.ID("#create-instance")), chromedp.WaitVisible(chromedp.ID("#f-id")))
	b.selectOption("#f-engine", "postgres 15")
	b.run(chromedp.SendKeys(chromedp.ID("#f-id"), "web-db"), chromedp.SendKeys(chromedp.ID("#f-password"), masterPass),
		chromedp.Click(chromedp.ID("#dialog-submit")))
	b.waitEval(`document.querySelector('#instances tr[data-id="web-db"] [data-status]')?.dataset.status`, "available", 3*time.Minute)

	// Its page, and a blue/green deployment to the newest PostgreSQL.
	b.run(chromedp.Click(chromedp.CSS(`#instances tr[data-id="web-db"] a`)), chromedp.WaitEnabled(chromedp.ID("#create-bgd")))
	b.waitText("#connection-string", "user=master")
	b.run(chromedp.Click(chromedp.ID("#create-bgd")), chromedp.WaitVisible(chromedp.ID("#f-name")))
	b.selectOption("#f-version", "17")
	b.run(chromedp.SetValue(chromedp.ID("#f-name"), "web-upgrade"), chromedp.Click(chromedp.ID("#dialog-submit")))
	b.waitEval(`document.querySelector('h1 [data-status]')?.dataset.status`, "AVAILABLE", 6*time.Minute)
	b.waitText("#topology", "postgres 17")
	b.waitEval(`Number(document.querySelector('.chart')?.dataset.samples) >= 6 ? 'drawn' : ''`, "drawn", time.Minute)
	b.screenshot("deployment.png")

	// The Databases page shows the deployment beside its members.
	b.run(chromedp.Click(chromedp.CSS(`header a[href="#/"]`)), chromedp.WaitVisible(chromedp.ID("#deployments")))
	b.waitText(`#instances tr[data-id="web-db"]`, "blue")
	b.waitEval(`[...document.querySelectorAll('#instances tr')].some(r => r.dataset.id?.startsWith('web-db-green-') && r.textContent.includes('green')) ? 'yes' : ''`, "yes", 30*time.Second)
	b.screenshot("databases.png")
	b.run(chromedp.Click(chromedp.CSS(`#deployments a`)), chromedp.WaitVisible(chromedp.ID("#switchover")))
	b.waitEval(`document.querySelector('#switchover').disabled + ''`, "false", 30*time.Second)

	// Switch over, as the RDS console does it.
	b.run(chromedp.Click(chromedp.ID("#switchover")), chromedp.WaitVisible(chromedp.ID("#switchover-summary")))
	b.waitText("#switchover-summary", "web-db-old1")
	b.waitEval(`[...document.querySelectorAll('#guardrails li')].map(l => l.dataset.ok).join()`, "true,true,true,true", time.Minute)
	b.run(chromedp.SetValue(chromedp.ID("#switchover-timeout"), "10"), chromedp.Click(chromedp.ID("#switchover-confirm")))
	b.waitText("form .error", "InvalidParameterValue")
	b.run(chromedp.SetValue(chromedp.ID("#switchover-timeout"), "120"), chromedp.Click(chromedp.ID("#switchover-confirm")),
		chromedp.WaitVisible(chromedp.ID("#phases")))
	b.screenshot("switchover.png")
	b.waitText("#switchover-outcome", "Completed: green is production.")
	b.waitEval(`[...document.querySelectorAll('#phases li')].every(l => l.className === 'done') ? 'all done' : ''`, "all done", 30*time.Second)
	b.screenshot("switchover-done.png")
	b.run(chromedp.Navigate(endpoint + "/console/#/instance/web-db"))
	b.waitText("#instance-details", "postgres 17")

	// A request without the session's CSRF token is refused.
	b.waitEval(`fetch('/console/api', {method: 'POST', body: new URLSearchParams({Action: 'DescribeDBInstances'})}).then(r => r.status + '')`, "403", 10*time.Second)

	// A read-only key sees everything and changes nothing.
	// It signs in with the keyboard alone: the form has the focus, Tab
	// moves to the secret, Enter signs in.
	b.run(chromedp.Click(chromedp.ID("#signout")), chromedp.WaitVisible(chromedp.ID("#access-key-id")))
	b.waitEval(`document.activeElement?.id`, "access-key-id", 10*time.Second)
	b.run(chromedp.KeyEvent(reader.AccessKey.AccessKeyId + "\t" + reader.AccessKey.SecretAccessKey + "\r"))
	b.waitEval(`document.querySelector('#instances tr[data-id="web-db"] [data-status]')?.dataset.status`, "available", 30*time.Second)
	b.waitEval(`document.querySelector('#create-instance').disabled + ''`, "true", 10*time.Second)
	b.run(chromedp.Click(chromedp.CSS(`#deployments a`)))
	b.waitEval(`document.querySelector('#switchover')?.title || ''`, "Your access key may not switch over", 30*time.Second)
	id, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`decodeURIComponent(location.hash.split('/')[2])`))
	if err != nil {
		t.Fatal(err)
	}
	b.waitEval(fmt.Sprintf(`call('SwitchoverBlueGreenDeployment', {BlueGreenDeploymentIdentifier: %q}).then(() => 'accepted', e => e.code)`, id),
		"AccessDenied", 10*time.Second)
	b.waitEval(`call('DeleteDBInstance', {DBInstanceIdentifier: 'web-db', SkipFinalSnapshot: true}).then(() => 'accepted', e => e.code)`,
		"AccessDenied", 10*time.Second)
	b.waitEval(`document.querySelector('#delete-deployment')?.disabled + ''`, "true", 10*time.Second)

	// Root deletes the deployment; the dialog explains DeleteTarget, and
	// after a switchover green, now production, is kept.
	b.run(chromedp.Click(chromedp.ID("#signout")), chromedp.WaitVisible(chromedp.ID("#access-key-id")))
	b.signIn(root.AccessKeyID, root.SecretAccessKey)
	b.run(chromedp.Click(chromedp.CSS(`#deployments a`)), chromedp.WaitEnabled(chromedp.ID("#delete-deployment")),
		chromedp.Click(chromedp.ID("#delete-deployment")), chromedp.WaitVisible(chromedp.ID("#f-target")))
	b.waitText("dialog", "green is production and is kept")
	b.run(chromedp.Click(chromedp.ID("#dialog-submit")))
	b.waitText("main", "No blue/green deployments.")
	b.waitEval(`document.querySelector('#instances tr[data-id="web-db"] [data-status]')?.dataset.status`, "available", 30*time.Second)
}

// TestConsoleCluster shows a DB cluster in the console: the cluster with
// its writer and reader on the Databases page, its page with the members'
// roles and the cluster, reader and custom endpoints, and a failover from
// the browser that makes the reader the writer.
func TestConsoleCluster(t *testing.T) {
	t.Parallel()
	browser, endpoint, root, teal := consoleRig(t, "chromium")
	teal.ok(t, "create-db-cluster", "--db-cluster-identifier", "orders", "--engine", "aurora-postgresql",
		"--engine-version", "15", "--master-username", masterUser, "--master-user-password", masterPass, "--database-name", "app")
	for _, id := range []string{"orders-1", "orders-2"} {
		teal.ok(t, "create-db-instance", "--db-instance-identifier", id, "--db-cluster-identifier", "orders",
			"--engine", "aurora-postgresql", "--db-instance-class", "db.r6g.large", "--wait")
	}
	teal.ok(t, "create-db-cluster-endpoint", "--db-cluster-endpoint-identifier", "reports", "--db-cluster-identifier", "orders",
		"--endpoint-type", "READER")

	b := newPage(t, browser, t.TempDir())
	b.run(chromedp.Navigate(endpoint+"/console"), chromedp.WaitVisible(chromedp.ID("#access-key-id")))
	b.signIn(root.AccessKeyID, root.SecretAccessKey)
	b.waitText(`#instances tr[data-cluster="orders"]`, "cluster")
	b.waitEval(`[...document.querySelectorAll('#instances tbody tr')].map(r => (r.dataset.cluster || r.dataset.id) + ':' + r.children[1].textContent).join()`,
		"orders:cluster,orders-1:writer,orders-2:reader", 30*time.Second)

	b.run(chromedp.Click(chromedp.CSS(`#instances tr[data-cluster="orders"] a`)), chromedp.WaitVisible(chromedp.ID("#cluster-members")))
	b.waitEval(`[...document.querySelectorAll('#cluster-members tbody tr')].map(r => r.dataset.id + ':' + r.dataset.role).join()`,
		"orders-1:writer,orders-2:reader", 30*time.Second)
	b.waitEval(`[...document.querySelectorAll('#cluster-endpoints tbody tr')].map(r => r.children[0].textContent + '|' + r.children[1].textContent + '|' + /^127\.0\.0\.1:\d+$/.test(r.children[2].textContent)).join()`,
		"Cluster (writer)||true,Reader||true,Custom READER|reports|true", 30*time.Second)

	// Fail over from the browser: the reader becomes the writer.
	b.run(chromedp.WaitEnabled(chromedp.ID("#failover")), chromedp.Click(chromedp.ID("#failover")), chromedp.WaitVisible(chromedp.ID("#f-target")))
	b.selectOption("#f-target", "orders-2")
	b.run(chromedp.Click(chromedp.ID("#dialog-submit")))
	b.waitEval(`[...document.querySelectorAll('#cluster-members tbody tr')].map(r => r.dataset.id + ':' + r.dataset.role).join()`,
		"orders-1:reader,orders-2:writer", 3*time.Minute)
	out, _ := teal.ok(t, "describe-db-clusters", "--db-cluster-identifier", "orders")
	if !strings.Contains(out, "orders-2 (writer)") {
		t.Fatalf("the API does not show the failover the page shows:\n%s", out)
	}
}

// page is the browser of a console test.
type page struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

// newPage starts a headless Chromium, closed when the test ends.
func newPage(t *testing.T, browser, shots string) *page {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancel := context.WithTimeout(ctx, 12*time.Minute)
	t.Cleanup(func() { cancel(); cancelCtx(); cancelAlloc() })
	// The browser starts with the test's context: a step's shorter one
	// would close it when the step ends.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &page{t: t, ctx: ctx, shots: shots}
}

// run runs actions, each wait in them bounded to a minute and a half.
func (p *page) run(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		body := p.text()
		p.t.Fatalf("%v; the page shows:\n%s", err, body)
	}
}

// text is what the page shows: its main part, and an open dialog.
func (p *page) text() string {
	s, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](
		`[document.querySelector('main')?.innerText, document.querySelector('dialog')?.innerText].filter(Boolean).join('\n--- dialog:\n')`))
	return s
}

func (p *page) signIn(id, secret string) {
	p.t.Helper()
	p.run(chromedp.SetValue(chromedp.ID("#access-key-id"), id), chromedp.SetValue(chromedp.ID("#secret-access-key"), secret),
		chromedp.Click(chromedp.ID("#signin")))
}

// selectOption picks the first option of a select whose value starts with
// prefix.
func (p *page) selectOption(sel, prefix string) {
	p.t.Helper()
	got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => { const s = document.querySelector(%q);
		const o = [...s.options].find(o => o.value.startsWith(%q)); if (o) s.value = o.value; return s.value; })()`, sel, prefix)))
	if err != nil || !strings.HasPrefix(got, prefix) {
		p.t.Fatalf("%s has no option %s…", sel, prefix)
	}
}

// waitEval evaluates expr (a value or a promise) until it gives want.
func (p *page) waitEval(expr, want string, limit time.Duration) {
	p.t.Helper()
	var got string
	for end := time.Now().Add(limit); ; {
		var err error
		got, err = chromedp.Run(p.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err == nil && got == want {
			return
		}
		if time.Now().After(end) {
			body := p.text()
			p.t.Fatalf("%s is %q (%v), want %q after %s; the page shows:\n%s", expr, got, err, want, limit, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitText waits until the element sel shows text containing want.
func (p *page) waitText(sel, want string) {
	p.t.Helper()
	p.waitEval(fmt.Sprintf(`(document.querySelector(%q)?.textContent || '').includes(%q) ? 'yes' : ''`, sel, want), "yes", time.Minute)
}

func (p *page) screenshot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.shots, name), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// TestConsoleInstanceActions takes an instance through the instance page's
// actions in a headless Chromium: deletion protection on (a delete is then
// refused with the API's fault, shown in the dialog) and off, a snapshot and
// a restore from it, a point-in-time restore to the latest time, a read
// replica and its promotion, a reboot, a stop and a start, and a delete
// that needs the identifier typed and takes a final snapshot.
func TestConsoleInstanceActions(t *testing.T) {
	t.Parallel()
	// Changes are collected every 2 seconds, so that a point-in-time
	// restore has a window soon.
	browser, endpoint, root, teal := consoleRig(t, "chromium", "TEAL_BACKUP_INTERVAL=2s")
	teal.ok(t, "create-db-instance", "--db-instance-identifier", "act", "--engine", "postgres", "--engine-version", "15",
		"--db-instance-class", "db.t3.micro", "--allocated-storage", "20", "--master-username", masterUser,
		"--master-user-password", masterPass, "--db-name", "app", "--backup-retention-period", "1", "--wait")

	b := newPage(t, browser, t.TempDir())
	b.run(chromedp.Navigate(endpoint+"/console/#/instance/act"), chromedp.WaitVisible(chromedp.ID("#access-key-id")))
	b.signIn(root.AccessKeyID, root.SecretAccessKey)
	status := func(want string, limit time.Duration) {
		t.Helper()
		b.waitEval(`document.querySelector('#instance-details [data-status]')?.dataset.status`, want, limit)
	}
	// dialogAction opens an action's dialog, fills its fields and submits.
	dialogAction := func(button string, fields map[string]string) {
		t.Helper()
		b.run(chromedp.WaitEnabled(chromedp.ID(button)), chromedp.Click(chromedp.ID(button)), chromedp.WaitVisible(chromedp.ID("#dialog-submit")))
		for name, value := range fields {
			b.run(chromedp.SetValue(chromedp.ID("#f-"+name), value))
		}
		b.run(chromedp.Click(chromedp.ID("#dialog-submit")))
	}
	status("available", time.Minute)

	// Deletion protection on: the delete is refused, and the dialog says why.
	b.run(chromedp.Click(chromedp.ID("#do-ModifyDBInstance")), chromedp.WaitVisible(chromedp.ID("#f-protect")),
		chromedp.Click(chromedp.ID("#f-protect")), chromedp.Click(chromedp.ID("#dialog-submit")), chromedp.WaitNotPresent(chromedp.CSS("dialog")))
	b.waitText("#instance-details", "Deletion protectionon")
	dialogAction("#do-DeleteDBInstance", map[string]string{"confirm": "act"})
	b.waitText("dialog .error", "Cannot delete protected DB Instance")
	b.run(chromedp.Click(chromedp.CSS("dialog button[type=button]")), chromedp.WaitNotPresent(chromedp.CSS("dialog")))
	b.run(chromedp.Click(chromedp.ID("#do-ModifyDBInstance")), chromedp.WaitVisible(chromedp.ID("#f-protect")),
		chromedp.Click(chromedp.ID("#f-protect")), chromedp.Click(chromedp.ID("#dialog-submit")), chromedp.WaitNotPresent(chromedp.CSS("dialog")))
	b.waitText("#instance-details", "Deletion protectionoff")

	// A snapshot, and a restore from it to an instance of its own.
	dialogAction("#do-CreateDBSnapshot", map[string]string{"id": "act-snap"})
	b.waitEval(`document.querySelector('tr[data-snapshot="act-snap"] [data-status]')?.dataset.status`, "available", 2*time.Minute)
	b.run(chromedp.Click(chromedp.CSS(`tr[data-snapshot="act-snap"] button`)), chromedp.WaitVisible(chromedp.ID("#f-id")))
	b.run(chromedp.Click(chromedp.ID("#dialog-submit")))
	b.waitEval(`location.hash`, "#/instance/act-snap-restored", 30*time.Second)
	status("available", 2*time.Minute)

	// A point-in-time restore to the latest restorable time.
	b.run(chromedp.Navigate(endpoint + "/console/#/instance/act"))
	b.waitText("#instance-details", "Restorable")
	b.waitEval(`document.querySelector('#instance-details').textContent.includes('Restorablefrom') ? 'yes' : ''`, "yes", 2*time.Minute)
	dialogAction("#do-RestoreDBInstanceToPointInTime", nil)
	b.waitEval(`location.hash`, "#/instance/act-pitr", 30*time.Second)
	status("available", 3*time.Minute)

	// A read replica, then its promotion.
	b.run(chromedp.Navigate(endpoint + "/console/#/instance/act"))
	status("available", time.Minute)
	dialogAction("#do-CreateDBInstanceReadReplica", nil)
	b.run(chromedp.Navigate(endpoint + "/console/#/instance/act-replica"))
	status("available", 2*time.Minute)
	b.waitText("#instance-details", "Replica of")
	dialogAction("#do-PromoteReadReplica", nil)
	b.waitEval(`document.querySelector('#instance-details')?.textContent.includes('Replica of') ? 'still a replica' : 'primary'`, "primary", 2*time.Minute)
	status("available", time.Minute)

	// Reboot, stop, start.
	b.run(chromedp.Navigate(endpoint + "/console/#/instance/act"))
	status("available", time.Minute)
	dialogAction("#do-RebootDBInstance", nil)
	b.waitEval(`document.querySelector('main').textContent.includes('DB instance restarted') ? 'yes' : ''`, "yes", time.Minute)
	status("available", time.Minute)
	dialogAction("#do-StopDBInstance", nil)
	status("stopped", 2*time.Minute)
	b.run(chromedp.WaitEnabled(chromedp.ID("#do-StartDBInstance")), chromedp.Click(chromedp.ID("#do-StartDBInstance")))
	status("available", 2*time.Minute)

	// Delete: a wrong identifier typed is refused; then with a final snapshot.
	dialogAction("#do-DeleteDBInstance", map[string]string{"confirm": "ac", "snap": "act-final"})
	b.waitText("dialog .error", "NotConfirmed")
	b.run(chromedp.SetValue(chromedp.ID("#f-confirm"), "act"), chromedp.Click(chromedp.ID("#dialog-submit")))
	b.waitEval(`location.hash`, "#/", 30*time.Second)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, _, _ := teal.run(t, "describe-db-snapshots", "--db-snapshot-identifier", "act-final")
		if strings.Contains(out, "available") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no final snapshot act-final after the delete:\n%s", out)
		}
		time.Sleep(time.Second)
	}
	if out, _, code := teal.run(t, "describe-db-instances", "--db-instance-identifier", "act"); code == 0 && !strings.Contains(out, "deleting") {
		t.Fatalf("act is not being deleted:\n%s", out)
	}
}

// consoleRig starts what a console test needs: the browser's path (the
// test fails when it is not installed), a teal serve with its extra
// environment, its root key, and the CLI pointed at it.
func consoleRig(t *testing.T, browserName string, env ...string) (browser, endpoint string, root server.Credentials, teal tealCLI) {
	t.Helper()
	browser, err := exec.LookPath(browserName)
	if err != nil {
		t.Fatalf("%s is not installed (scripts/install-engines.sh --test-tools installs it)", browserName)
	}
	bin := buildTeal(t)
	dir := dataDir(t)
	endpoint = startServe(t, bin, dir, append(envWithout(), env...))
	if root, err = server.LoadCredentials(dir); err != nil {
		t.Fatal(err)
	}
	return browser, endpoint, root, tealCLI{bin: bin, env: append(envWithout(), "TEAL_ENDPOINT="+endpoint, "TEAL_DATA_DIR="+dir)}
}
