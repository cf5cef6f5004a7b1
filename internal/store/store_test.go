package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type doc struct {
	Name  string
	Count int
}

func TestDocumentsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "teal.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Put(KindInstance, "b", doc{"b", 2}); err != nil {
			return err
		}
		if err := tx.Put(KindInstance, "a", doc{"a", 1}); err != nil {
			return err
		}
		return tx.AddEvent(Event{SourceType: "db-instance", SourceID: "a", Message: "created", Categories: []string{"creation"}})
	}); err != nil {
		t.Fatal(err)
	}
	// A failed transaction changes nothing.
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Put(KindInstance, "c", doc{"c", 3}); err != nil {
			return err
		}
		return os.ErrInvalid
	}); err != os.ErrInvalid {
		t.Fatalf("update error %v", err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	docs, err := List[doc](ctx, s, KindInstance)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Name != "a" || docs[1].Count != 2 {
		t.Fatalf("after reopen: %+v", docs)
	}
	var d doc
	if ok, err := s.Get(ctx, KindInstance, "c", &d); ok || err != nil {
		t.Fatalf("rolled back document exists: %v %v", ok, err)
	}
	events, err := s.Events(ctx, EventFilter{SourceType: "db-instance", SourceID: "a", Start: time.Now().Add(-time.Minute)})
	if err != nil || len(events) != 1 || events[0].Message != "created" || events[0].Categories[0] != "creation" {
		t.Fatalf("events %+v, %v", events, err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Delete(KindInstance, "a") }); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Get(ctx, KindInstance, "a", &d); ok {
		t.Fatal("deleted document still there")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode %v, %v", fi.Mode(), err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teal.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("opened a store written by a newer teal")
	}
}

func TestEventPaging(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "teal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 5; i++ {
		if err := s.AddEvent(ctx, Event{SourceType: "db-instance", SourceID: "x", Message: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.Events(ctx, EventFilter{Limit: 3})
	if err != nil || len(first) != 3 {
		t.Fatalf("%v %v", first, err)
	}
	rest, err := s.Events(ctx, EventFilter{AfterID: first[2].ID})
	if err != nil || len(rest) != 2 || rest[0].ID <= first[2].ID {
		t.Fatalf("%v %v", rest, err)
	}
}

type versioned struct {
	Version
	Name string
}

// TestVersionedPut: a new document is created once; a writer holding an
// older version than the stored one, or a document deleted since it was
// read, fails with ErrStale and changes nothing; a transaction that does
// not commit leaves the writer's version as it was; a document stored
// before versions were kept reads as version 1 and can be written back.
func TestVersionedPut(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "teal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(key string, v *versioned) error {
		return s.Update(ctx, func(tx *Tx) error { return tx.Put(KindInstance, key, v) })
	}
	a := &versioned{Name: "a1"}
	if err := put("a", a); err != nil || a.StoreVersion != 1 {
		t.Fatalf("create: %v, version %d", err, a.StoreVersion)
	}
	if err := put("a", &versioned{Name: "again"}); !errors.Is(err, ErrStale) {
		t.Fatalf("a second create: %v, want ErrStale", err)
	}
	stale := *a
	a.Name = "a2"
	if err := put("a", a); err != nil || a.StoreVersion != 2 {
		t.Fatalf("update: %v, version %d", err, a.StoreVersion)
	}
	stale.Name = "stale"
	if err := put("a", &stale); !errors.Is(err, ErrStale) || stale.StoreVersion != 1 {
		t.Fatalf("stale update: %v, version %d; want ErrStale and version 1 kept", err, stale.StoreVersion)
	}
	var got versioned
	if ok, err := s.Get(ctx, KindInstance, "a", &got); !ok || err != nil || got.Name != "a2" || got.StoreVersion != 2 {
		t.Fatalf("stored: %+v %v %v", got, ok, err)
	}
	// A transaction that fails after the Put keeps the writer's version.
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Put(KindInstance, "a", a); err != nil {
			return err
		}
		return os.ErrInvalid
	}); err != os.ErrInvalid || a.StoreVersion != 2 {
		t.Fatalf("failed transaction: %v, version %d", err, a.StoreVersion)
	}
	// Deleted since it was read: no write-back brings it back.
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Delete(KindInstance, "a") }); err != nil {
		t.Fatal(err)
	}
	if err := put("a", a); !errors.Is(err, ErrStale) {
		t.Fatalf("write-back after delete: %v, want ErrStale", err)
	}
	if ok, _ := s.Get(ctx, KindInstance, "a", &got); ok {
		t.Fatal("the deleted document is back")
	}
	// A versioned document put by value would skip its check.
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Put(KindInstance, "v", versioned{Name: "v"}) }); err == nil {
		t.Fatal("a versioned document put by value was accepted")
	}
	// Stored before versions were kept: version 1.
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Put(KindInstance, "old", doc{"old", 1}) }); err != nil {
		t.Fatal(err)
	}
	olds, err := List[versioned](ctx, s, KindInstance)
	if err != nil || len(olds) != 1 || olds[0].StoreVersion != 1 {
		t.Fatalf("old document: %+v %v", olds, err)
	}
	if err := put("old", &olds[0]); err != nil || olds[0].StoreVersion != 2 {
		t.Fatalf("write back an old document: %v, version %d", err, olds[0].StoreVersion)
	}
}
