package rds

import (
	"context"
	"strconv"
	"strings"

	"github.com/tealdb/teal/internal/engine"
)

// EngineVersion is an entry of DescribeDBEngineVersions: an installed build.
type EngineVersion struct {
	Engine                     string
	EngineVersion              string
	DBParameterGroupFamily     string
	DBEngineDescription        string
	DBEngineVersionDescription string
	MajorEngineVersion         string
	Status                     string
	ValidUpgradeTarget         []UpgradeTarget
}

// UpgradeTarget is a version an engine version can be upgraded to.
type UpgradeTarget struct {
	Engine                string
	EngineVersion         string
	IsMajorVersionUpgrade bool
	AutoUpgrade           bool
}

// EngineVersionsInput holds the members of DescribeDBEngineVersions.
type EngineVersionsInput struct {
	Engine                 string
	EngineVersion          string // full or major
	DBParameterGroupFamily string
	DefaultOnly            bool
	Filters                []Filter
	Page                   Page
}

var engineDescriptions = map[string]string{"postgres": "PostgreSQL", auroraPostgres: "Aurora (PostgreSQL)", "mariadb": "MariaDB Community Edition", "mysql": "MySQL Community Edition"}

// DescribeDBEngineVersions lists the installed engine builds, newest first
// per engine. DefaultOnly keeps the newest build of each engine (or of the
// requested major version).
func (s *Service) DescribeDBEngineVersions(ctx context.Context, in EngineVersionsInput) ([]EngineVersion, string, error) {
	max, err := maxRecords(in.Page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	offset := 0
	if in.Page.Marker != "" {
		m, err := decodeMarker(in.Page.Marker)
		if err == nil {
			offset, err = strconv.Atoi(m)
		}
		if err != nil || offset < 0 {
			return nil, "", invalidValue("Invalid Marker: %s", in.Page.Marker)
		}
	}
	for _, f := range in.Filters {
		if f.Name != "engine" && f.Name != "engine-version" && f.Name != "status" {
			return nil, "", invalidValue("Unrecognized filter name: %s. Supported filters: engine, engine-version, status.", f.Name)
		}
	}
	var out []EngineVersion
	names := []string{auroraPostgres, "mariadb", "mysql", "postgres"}
	for _, name := range names {
		e := s.engines[name]
		if e == nil || in.Engine != "" && in.Engine != name {
			continue
		}
		builds := e.Builds()
		engine.SortNewestFirst(builds)
		found := false
		for _, b := range builds {
			if in.EngineVersion != "" && in.EngineVersion != b.Version && in.EngineVersion != b.Major() {
				continue
			}
			if in.DBParameterGroupFamily != "" && in.DBParameterGroupFamily != b.Family() {
				continue
			}
			if in.DefaultOnly && found {
				continue
			}
			v := EngineVersion{
				Engine: name, EngineVersion: b.Version, DBParameterGroupFamily: b.Family(),
				DBEngineDescription: engineDescriptions[name], DBEngineVersionDescription: engineDescriptions[name] + " " + b.Version,
				MajorEngineVersion: b.Major(), Status: "available",
			}
			for _, t := range builds {
				if engine.CompareVersions(t.Version, b.Version) > 0 {
					v.ValidUpgradeTarget = append(v.ValidUpgradeTarget, UpgradeTarget{Engine: name, EngineVersion: t.Version,
						IsMajorVersionUpgrade: t.Major() != b.Major()})
				}
			}
			if !filtersMatch(in.Filters, map[string]string{"engine": name, "engine-version": b.Version, "status": "available"}) {
				continue
			}
			found = true
			out = append(out, v)
		}
	}
	// The list is small and its order fixed, so the marker is an offset.
	if offset > len(out) {
		offset = len(out)
	}
	out = out[offset:]
	if len(out) > max {
		return out[:max], encodeMarker(strconv.Itoa(offset + max)), nil
	}
	return out, "", nil
}

func filtersMatch(filters []Filter, values map[string]string) bool {
	for _, f := range filters {
		ok := false
		for _, v := range f.Values {
			if values[f.Name] == v || f.Name == "engine-version" && strings.HasPrefix(values[f.Name], v+".") {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
