package rds

import (
	"context"
	"strconv"

	"github.com/tealdb/teal/internal/engine"
)

// DescribeOrderableDBInstanceOptions lists what CreateDBInstance accepts
// here: every installed engine version, with every instance class teal
// takes (classRE) and every storage type. teal runs each instance on this
// machine whatever its class says; the class is kept and shown.

// instanceClasses are the classes listed, in the order listed: the
// burstable ones from micro, the others from large.
var instanceClasses = func() []string {
	var out []string
	for _, f := range []string{"t3", "t4g"} {
		for _, size := range []string{"micro", "small", "medium", "large", "xlarge", "2xlarge"} {
			out = append(out, "db."+f+"."+size)
		}
	}
	for _, f := range []string{"m5", "m5d", "m6g", "m6gd", "m6i", "m6id", "m7g", "m7i", "r5", "r5b", "r6g", "r6gd", "r6i", "r7g", "r7i", "x2g", "c6gd"} {
		for _, size := range []string{"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"} {
			out = append(out, "db."+f+"."+size)
		}
	}
	return out
}()

var storageTypes = []string{"gp2", "gp3", "io1", "io2", "standard"}

// OrderableOption is one combination CreateDBInstance accepts.
type OrderableOption struct {
	Engine, EngineVersion, DBInstanceClass, LicenseModel, StorageType string
	AvailabilityZone                                                  string
	SupportsIops, SupportsStorageThroughput, ReadReplicaCapable       bool
	SupportsClusters                                                  bool
	MinStorageSize, MaxStorageSize                                    int
}

var licenseModels = map[string]string{"postgres": "postgresql-license", "mariadb": "general-public-license", auroraPostgres: "postgresql-license"}

// DescribeOrderableDBInstanceOptions lists the combinations of an
// engine, optionally narrowed to a version (full or major), a class and a
// license model.
func (s *Service) DescribeOrderableDBInstanceOptions(ctx context.Context, engineName, version, class, license string, vpc *bool, filters []Filter, page Page) ([]OrderableOption, string, error) {
	if engineName == "" {
		return nil, "", missing("Engine")
	}
	if len(filters) > 0 {
		return nil, "", invalidValue("DescribeOrderableDBInstanceOptions does not take filters; narrow it by EngineVersion, DBInstanceClass or LicenseModel.")
	}
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	skip := 0
	if page.Marker != "" {
		m, err := decodeMarker(page.Marker)
		if err != nil {
			return nil, "", err
		}
		if skip, err = strconv.Atoi(m); err != nil || skip < 0 {
			return nil, "", invalidValue("Invalid Marker: %s", page.Marker)
		}
	}
	e := s.engines[engineName]
	if e == nil {
		return nil, "", invalidValue("Invalid DB engine: %s", engineName)
	}
	if vpc != nil && !*vpc {
		return nil, "", nil // every instance here is, as far as RDS's answer goes, in a VPC
	}
	builds := e.Builds()
	engine.SortNewestFirst(builds)
	types := storageTypes
	if engineName == auroraPostgres {
		types = []string{"aurora"}
	}
	var out []OrderableOption
	n := 0
	for _, b := range builds {
		if version != "" && b.Version != version && b.Major() != version {
			continue
		}
		for _, c := range instanceClasses {
			if class != "" && c != class {
				continue
			}
			if license != "" && license != licenseModels[engineName] {
				continue
			}
			for _, st := range types {
				if n++; n <= skip {
					continue
				}
				if len(out) == max {
					return out, encodeMarker(strconv.Itoa(n - 1)), nil
				}
				o := OrderableOption{Engine: engineName, EngineVersion: b.Version, DBInstanceClass: c,
					LicenseModel: licenseModels[engineName], StorageType: st, AvailabilityZone: s.cfg.Region + "a",
					SupportsIops: st == "io1" || st == "io2" || st == "gp3", SupportsStorageThroughput: st == "gp3",
					ReadReplicaCapable: true, SupportsClusters: engineName == auroraPostgres,
					MinStorageSize: 20, MaxStorageSize: 65536}
				if st == "aurora" {
					o.MinStorageSize, o.MaxStorageSize = 1, 131072
				}
				out = append(out, o)
			}
		}
	}
	return out, "", nil
}
