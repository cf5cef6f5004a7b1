package api

import (
	"context"

	"github.com/tealdb/teal/internal/rds"
)

// DescribeOrderableDBInstanceOptions: what CreateDBInstance accepts here.

type describeOrderableInput struct {
	Engine                string `query:",required"`
	EngineVersion         string
	DBInstanceClass       string
	LicenseModel          string
	AvailabilityZoneGroup string `query:",unsupported"`
	Vpc                   *bool
	Filters               []filterInput `query:"Filters.Filter"`
	MaxRecords            int
	Marker                string
}

type availabilityZoneXML struct {
	Name string
}

type orderableOptionXML struct {
	Engine                            string
	EngineVersion                     string
	DBInstanceClass                   string
	LicenseModel                      string
	AvailabilityZones                 list[availabilityZoneXML]
	MultiAZCapable                    bool
	ReadReplicaCapable                bool
	Vpc                               bool
	SupportsStorageEncryption         bool
	StorageType                       string
	SupportsIops                      bool
	SupportsStorageThroughput         bool
	SupportsEnhancedMonitoring        bool
	SupportsIAMDatabaseAuthentication bool
	SupportsPerformanceInsights       bool
	MinStorageSize                    int
	MaxStorageSize                    int
	SupportsStorageAutoscaling        bool
	SupportsKerberosAuthentication    bool
	OutpostCapable                    bool
	SupportsGlobalDatabases           bool
	SupportedNetworkTypes             list[string]
	SupportsClusters                  bool
	SupportsDedicatedLogVolume        bool
	SupportsHttpEndpoint              bool
}

type describeOrderableResult struct {
	OrderableDBInstanceOptions list[orderableOptionXML]
	Marker                     string `xml:",omitempty"`
}

func (a *API) describeOrderable(ctx context.Context, in *describeOrderableInput) (describeOrderableResult, error) {
	opts, marker, err := a.svc.DescribeOrderableDBInstanceOptions(ctx, in.Engine, in.EngineVersion, in.DBInstanceClass,
		in.LicenseModel, in.Vpc, filtersOf(in.Filters), rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeOrderableResult{}, err
	}
	out := make([]orderableOptionXML, len(opts))
	for i, o := range opts {
		out[i] = orderableOptionXML{
			Engine: o.Engine, EngineVersion: o.EngineVersion, DBInstanceClass: o.DBInstanceClass, LicenseModel: o.LicenseModel,
			AvailabilityZones:  listOf("AvailabilityZone", []availabilityZoneXML{{Name: o.AvailabilityZone}}),
			ReadReplicaCapable: o.ReadReplicaCapable, Vpc: true, StorageType: o.StorageType,
			SupportsIops: o.SupportsIops, SupportsStorageThroughput: o.SupportsStorageThroughput,
			MinStorageSize: o.MinStorageSize, MaxStorageSize: o.MaxStorageSize,
			SupportedNetworkTypes: listOf("member", []string{"IPV4"}), SupportsClusters: o.SupportsClusters,
		}
	}
	return describeOrderableResult{OrderableDBInstanceOptions: listOf("OrderableDBInstanceOption", out), Marker: marker}, nil
}
