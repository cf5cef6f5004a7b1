package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/tealdb/teal/internal/fault"
	"github.com/tealdb/teal/internal/store"
)

func TestKeysPersistAcrossKeyrings(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	key, err := r.kr.CreateKey(ctx, []byte(readOnlyPolicy), "dashboard")
	if err != nil {
		t.Fatal(err)
	}
	r.st.Close()

	// A restart: a new store handle on the same file, a new keyring.
	st, err := store.Open(r.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.kr = r.keyring(t, st)

	req := r.newRequest(t, queryBody)
	sign(t, req, signOpts{id: key.AccessKeyID, secret: key.SecretAccessKey, body: queryBody})
	p, err, _ := r.send(t, req)
	if err != nil {
		t.Fatalf("key lost across restart: %v", err)
	}
	if err := p.Authorize("rds:DescribeDBInstances", "arn:aws:rds:us-east-1:000000000000:db:x"); err != nil {
		t.Fatalf("policy lost across restart: %v", err)
	}
	if err := p.Authorize("rds:DeleteDBInstance", "arn:aws:rds:us-east-1:000000000000:db:x"); err == nil {
		t.Fatal("restored key may do more than its policy allows")
	}

	keys, err := r.kr.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].AccessKeyID != key.AccessKeyID || keys[0].Description != "dashboard" ||
		!keys[0].Created.Equal(key.Created) || string(keys[0].Policy) != readOnlyPolicy {
		t.Fatalf("listed %+v", keys)
	}
}

func TestDeleteKey(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	key, err := r.kr.CreateKey(ctx, []byte(readOnlyPolicy), "")
	if err != nil {
		t.Fatal(err)
	}
	signed := func() error {
		req := r.newRequest(t, queryBody)
		sign(t, req, signOpts{id: key.AccessKeyID, secret: key.SecretAccessKey, body: queryBody})
		_, err, _ := r.send(t, req)
		return err
	}
	if err := signed(); err != nil {
		t.Fatalf("before delete: %v", err)
	}
	if err := r.kr.DeleteKey(ctx, key.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if f := faultOf(t, signed()); f.Code != "InvalidClientTokenId" || f.Status != 403 {
		t.Fatalf("after delete: %v", f)
	}

	f := faultOf(t, r.kr.DeleteKey(ctx, key.AccessKeyID))
	if f.Code != "NoSuchEntity" || f.Status != 404 || !strings.Contains(f.Message, key.AccessKeyID) {
		t.Fatalf("second delete: %v", f)
	}
	if f := faultOf(t, r.kr.DeleteKey(ctx, rootID)); f.Code != "InvalidParameterValue" {
		t.Fatalf("deleting the root key: %v", f)
	}

	// Deleted for good: a restart does not bring it back.
	kr := r.keyring(t, r.st)
	if keys, err := kr.ListKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("after restart: %v %v", keys, err)
	}
}

func TestCreateKey(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	key, err := r.kr.CreateKey(ctx, []byte("{\n  \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"rds:*\", \"Resource\": \"*\"}\n}"), "ops")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(key.AccessKeyID) {
		t.Errorf("access key id %q is not AWS-shaped", key.AccessKeyID)
	}
	if len(key.SecretAccessKey) != 40 {
		t.Errorf("secret is %d characters, want 40", len(key.SecretAccessKey))
	}
	if key.Created.IsZero() {
		t.Error("no creation time")
	}

	_, err = r.kr.CreateKey(ctx, []byte(`{"Statement":{"Effect":"Allow","Action":"rds:*"}}`), "bad")
	if !errors.Is(err, &fault.Fault{Code: "InvalidParameterValue"}) {
		t.Fatalf("bad policy: %v", err)
	}
	keys, err := r.kr.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("a refused key was stored: %+v", keys)
	}
	for _, k := range keys {
		if k.SecretAccessKey != "" {
			t.Fatalf("ListKeys shows the secret of %s", k.AccessKeyID)
		}
		if k.AccessKeyID == rootID {
			t.Fatal("ListKeys shows the root key")
		}
	}
}

func TestNewKeyringNeedsRootKey(t *testing.T) {
	r := newRig(t)
	if _, err := NewKeyring(context.Background(), r.st, "", "", testRegion, testAccount); err == nil {
		t.Fatal("a keyring without a root key was created")
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := r.kr.CreateKey(ctx, []byte(readOnlyPolicy), fmt.Sprint(i))
			if err != nil {
				t.Error(err)
				return
			}
			req := r.newRequest(t, queryBody)
			sign(t, req, signOpts{id: key.AccessKeyID, secret: key.SecretAccessKey, body: queryBody})
			resp, err := r.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("key %s refused with HTTP %d", key.AccessKeyID, resp.StatusCode)
			}
			if _, err := r.kr.ListKeys(ctx); err != nil {
				t.Error(err)
			}
			if err := r.kr.DeleteKey(ctx, key.AccessKeyID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if keys, _ := r.kr.ListKeys(ctx); len(keys) != 0 {
		t.Fatalf("%d keys left", len(keys))
	}
}

// TestSecretsNeverLogged runs every path that logs, at Debug level, and
// checks that no secret reaches the log.
func TestSecretsNeverLogged(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	key, err := r.kr.CreateKey(ctx, []byte(readOnlyPolicy), "logged")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []signOpts{
		{id: key.AccessKeyID, secret: key.SecretAccessKey, body: queryBody},
		{id: key.AccessKeyID, secret: "wrong", body: queryBody},
		{id: rootID, secret: rootSecret, body: "tampered"},
		{id: "AKIAUNKNOWNUNKNOWNUN", secret: rootSecret, body: queryBody},
	} {
		req := r.newRequest(t, queryBody)
		sign(t, req, o)
		r.send(t, req)
	}
	r.kr.log.Info("a key", "key", key) // as a careless caller might
	if strings.Contains(fmt.Sprint(key), key.SecretAccessKey) {
		t.Fatal("fmt prints the secret")
	}
	if err := r.kr.DeleteKey(ctx, key.AccessKeyID); err != nil {
		t.Fatal(err)
	}

	logs := r.logs.String()
	if !strings.Contains(logs, "signature mismatch") || !strings.Contains(logs, key.AccessKeyID) {
		t.Fatalf("the logs miss the events they should hold:\n%s", logs)
	}
	for _, secret := range []string{key.SecretAccessKey, rootSecret} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret was logged:\n%s", logs)
		}
	}
	if strings.Contains(logs, "Signature=") {
		t.Fatalf("an Authorization header was logged:\n%s", logs)
	}
}

func TestSignIn(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	key, err := r.kr.CreateKey(ctx, []byte(readOnlyPolicy), "console")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := r.kr.SignIn(rootID, rootSecret); err != nil || !p.IsRoot() {
		t.Fatalf("root sign-in: %+v, %v", p, err)
	}
	p, err := r.kr.SignIn(key.AccessKeyID, key.SecretAccessKey)
	if err != nil || p.IsRoot() || p.KeyID() != key.AccessKeyID {
		t.Fatalf("key sign-in: %+v, %v", p, err)
	}
	if err := p.Authorize("rds:DeleteDBInstance", "arn:aws:rds:us-east-1:000000000000:db:x"); err == nil {
		t.Fatal("a read-only key signed in with more than its policy")
	}
	// A wrong secret, another key's secret, an unknown id: refused alike.
	for _, c := range []struct{ id, secret string }{
		{key.AccessKeyID, key.SecretAccessKey + "x"}, {key.AccessKeyID, rootSecret}, {rootID, ""},
		{"AKIANOSUCHKEYNOSUCHK", rootSecret}, {"", ""},
	} {
		_, err := r.kr.SignIn(c.id, c.secret)
		if f := faultOf(t, err); f.Code != "InvalidClientTokenId" {
			t.Errorf("SignIn(%q, %q): %v", c.id, c.secret, err)
		}
	}
	if _, ok := r.kr.Principal(key.AccessKeyID); !ok {
		t.Fatal("no principal for a live key")
	}
	if err := r.kr.DeleteKey(ctx, key.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.kr.Principal(key.AccessKeyID); ok {
		t.Fatal("a deleted key still has a principal")
	}
	if _, err := r.kr.SignIn(key.AccessKeyID, key.SecretAccessKey); err == nil {
		t.Fatal("a deleted key signed in")
	}
}
