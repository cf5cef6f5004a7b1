package store

import (
	"context"
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
