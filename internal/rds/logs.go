package rds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tealdb/teal/internal/engine"
)

// A DB instance's log file is its server's own log (server.log beside its
// data), under the name RDS gives that log: error/postgresql.log or
// error/mysql-error.log. No other file can be named: a LogFileName is
// looked up among these, never used as a path.

// LogFile describes a log file, as DescribeDBLogFiles lists it.
type LogFile struct {
	LogFileName string
	LastWritten int64 // milliseconds since the epoch
	Size        int64
}

// LogPortion is what DownloadDBLogFilePortion answers.
type LogPortion struct {
	LogFileData           string
	Marker                string
	AdditionalDataPending bool
}

// The most a portion holds, as in RDS: 1 MB, and 10000 lines when no
// number of lines is asked for.
const (
	maxPortionBytes = 1 << 20
	maxPortionLines = 10000
)

func logFileNotFound(name string) *Fault {
	return fault("DBLogFileNotFoundFault", http.StatusNotFound, "DBLog File: %s, is not found on the DB instance", name)
}

func logName(engineName string) string {
	if engine.IsPostgres(engineName) {
		return "error/postgresql.log"
	}
	return "error/mysql-error.log"
}

// logFileLocked finds an instance and the path of its log.
func (s *Service) logFileLocked(id string) (*instanceRecord, string, error) {
	if id == "" {
		return nil, "", missing("DBInstanceIdentifier")
	}
	r := s.findLocked(id)
	if r == nil {
		return nil, "", instanceNotFound(id)
	}
	return r, filepath.Join(s.instancesDir, r.ResourceID, "server.log"), nil
}

// DescribeDBLogFiles lists an instance's log files: those whose name
// contains contains, written at or after lastWritten (milliseconds) and
// at least size bytes long, when given.
func (s *Service) DescribeDBLogFiles(ctx context.Context, id, contains string, lastWritten, size int64) ([]LogFile, error) {
	s.mu.Lock()
	r, path, err := s.logFileLocked(id)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", r.Identifier, err)
	}
	f := LogFile{LogFileName: logName(r.Engine), LastWritten: fi.ModTime().UnixMilli(), Size: fi.Size()}
	if !strings.Contains(f.LogFileName, contains) || f.LastWritten < lastWritten || f.Size < size {
		return nil, nil
	}
	return []LogFile{f}, nil
}

// DownloadDBLogFilePortion reads a portion of a log file, as RDS does:
// from marker (a byte offset; "0" is the start) up to lines lines, or
// without a marker the last lines of the file (10000 when lines is 0),
// and never more than 1 MB. The marker returned is where the next portion
// starts.
func (s *Service) DownloadDBLogFilePortion(ctx context.Context, id, name, marker string, lines int) (*LogPortion, error) {
	if name == "" {
		return nil, missing("LogFileName")
	}
	if lines < 0 {
		return nil, invalidValue("Invalid NumberOfLines %d.", lines)
	}
	s.mu.Lock()
	r, path, err := s.logFileLocked(id)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if name != logName(r.Engine) {
		return nil, logFileNotFound(name)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, logFileNotFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", r.Identifier, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	end := fi.Size()
	if marker == "" {
		return tailPortion(f, end, lines)
	}
	from, err := strconv.ParseInt(marker, 10, 64)
	if err != nil || from < 0 {
		return nil, invalidValue("Invalid Marker: %s", marker)
	}
	from = min(from, end)
	buf := make([]byte, min(end-from, maxPortionBytes))
	if _, err := f.ReadAt(buf, from); err != nil && err != io.EOF {
		return nil, err
	}
	if lines > 0 {
		buf = firstLines(buf, lines)
	}
	next := from + int64(len(buf))
	return &LogPortion{LogFileData: string(buf), Marker: strconv.FormatInt(next, 10), AdditionalDataPending: next < end}, nil
}

// tailPortion is the last lines lines of a file of size end (10000 when
// lines is 0), within the last megabyte.
func tailPortion(f *os.File, end int64, lines int) (*LogPortion, error) {
	if lines == 0 {
		lines = maxPortionLines
	}
	from := max(0, end-maxPortionBytes)
	buf := make([]byte, end-from)
	if _, err := f.ReadAt(buf, from); err != nil && err != io.EOF {
		return nil, err
	}
	if from > 0 {
		// Start at a whole line.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	body := bytes.TrimSuffix(buf, []byte("\n"))
	if n := bytes.Count(body, []byte("\n")) + 1; n > lines {
		cut := len(body)
		for range lines {
			cut = bytes.LastIndexByte(body[:cut], '\n')
		}
		buf = buf[cut+1:]
	}
	return &LogPortion{LogFileData: string(buf), Marker: strconv.FormatInt(end, 10)}, nil
}

// firstLines is the first n lines of buf, each with its newline.
func firstLines(buf []byte, n int) []byte {
	at := 0
	for range n {
		i := bytes.IndexByte(buf[at:], '\n')
		if i < 0 {
			return buf
		}
		at += i + 1
	}
	return buf[:at]
}
