package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/tealdb/teal/internal/store"
)

// AccessKey is a key created through the API, with the policy that limits it.
type AccessKey struct {
	AccessKeyID     string
	SecretAccessKey string // only set in the answer of CreateKey
	Description     string
	Policy          []byte
	Created         time.Time
}

// LogValue keeps the secret out of logs even if a whole key is logged.
func (k AccessKey) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_key_id", k.AccessKeyID),
		slog.String("description", k.Description),
		slog.Time("created", k.Created),
	)
}

// String keeps the secret out of fmt's %v, for the same reason.
func (k AccessKey) String() string {
	return fmt.Sprintf("access key %s (%s)", k.AccessKeyID, k.Description)
}

// storedKey is the persisted form. The secret is kept in clear because SigV4
// verification needs it; the store file is 0600 like the credentials file.
// The policy is stored as JSON, not base64, so the store stays readable.
type storedKey struct {
	AccessKeyID     string          `json:"access_key_id"`
	SecretAccessKey string          `json:"secret_access_key"`
	Description     string          `json:"description"`
	Policy          json.RawMessage `json:"policy"`
	Created         time.Time       `json:"created"`
}

// credential is what Authenticate needs about one key.
type credential struct {
	key    AccessKey // SecretAccessKey set
	policy *Policy
}

// Keyring holds the root key and the keys in the store. Reads come from
// memory; writes go to the store first and reach memory only once committed,
// so memory never holds a key that a restart would lose.
type Keyring struct {
	st         *store.Store
	rootID     string
	rootSecret string
	region     string
	accountID  string
	log        *slog.Logger
	now        func() time.Time

	writeMu sync.Mutex // serialises CreateKey and DeleteKey
	mu      sync.RWMutex
	keys    map[string]credential
}

// NewKeyring loads the keys of st and returns a keyring that also accepts the
// root credentials. region and accountID are those the server answers for.
func NewKeyring(ctx context.Context, st *store.Store, rootID, rootSecret, region, accountID string) (*Keyring, error) {
	switch {
	case st == nil:
		return nil, errors.New("keyring: no store")
	case rootID == "" || rootSecret == "":
		return nil, errors.New("keyring: root access key id and secret are required")
	case region == "" || accountID == "":
		return nil, errors.New("keyring: region and account id are required")
	}
	stored, err := store.List[storedKey](ctx, st, store.KindAccessKey)
	if err != nil {
		return nil, fmt.Errorf("load access keys: %w", err)
	}
	k := &Keyring{
		st: st, rootID: rootID, rootSecret: rootSecret, region: region, accountID: accountID,
		log: slog.Default(), now: time.Now,
		keys: make(map[string]credential, len(stored)),
	}
	for _, s := range stored {
		// A stored policy passed validation when it was created; if it no
		// longer parses, starting with the key silently powerless or
		// silently dropped would both surprise, so refuse to start.
		policy, err := ParsePolicy(s.Policy)
		if err != nil {
			return nil, fmt.Errorf("load access key %s: %w", s.AccessKeyID, err)
		}
		k.keys[s.AccessKeyID] = credential{key: s.accessKey(), policy: policy}
	}
	return k, nil
}

func (s storedKey) accessKey() AccessKey {
	return AccessKey{
		AccessKeyID:     s.AccessKeyID,
		SecretAccessKey: s.SecretAccessKey,
		Description:     s.Description,
		Policy:          []byte(s.Policy),
		Created:         s.Created,
	}
}

// Region is the region requests must be signed for.
func (k *Keyring) Region() string { return k.region }

// AccountID is the account in the ARNs of principals and resources.
func (k *Keyring) AccountID() string { return k.accountID }

// CreateKey creates and persists a key limited by policy. The answer is the
// only place the secret is ever shown. A bad policy is an *fault.Fault
// InvalidParameterValue saying what is wrong.
func (k *Keyring) CreateKey(ctx context.Context, policy []byte, description string) (AccessKey, error) {
	parsed, err := ParsePolicy(policy)
	if err != nil {
		return AccessKey{}, err
	}
	if len(description) > 1000 {
		return AccessKey{}, invalidValue("The description is %d characters; the limit is 1000.", len(description))
	}
	id, secret, err := GenerateCredentials()
	if err != nil {
		return AccessKey{}, err
	}
	s := storedKey{
		AccessKeyID:     id,
		SecretAccessKey: secret,
		Description:     description,
		Policy:          compactPolicy(policy),
		Created:         k.now().UTC().Truncate(time.Second),
	}

	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	if err := k.st.Update(ctx, func(tx *store.Tx) error {
		return tx.Put(store.KindAccessKey, id, s)
	}); err != nil {
		return AccessKey{}, fmt.Errorf("create access key %s: %w", id, err)
	}
	key := s.accessKey()
	k.mu.Lock()
	k.keys[id] = credential{key: key, policy: parsed}
	k.mu.Unlock()
	k.log.Info("access key created", "access_key_id", id, "description", description)
	return key, nil
}

// compactPolicy drops the insignificant whitespace of a validated document.
func compactPolicy(doc []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		// ParsePolicy accepted doc, so it is valid JSON; keep it as given.
		return append(json.RawMessage(nil), doc...)
	}
	return json.RawMessage(buf.Bytes())
}

// ListKeys returns the keys created through the API, oldest first, with their
// secrets blanked. The root key is not listed: it is configuration, not data.
func (k *Keyring) ListKeys(ctx context.Context) ([]AccessKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.RLock()
	out := make([]AccessKey, 0, len(k.keys))
	for _, c := range k.keys {
		key := c.key
		key.SecretAccessKey = ""
		key.Policy = append([]byte(nil), key.Policy...)
		out = append(out, key)
	}
	k.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].AccessKeyID < out[j].AccessKeyID
	})
	return out, nil
}

// DeleteKey deletes a key; requests signed with it fail from then on. An
// unknown key is an *fault.Fault NoSuchEntity (404), as in IAM.
func (k *Keyring) DeleteKey(ctx context.Context, id string) error {
	if id == k.rootID {
		return invalidValue("The root access key cannot be deleted; it is set by TEAL_ACCESS_KEY_ID or the credentials file in the data directory.")
	}
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	k.mu.RLock()
	_, ok := k.keys[id]
	k.mu.RUnlock()
	if !ok {
		return noSuchEntity(id)
	}
	if err := k.st.Update(ctx, func(tx *store.Tx) error {
		return tx.Delete(store.KindAccessKey, id)
	}); err != nil {
		return fmt.Errorf("delete access key %s: %w", id, err)
	}
	k.mu.Lock()
	delete(k.keys, id)
	k.mu.Unlock()
	k.log.Info("access key deleted", "access_key_id", id)
	return nil
}

// lookup finds the secret and principal of an access key id.
func (k *Keyring) lookup(id string) (secret string, p Principal, ok bool) {
	if id == k.rootID {
		return k.rootSecret, Principal{AccessKeyID: id, Root: true, ARN: rootARN(k.accountID)}, true
	}
	k.mu.RLock()
	c, ok := k.keys[id]
	k.mu.RUnlock()
	if !ok {
		return "", Principal{}, false
	}
	return c.key.SecretAccessKey, Principal{AccessKeyID: id, ARN: userARN(k.accountID, id), policy: c.policy}, true
}

// GenerateCredentials makes a new access key id and secret in the AWS shapes
// (AKIA and 16 base32 characters; 40 characters of secret), so tools that
// check the shape accept them. The server also uses it for the root key.
func GenerateCredentials() (id, secret string, err error) {
	idBytes := make([]byte, 10)
	secretBytes := make([]byte, 30)
	if _, err := rand.Read(idBytes); err != nil {
		return "", "", fmt.Errorf("generate access key id: %w", err)
	}
	if _, err := rand.Read(secretBytes); err != nil {
		return "", "", fmt.Errorf("generate secret access key: %w", err)
	}
	return "AKIA" + base32.StdEncoding.EncodeToString(idBytes), base64.StdEncoding.EncodeToString(secretBytes), nil
}

// SignIn checks an access key id and its secret as a person types them
// into the console's sign-in form, and returns the key's principal. A
// wrong id and a wrong secret are refused alike.
func (k *Keyring) SignIn(id, secret string) (Principal, error) {
	want, p, ok := k.lookup(id)
	// Compared even for an unknown id, so that timing tells nothing.
	if !ok {
		want = k.rootSecret
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 || !ok {
		return Principal{}, signInRefused()
	}
	return p, nil
}

// Principal is the principal of an access key id as it is now: a key
// deleted since a session began has none.
func (k *Keyring) Principal(id string) (Principal, bool) {
	_, p, ok := k.lookup(id)
	return p, ok
}
