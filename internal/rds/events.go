package rds

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/store"
)

// EventsInput holds the members of DescribeEvents.
type EventsInput struct {
	SourceIdentifier string
	SourceType       string
	StartTime        time.Time
	EndTime          time.Time
	Duration         int // minutes
	EventCategories  []string
	Page             Page
}

var sourceTypes = map[string]bool{
	"db-instance": true, "db-parameter-group": true, "db-security-group": true, "db-snapshot": true,
	"db-cluster": true, "db-cluster-snapshot": true, "custom-engine-version": true, "db-proxy": true,
	"blue-green-deployment": true,
}

// DescribeEvents lists events, oldest first. Like RDS, without a time window
// it covers the last hour.
func (s *Service) DescribeEvents(ctx context.Context, in EventsInput) ([]Event, string, error) {
	max, err := maxRecords(in.Page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	if in.SourceType != "" && !sourceTypes[in.SourceType] {
		return nil, "", invalidValue("Invalid SourceType %s.", in.SourceType)
	}
	if in.SourceIdentifier != "" && in.SourceType == "" {
		return nil, "", invalidCombination("SourceType must be given with SourceIdentifier.")
	}
	var after int64
	if in.Page.Marker != "" {
		m, err := decodeMarker(in.Page.Marker)
		if err != nil {
			return nil, "", err
		}
		if after, err = strconv.ParseInt(m, 10, 64); err != nil {
			return nil, "", invalidValue("Invalid Marker: %s", in.Page.Marker)
		}
	}
	end := in.EndTime
	if end.IsZero() {
		end = time.Now()
	}
	start := in.StartTime
	switch {
	case start.IsZero() && in.Duration > 0:
		start = end.Add(-time.Duration(in.Duration) * time.Minute)
	case start.IsZero():
		start = end.Add(-time.Hour)
	}
	cats := map[string]bool{}
	for _, c := range in.EventCategories {
		cats[strings.ToLower(c)] = true
	}
	id := strings.ToLower(in.SourceIdentifier)
	if in.SourceType == "db-parameter-group" || in.SourceType == "db-instance" || in.SourceType == "blue-green-deployment" {
		id = strings.ToLower(id)
	}
	var out []Event
	for {
		batch, err := s.store.Events(ctx, store.EventFilter{SourceType: in.SourceType, SourceID: id,
			Start: start, End: end, AfterID: after, Limit: 500})
		if err != nil {
			return nil, "", err
		}
		for _, e := range batch {
			after = e.ID
			if len(cats) > 0 && !anyIn(e.Categories, cats) {
				continue
			}
			out = append(out, Event{SourceIdentifier: e.SourceID, SourceType: e.SourceType, Message: e.Message,
				EventCategories: e.Categories, Date: e.Time, SourceArn: e.SourceArn})
			if len(out) == max {
				return out, encodeMarker(strconv.FormatInt(e.ID, 10)), nil
			}
		}
		if len(batch) < 500 {
			return out, "", nil
		}
	}
}

func anyIn(have []string, want map[string]bool) bool {
	for _, h := range have {
		if want[h] {
			return true
		}
	}
	return false
}

// A note is an event a change records, with its RDS event category given
// by the code that makes the change. The zero note records nothing.
type note struct{ category, message string }

func creation(message string) note      { return note{"creation", message} }
func deletion(message string) note      { return note{"deletion", message} }
func failure(message string) note       { return note{"failure", message} }
func availability(message string) note  { return note{"availability", message} }
func readReplica(message string) note   { return note{"read replica", message} }
func configuration(message string) note { return note{"configuration change", message} }
func notification(message string) note  { return note{"notification", message} }
