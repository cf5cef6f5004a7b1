package rds

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

var identifierRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// validIdentifier applies the RDS rules for DB instance and parameter group
// identifiers: 1 to max letters, digits or hyphens; first a letter; no two
// consecutive hyphens; no hyphen at the end.
func validIdentifier(param, id string, max int) error {
	if id == "" {
		return missing(param)
	}
	if len(id) > max || !identifierRE.MatchString(id) ||
		strings.Contains(id, "--") || strings.HasSuffix(id, "-") {
		return invalidValue("The parameter %s is not a valid identifier. Identifiers must begin with a letter; "+
			"must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain "+
			"two consecutive hyphens. It must be 1 to %d characters long.", param, max)
	}
	return nil
}

func validInstanceIdentifier(param, id string) error { return validIdentifier(param, id, 63) }

var usernameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

var reservedUsers = map[string]bool{
	"postgres": false, "rdsadmin": true, "tealadmin": true, "tealrepl": true, "rdsrepladmin": true,
	"public": true, "current_user": true, "session_user": true, "user": true, "all": true,
	"none": true, "pg_signal_backend": true,
}

func validMasterUsername(name string) error {
	if name == "" {
		return missing("MasterUsername")
	}
	if !usernameRE.MatchString(name) || strings.HasPrefix(strings.ToLower(name), "pg_") {
		return invalidValue("The parameter MasterUsername is not a valid identifier: it must be 1 to 63 letters, " +
			"digits or underscores, begin with a letter, and not begin with pg_.")
	}
	if reservedUsers[strings.ToLower(name)] {
		return invalidValue("MasterUsername %s cannot be used as it is a reserved word used by the engine", name)
	}
	return nil
}

func validMasterPassword(pw string) error {
	if pw == "" {
		return missing("MasterUserPassword")
	}
	if len(pw) < 8 || len(pw) > 128 {
		return invalidValue("The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters or longer than 128.")
	}
	for _, r := range pw {
		if r < 0x21 || r > 0x7e || r == '/' || r == '"' || r == '@' {
			return invalidValue("The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"', ' ' may be used.")
		}
	}
	return nil
}

var dbNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

func validDBName(name string) error {
	if name != "" && !dbNameRE.MatchString(name) {
		return invalidValue("The parameter DBName is not a valid identifier: it must begin with a letter and contain 1 to 63 letters, digits or underscores.")
	}
	return nil
}

var classRE = regexp.MustCompile(`^db\.(t3|t4g|m5|m5d|m6g|m6gd|m6i|m6id|m7g|m7i|r5|r5b|r6g|r6gd|r6i|r7g|r7i|x2g|c6gd)\.(micro|small|medium|large|xlarge|[0-9]{1,2}xlarge)$`)

func validClass(class, engine string) error {
	if class == "" {
		return missing("DBInstanceClass")
	}
	if !classRE.MatchString(class) {
		return invalidCombination("RDS does not support creating a DB instance with the following combination: "+
			"DBInstanceClass=%s, Engine=%s.", class, engine)
	}
	return nil
}

func validStorage(gb int) error {
	if gb < 20 || gb > 65536 {
		return invalidValue("Invalid storage size for engine name postgres and storage type gp2: %d. It must be from 20 to 65536 GiB.", gb)
	}
	return nil
}

// validStorageType checks a storage type against those orderable here.
func validStorageType(typ string) error {
	if !slices.Contains(storageTypes, typ) {
		return fault("StorageTypeNotSupported", http.StatusBadRequest, "Invalid storage type: %s. It must be one of %s.",
			typ, strings.Join(storageTypes, ", "))
	}
	return nil
}

// validPort checks an endpoint port; 0 lets teal pick a free one.
func validPort(port int) error {
	if port != 0 && (port < 1150 || port > 65535) {
		return invalidValue("Invalid port %d: it must be from 1150 to 65535.", port)
	}
	return nil
}

func validBackupRetention(days int) error {
	if days < 0 || days > 35 {
		return invalidValue("The parameter BackupRetentionPeriod must be between 0 and 35: %d.", days)
	}
	return nil
}

var tagCharsRE = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)

// validTags applies the RDS tag rules: keys 1 to 128 characters, values up to
// 256, no aws: or rds: prefix, and the allowed character set.
func validTags(tags []Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		n := utf8.RuneCountInString(t.Key)
		if n < 1 || n > 128 {
			return invalidValue("Tag key %q must be 1 to 128 characters long.", t.Key)
		}
		if utf8.RuneCountInString(t.Value) > 256 {
			return invalidValue("Tag value for key %q must be at most 256 characters long.", t.Key)
		}
		lower := strings.ToLower(t.Key)
		if strings.HasPrefix(lower, "aws:") || strings.HasPrefix(lower, "rds:") {
			return invalidValue("Tag keys cannot start with aws: or rds: (%q).", t.Key)
		}
		if !tagCharsRE.MatchString(t.Key) || !tagCharsRE.MatchString(t.Value) {
			return invalidValue("Tag %q contains characters that are not allowed. Tags may contain letters, "+
				"digits, white space and _ . : / = + - @.", t.Key)
		}
		if seen[t.Key] {
			return invalidValue("Tag key %q is given more than once.", t.Key)
		}
		seen[t.Key] = true
	}
	if len(tags) > 50 {
		return fault("TagQuotaPerResourceExceeded", 400, "A resource can have at most 50 tags.")
	}
	return nil
}

// mergeTags sets (or overwrites) tags by key, keeping the order of first appearance.
func mergeTags(have, add []Tag) []Tag {
	out := append([]Tag(nil), have...)
	for _, t := range add {
		replaced := false
		for i := range out {
			if out[i].Key == t.Key {
				out[i].Value = t.Value
				replaced = true
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return out
}

// checkFinalSnapshot applies the rules of DeleteDBInstance's snapshot
// members. RDS takes a final snapshot unless SkipFinalSnapshot is set, and
// then needs FinalDBSnapshotIdentifier; teal has no snapshots, so it asks
// for SkipFinalSnapshot and says so rather than delete without the snapshot
// the caller asked for.
func checkFinalSnapshot(skip bool, finalSnapshotID string) error {
	switch {
	case skip && finalSnapshotID != "":
		return invalidCombination("FinalDBSnapshotIdentifier cannot be specified together with SkipFinalSnapshot.")
	case !skip && finalSnapshotID == "":
		return invalidCombination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
	}
	return nil
}
