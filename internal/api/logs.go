package api

import "context"

// The log file operations, over the servers' own logs.

type describeDBLogFilesInput struct {
	DBInstanceIdentifier string `query:",required,id=db"`
	FilenameContains     string
	FileLastWritten      int64
	FileSize             int64
	Filters              []filterInput `query:"Filters.Filter"`
	MaxRecords           int
	Marker               string
}

type logFileXML struct {
	LogFileName string
	LastWritten int64
	Size        int64
}

type describeDBLogFilesResult struct {
	DescribeDBLogFiles list[logFileXML]
	Marker             string `xml:",omitempty"`
}

func (a *API) describeDBLogFiles(ctx context.Context, in *describeDBLogFilesInput) (describeDBLogFilesResult, error) {
	if len(in.Filters) > 0 {
		return describeDBLogFilesResult{}, invalidValue("teal does not filter log files; use FilenameContains, FileLastWritten and FileSize.")
	}
	files, err := a.svc.DescribeDBLogFiles(ctx, in.DBInstanceIdentifier, in.FilenameContains, in.FileLastWritten, in.FileSize)
	if err != nil {
		return describeDBLogFilesResult{}, err
	}
	out := make([]logFileXML, len(files))
	for i, f := range files {
		out[i] = logFileXML(f)
	}
	return describeDBLogFilesResult{DescribeDBLogFiles: listOf("DescribeDBLogFilesDetails", out)}, nil
}

type downloadDBLogFilePortionInput struct {
	DBInstanceIdentifier string `query:",required,id=db"`
	LogFileName          string `query:",required"`
	Marker               string
	NumberOfLines        int
}

type downloadDBLogFilePortionResult struct {
	LogFileData           string
	Marker                string
	AdditionalDataPending bool
}

func (a *API) downloadDBLogFilePortion(ctx context.Context, in *downloadDBLogFilePortionInput) (downloadDBLogFilePortionResult, error) {
	p, err := a.svc.DownloadDBLogFilePortion(ctx, in.DBInstanceIdentifier, in.LogFileName, in.Marker, in.NumberOfLines)
	if err != nil {
		return downloadDBLogFilePortionResult{}, err
	}
	return downloadDBLogFilePortionResult(*p), nil
}
