package rds

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/supervisor"
)

// Each instance's server runs as an OS user of its own when teal runs as
// root, so that whatever runs inside one server (a program started through
// a hole in the engine, a file written by it) reaches nothing of the other
// instances nor of teal: their data, configuration and sockets belong to
// other users (0700), and teal's state to root.
//
// A PostgreSQL replica, and a green environment while it replicates,
// connect to their source's private socket. The socket directory is open to
// the source's group (0750), and the follower's server runs with that group
// as a supplementary group; no OS user is a member of it otherwise. On the
// socket, peer authentication maps the follower only to the replication
// role (internal/engine/postgres/access.go).

// OSUserOf names the OS user of an instance: "teal-" and its DbiResourceId
// without "db-", in lower case, 31 characters, within the 32 Linux allows.
func OSUserOf(resourceID string) string {
	return "teal-" + strings.ToLower(strings.TrimPrefix(resourceID, "db-"))
}

// osUsers caches the credentials of instance users: looking one up reads
// /etc/passwd, and creating one runs useradd.
type osUsers struct {
	mu    sync.Mutex
	creds map[string]*syscall.Credential // by DbiResourceId
}

// credentialOf is the OS user an instance's server runs as, created if
// missing; nil when teal does not run as root (servers then run as teal's
// own user, and nothing separates them).
func (s *Service) credentialOf(resourceID string) (*syscall.Credential, error) {
	if s.cfg.Credential == nil {
		return nil, nil
	}
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	if c := s.users.creds[resourceID]; c != nil {
		return c, nil
	}
	c, err := supervisor.SystemUser(OSUserOf(resourceID))
	if err != nil {
		return nil, err
	}
	if s.users.creds == nil {
		s.users.creds = map[string]*syscall.Credential{}
	}
	s.users.creds[resourceID] = c
	return c, nil
}

// removeOSUser deletes an instance's OS user once its files are gone.
func (s *Service) removeOSUser(resourceID string) error {
	if s.cfg.Credential == nil {
		return nil
	}
	s.users.mu.Lock()
	delete(s.users.creds, resourceID)
	s.users.mu.Unlock()
	return supervisor.RemoveSystemUser(OSUserOf(resourceID))
}

// serverCredentialLocked is the credential r's server runs with: its own
// user, plus the group of each PostgreSQL server it follows over a socket.
func (s *Service) serverCredentialLocked(r *instanceRecord) (*syscall.Credential, error) {
	own, err := s.credentialOf(r.ResourceID)
	if own == nil || err != nil {
		return own, err
	}
	cred := *own
	cred.Groups = append([]uint32(nil), own.Groups...)
	if !engine.IsPostgres(r.Engine) {
		return &cred, nil
	}
	for _, source := range s.followedLocked(r) {
		c, err := s.credentialOf(source)
		if err != nil {
			return nil, err
		}
		cred.Groups = append(cred.Groups, c.Gid)
	}
	return &cred, nil
}

// followedLocked lists the instances r replicates from: its source as a
// read replica, and blue while r is the green of a deployment not yet
// switched over.
func (s *Service) followedLocked(r *instanceRecord) []string {
	var out []string
	if r.SourceResourceID != "" {
		out = append(out, r.SourceResourceID)
	}
	for _, d := range s.deployments {
		if d.Status == bluegreen.StatusSwitchoverCompleted {
			continue
		}
		for _, m := range d.Members {
			if m.Green == r.ResourceID && m.Blue != "" {
				out = append(out, m.Blue)
			}
		}
	}
	return out
}

// adoptFiles gives an instance's files to its own OS user, with the
// permissions followers need, where they belong to someone else: an
// instance created by an older teal, whose servers all ran as one user.
func adoptFiles(l engine.Layout, instanceDir string) error {
	if l.Credential == nil {
		return nil
	}
	uid, gid := int(l.Credential.Uid), int(l.Credential.Gid)
	for _, root := range []string{instanceDir, l.SocketDir} {
		fi, err := os.Lstat(root)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("adopt %s: %w", root, err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid {
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) == 0 {
				return nil // teal's own files (the server log) stay teal's
			}
			return os.Lchown(path, uid, gid)
		})
		if err != nil {
			return fmt.Errorf("adopt %s: %w", root, err)
		}
	}
	return chmodInstanceDirs(instanceDir, l.SocketDir)
}

// chmodInstanceDirs sets the permissions of an instance's directories: its
// own directory is traversable by its group, so that followers reach the
// socket directory inside it, which its group may open.
func chmodInstanceDirs(instanceDir, socketDir string) error {
	if err := os.Chmod(instanceDir, 0o710); err != nil {
		return fmt.Errorf("chmod %s: %w", instanceDir, err)
	}
	if err := os.Chmod(socketDir, 0o750); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("chmod %s: %w", socketDir, err)
	}
	return nil
}
