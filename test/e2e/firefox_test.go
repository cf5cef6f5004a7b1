package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestConsoleFirefox runs the console's main path in a headless Firefox,
// driven through Marionette, Firefox's own remote protocol: sign in (the
// session must survive a reload over http://127.0.0.1), see an instance on
// the Databases page, create a blue/green deployment from its page, open
// Switch over, check the guardrails, switch over and see it complete.
func TestConsoleFirefox(t *testing.T) {
	t.Parallel()
	browser, endpoint, root, teal := consoleRig(t, "firefox-esr")
	teal.ok(t, "create-db-instance", "--db-instance-identifier", "ff-db", "--engine", "postgres", "--engine-version", "15",
		"--db-instance-class", "db.t3.micro", "--allocated-storage", "20", "--master-username", masterUser,
		"--master-user-password", masterPass, "--db-name", "app", "--wait")

	ff := startFirefox(t, browser)
	ff.navigate(endpoint + "/console/")
	ff.waitEval(`document.querySelector('#access-key-id') ? 'yes' : ''`, "yes", 30*time.Second)
	ff.sendKeys("#access-key-id", root.AccessKeyID)
	ff.sendKeys("#secret-access-key", root.SecretAccessKey)
	ff.click("#signin")
	ff.waitEval(`document.querySelector('#instances tr[data-id="ff-db"] [data-status]')?.dataset.status`, "available", 30*time.Second)
	// The session cookie is kept: a reload stays signed in.
	ff.navigate(endpoint + "/console/")
	ff.waitEval(`document.querySelector('#instances tr[data-id="ff-db"] [data-status]')?.dataset.status`, "available", 30*time.Second)

	ff.click(`#instances tr[data-id="ff-db"] a`)
	ff.waitEval(`document.querySelector('#connection-string')?.textContent.includes('user=master') && !document.querySelector('#create-bgd').disabled ? 'yes' : ''`, "yes", 30*time.Second)
	ff.click("#create-bgd")
	ff.waitEval(`[...document.querySelector('#f-version')?.options || []].some(o => o.value.startsWith('17')) ? 'yes' : ''`, "yes", 30*time.Second)
	ff.mustEval(`(() => { const s = document.querySelector('#f-version'); s.value = [...s.options].find(o => o.value.startsWith('17')).value; return s.value; })()`)
	ff.click("#dialog-submit")
	ff.waitEval(`document.querySelector('h1 [data-status]')?.dataset.status`, "AVAILABLE", 5*time.Minute)
	ff.waitEval(`document.querySelector('#switchover').disabled + ''`, "false", 30*time.Second)

	ff.click("#switchover")
	ff.waitEval(`[...document.querySelectorAll('#guardrails li')].map(l => l.dataset.ok).join()`, "true,true,true,true", time.Minute)
	ff.waitEval(`document.querySelector('#switchover-summary').textContent.includes('ff-db-old1') ? 'yes' : ''`, "yes", 10*time.Second)
	ff.mustEval(`document.querySelector('#switchover-timeout').value = ''`)
	ff.sendKeys("#switchover-timeout", "120")
	ff.click("#switchover-confirm")
	ff.waitEval(`document.querySelector('#switchover-outcome')?.textContent || ''`, "Completed: green is production.", 3*time.Minute)
	out, _ := teal.ok(t, "describe-db-instances", "--db-instance-identifier", "ff-db")
	if !strings.Contains(out, " 17.") {
		t.Fatalf("after the switchover from Firefox, ff-db is not on 17:\n%s", out)
	}
}

// firefox is a headless Firefox driven through Marionette: a TCP stream of
// "length:json" frames, commands [0, id, name, params] and answers
// [1, id, error, result].
type firefox struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	id   int
}

// startFirefox starts a headless Firefox on a profile of its own, with
// Marionette on a free port of 127.0.0.1; it is stopped when the test ends.
func startFirefox(t *testing.T, browser string) *firefox {
	t.Helper()
	home := t.TempDir()
	profile := filepath.Join(home, "profile")
	port := freePortForTest(t)
	prefs := fmt.Sprintf(`user_pref("marionette.port", %d);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("network.proxy.type", 0);
`, port)
	if err := os.MkdirAll(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(prefs), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(browser, "--headless", "--marionette", "--no-remote", "--profile", profile, "about:blank")
	cmd.Env = append(envWithout(), "HOME="+home, "MOZ_HEADLESS=1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	// Its own process group, so that every process Firefox starts goes
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	var conn net.Conn
	var err error
	for deadline := time.Now().Add(time.Minute); ; {
		conn, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Firefox's Marionette did not listen within a minute: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() { conn.Close() })
	ff := &firefox{t: t, conn: conn, r: bufio.NewReader(conn)}
	var hello struct{ MarionetteProtocol int }
	if err := json.Unmarshal(ff.frame(), &hello); err != nil || hello.MarionetteProtocol != 3 {
		t.Fatalf("Marionette greeting: %+v, %v", hello, err)
	}
	ff.call("WebDriver:NewSession", map[string]any{"capabilities": map[string]any{}})
	return ff
}

// frame reads one "length:json" frame.
func (f *firefox) frame() []byte {
	f.t.Helper()
	f.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	head, err := f.r.ReadString(':')
	if err != nil {
		f.t.Fatalf("Marionette: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(head, ":"))
	if err != nil || n < 0 || n > 64<<20 {
		f.t.Fatalf("Marionette frame length %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(f.r, body); err != nil {
		f.t.Fatalf("Marionette: %v", err)
	}
	return body
}

// call sends a command and returns its result, or the error Firefox gave.
func (f *firefox) call(name string, params any) (json.RawMessage, error) {
	f.t.Helper()
	f.id++
	msg, err := json.Marshal([]any{0, f.id, name, params})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f.conn, "%d:%s", len(msg), msg); err != nil {
		f.t.Fatalf("Marionette: %v", err)
	}
	for {
		var answer []json.RawMessage
		if err := json.Unmarshal(f.frame(), &answer); err != nil || len(answer) != 4 {
			f.t.Fatalf("Marionette answer: %v", err)
		}
		var id int
		json.Unmarshal(answer[1], &id)
		if id != f.id {
			continue // an answer to a command given up on
		}
		if string(answer[2]) != "null" {
			return nil, fmt.Errorf("%s: %s", name, answer[2])
		}
		return answer[3], nil
	}
}

func (f *firefox) must(name string, params any) json.RawMessage {
	f.t.Helper()
	res, err := f.call(name, params)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *firefox) navigate(url string) {
	f.t.Helper()
	f.must("WebDriver:Navigate", map[string]any{"url": url})
}

// element finds the element sel, waiting up to half a minute for it.
func (f *firefox) element(sel string) string {
	f.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		res, err := f.call("WebDriver:FindElement", map[string]any{"using": "css selector", "value": sel})
		if err == nil {
			var found struct {
				Value map[string]string `json:"value"`
			}
			if err := json.Unmarshal(res, &found); err == nil {
				for _, id := range found.Value {
					return id
				}
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("no element %s: %v; the page shows:\n%s", sel, err, f.text())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// click clicks the element sel as a user does, once it is there.
func (f *firefox) click(sel string) {
	f.t.Helper()
	f.must("WebDriver:ElementClick", map[string]any{"id": f.element(sel)})
}

// sendKeys types text into the element sel.
func (f *firefox) sendKeys(sel, text string) {
	f.t.Helper()
	f.must("WebDriver:ElementSendKeys", map[string]any{"id": f.element(sel), "text": text})
}

// eval evaluates expr (a value or a promise) in the page, as a string.
func (f *firefox) eval(expr string) (string, error) {
	f.t.Helper()
	res, err := f.call("WebDriver:ExecuteScript", map[string]any{
		"script": "return Promise.resolve(" + expr + ").then(v => String(v ?? ''))", "args": []any{}})
	if err != nil {
		return "", err
	}
	var v struct {
		Value string `json:"value"`
	}
	err = json.Unmarshal(res, &v)
	return v.Value, err
}

func (f *firefox) mustEval(expr string) string {
	f.t.Helper()
	s, err := f.eval(expr)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *firefox) text() string {
	s, _ := f.eval(`document.querySelector('main')?.innerText`)
	return s
}

// waitEval evaluates expr until it gives want.
func (f *firefox) waitEval(expr, want string, limit time.Duration) {
	f.t.Helper()
	var got string
	var err error
	for end := time.Now().Add(limit); ; {
		if got, err = f.eval(expr); err == nil && got == want {
			return
		}
		if time.Now().After(end) {
			f.t.Fatalf("%s is %q (%v), want %q after %s; the page shows:\n%s", expr, got, err, want, limit, f.text())
		}
		time.Sleep(250 * time.Millisecond)
	}
}
