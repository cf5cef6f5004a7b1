// Package store keeps teal's metadata: every resource as a JSON document in an
// embedded SQLite database (WAL mode, so a crash of teal at any point leaves the
// last committed state), plus the event log. Changes that must happen together,
// such as the renames of a switchover, go in one transaction.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Kinds of documents.
const (
	KindInstance       = "instance"
	KindParameterGroup = "parameter-group"
	KindAccessKey      = "access-key"
)

// Store is the metadata database.
type Store struct {
	db *sql.DB
}

// migrations are applied in order; PRAGMA user_version records how many ran.
// Append only: never edit a migration that has shipped.
var migrations = []string{
	`CREATE TABLE documents (
		kind TEXT NOT NULL,
		key  TEXT NOT NULL,
		doc  TEXT NOT NULL,
		PRIMARY KEY (kind, key)
	);
	CREATE TABLE events (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		time        TEXT NOT NULL,
		source_type TEXT NOT NULL,
		source_id   TEXT NOT NULL,
		source_arn  TEXT NOT NULL,
		message     TEXT NOT NULL,
		categories  TEXT NOT NULL
	);
	CREATE INDEX events_time ON events (time);`,
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(path string) (*Store, error) {
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	} else {
		f.Close()
	}
	// secure_delete zeroes what a change overwrites, so a value replaced
	// in a document (a record upgraded to drop a secret) leaves no copy in
	// the file's free pages.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=secure_delete(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// One connection serialises writers; SQLite allows only one anyway.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("store schema version %d is newer than this teal (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, rollBack(tx, err))
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, rollBack(tx, err))
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Tx is one atomic change.
type Tx struct {
	ctx context.Context
	tx  *sql.Tx
	// undo puts back the versions of the documents Put in a transaction
	// that did not commit.
	undo []func()
}

// Update runs fn in a transaction and commits it if fn returns nil. When
// it does not commit, every Versioned document Put in it has its version
// back.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &Tx{ctx: ctx, tx: tx}
	if err := fn(t); err != nil {
		t.rollBack()
		return rollBack(tx, err)
	}
	if err := tx.Commit(); err != nil {
		t.rollBack()
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// rollBack ends tx after err, and says so if ending it failed too.
func rollBack(tx *sql.Tx, err error) error {
	if rerr := tx.Rollback(); rerr != nil {
		return errors.Join(err, fmt.Errorf("roll back: %w", rerr))
	}
	return err
}

func (t *Tx) rollBack() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
}

// Versioned is a document that carries the version it was last read or
// written at: embed Version. Put of a version-0 document creates it and
// fails if it exists; Put of a later version replaces the stored one only
// if that is still the version the writer read, so a writer holding a
// stale copy (of a document changed or deleted since) fails with ErrStale
// instead of writing it back.
type Versioned interface {
	storeVersion() *int64
}

var versionedType = reflect.TypeOf((*Versioned)(nil)).Elem()

// Version is embedded in Versioned documents.
type Version struct {
	StoreVersion int64 `json:",omitempty"`
}

func (v *Version) storeVersion() *int64 { return &v.StoreVersion }

// ErrStale is wrapped by the error of a Put whose document was created,
// changed or deleted by someone else since the writer read it.
var ErrStale = errors.New("changed or deleted since it was read")

// storedVersion is the version of a stored document in SQL: documents
// stored before versions were kept count as version 1.
const storedVersion = `COALESCE(json_extract(doc, '$.StoreVersion'), 1)`

// Put stores v as the document kind/key. A Versioned v is checked
// against the stored version (see Versioned) and gets the next one.
func (t *Tx) Put(kind, key string, v any) error {
	vv, versioned := v.(Versioned)
	if !versioned && reflect.PointerTo(reflect.TypeOf(v)).Implements(versionedType) {
		// A copy would be written without its version checked, and the
		// new version would be lost with it.
		return fmt.Errorf("put %s %s: a versioned document is put by pointer", kind, key)
	}
	if !versioned {
		doc, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", kind, key, err)
		}
		_, err = t.tx.ExecContext(t.ctx,
			`INSERT INTO documents (kind, key, doc) VALUES (?, ?, ?)
			 ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc`, kind, key, string(doc))
		if err != nil {
			return fmt.Errorf("put %s %s: %w", kind, key, err)
		}
		return nil
	}
	ver := vv.storeVersion()
	read := *ver
	*ver = read + 1
	t.undo = append(t.undo, func() { *ver = read })
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", kind, key, err)
	}
	var res sql.Result
	if read == 0 {
		res, err = t.tx.ExecContext(t.ctx,
			`INSERT INTO documents (kind, key, doc) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO NOTHING`, kind, key, string(doc))
	} else {
		res, err = t.tx.ExecContext(t.ctx,
			`UPDATE documents SET doc = ? WHERE kind = ? AND key = ? AND `+storedVersion+` = ?`, string(doc), kind, key, read)
	}
	if err != nil {
		return fmt.Errorf("put %s %s: %w", kind, key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("put %s %s: %w", kind, key, err)
	}
	if n != 1 {
		if read == 0 {
			return fmt.Errorf("create %s %s: %w: it exists", kind, key, ErrStale)
		}
		return fmt.Errorf("put %s %s (version %d): %w", kind, key, read, ErrStale)
	}
	return nil
}

// Delete removes the document kind/key; a missing one is not an error.
func (t *Tx) Delete(kind, key string) error {
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM documents WHERE kind = ? AND key = ?`, kind, key); err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, key, err)
	}
	return nil
}

// Event is one entry of the event log.
type Event struct {
	ID         int64
	Time       time.Time
	SourceType string // db-instance, db-parameter-group, blue-green-deployment
	SourceID   string
	SourceArn  string
	Message    string
	Categories []string
}

// AddEvent appends e to the event log.
func (t *Tx) AddEvent(e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	cats, err := json.Marshal(e.Categories)
	if err != nil {
		return fmt.Errorf("encode event categories: %w", err)
	}
	_, err = t.tx.ExecContext(t.ctx,
		`INSERT INTO events (time, source_type, source_id, source_arn, message, categories) VALUES (?, ?, ?, ?, ?, ?)`,
		e.Time.UTC().Format(time.RFC3339Nano), e.SourceType, e.SourceID, e.SourceArn, e.Message, string(cats))
	if err != nil {
		return fmt.Errorf("add event: %w", err)
	}
	return nil
}

// AddEvent appends one event in a transaction of its own.
func (s *Store) AddEvent(ctx context.Context, e Event) error {
	return s.Update(ctx, func(t *Tx) error { return t.AddEvent(e) })
}

// List decodes every document of a kind, in key order.
func List[T any](ctx context.Context, s *Store, kind string) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, doc FROM documents WHERE kind = ? ORDER BY key`, kind)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var key, doc string
		if err := rows.Scan(&key, &doc); err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		var v T
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			return nil, fmt.Errorf("decode %s %s: %w", kind, key, err)
		}
		readVersion(&v)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	return out, nil
}

// Get decodes the document kind/key into v; it reports whether it exists.
func (s *Store) Get(ctx context.Context, kind, key string, v any) (bool, error) {
	var doc string
	err := s.db.QueryRowContext(ctx, `SELECT doc FROM documents WHERE kind = ? AND key = ?`, kind, key).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s %s: %w", kind, key, err)
	}
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return false, fmt.Errorf("decode %s %s: %w", kind, key, err)
	}
	readVersion(v)
	return true, nil
}

// readVersion gives a Versioned document read without a version (stored
// before versions were kept) version 1, as storedVersion counts it.
func readVersion(v any) {
	if vv, ok := v.(Versioned); ok && *vv.storeVersion() == 0 {
		*vv.storeVersion() = 1
	}
}

// EventFilter selects events; zero fields match everything.
type EventFilter struct {
	SourceType string
	SourceID   string
	Start, End time.Time
	AfterID    int64 // for paging: only events with a larger ID
	Limit      int
}

// Events returns the events that match f, oldest first.
func (s *Store) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	q := `SELECT id, time, source_type, source_id, source_arn, message, categories FROM events WHERE id > ?`
	args := []any{f.AfterID}
	if f.SourceType != "" {
		q += ` AND source_type = ?`
		args = append(args, f.SourceType)
	}
	if f.SourceID != "" {
		q += ` AND source_id = ?`
		args = append(args, f.SourceID)
	}
	if !f.Start.IsZero() {
		q += ` AND time >= ?`
		args = append(args, f.Start.UTC().Format(time.RFC3339Nano))
	}
	if !f.End.IsZero() {
		q += ` AND time <= ?`
		args = append(args, f.End.UTC().Format(time.RFC3339Nano))
	}
	q += ` ORDER BY id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var ts, cats string
		if err := rows.Scan(&e.ID, &ts, &e.SourceType, &e.SourceID, &e.SourceArn, &e.Message, &cats); err != nil {
			return nil, fmt.Errorf("query events: %w", err)
		}
		if e.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return nil, fmt.Errorf("event %d time: %w", e.ID, err)
		}
		if err := json.Unmarshal([]byte(cats), &e.Categories); err != nil {
			return nil, fmt.Errorf("event %d categories: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
