package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ServerUserName is the unprivileged system user database servers run as
// when teal runs as root.
const ServerUserName = "teal"

// createUserTimeout bounds each attempt to create or remove a user.
const createUserTimeout = 30 * time.Second

// userMu keeps concurrent callers from racing to create or remove users.
var userMu sync.Mutex

// ServerUser returns the credential database servers must run as: nil when
// teal does not run as root, since it cannot switch users then; when it runs
// as root, the system user "teal", created if missing. PostgreSQL refuses to
// run as root, and a server running as root would give anyone who breaks
// into it the whole host.
func ServerUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	return SystemUser(ServerUserName)
}

// SystemUser returns the credential of an unprivileged system user (no
// home, no login shell, a group of its own), created if missing. Only root
// may call it.
func SystemUser(name string) (*syscall.Credential, error) {
	userMu.Lock()
	defer userMu.Unlock()
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		if err := userTool(name, [][]string{
			{"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name},
			{"adduser", "--system", "--group", "--no-create-home", "--shell", "/usr/sbin/nologin", name},
			{"adduser", "-S", "-D", "-H", "-s", "/sbin/nologin", name},
		}); err != nil {
			return nil, fmt.Errorf("create user %s: %w", name, err)
		}
		u, err = user.Lookup(name)
	}
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", name, err)
	}
	return credential(u)
}

// RemoveSystemUser deletes a user SystemUser created, with its group. A
// user that does not exist is already removed.
func RemoveSystemUser(name string) error {
	userMu.Lock()
	defer userMu.Unlock()
	if _, err := user.Lookup(name); err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil
		}
		return fmt.Errorf("look up user %s: %w", name, err)
	}
	if err := userTool(name, [][]string{{"userdel", name}, {"deluser", "--system", name}, {"deluser", name}}); err != nil {
		return fmt.Errorf("remove user %s: %w", name, err)
	}
	// userdel keeps a group that another user still names; the user's own
	// group goes with it otherwise.
	return nil
}

// userTool runs the first of the attempts whose tool is installed: shadow's
// tools, Debian's, then BusyBox's.
func userTool(name string, attempts [][]string) error {
	var errs []error
	for _, args := range attempts {
		if _, err := exec.LookPath(args[0]); err != nil {
			errs = append(errs, err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), createUserTimeout)
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		cancel()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w: %s", args[0], err, out))
	}
	return errors.Join(errs...)
}

func credential(u *user.User) (*syscall.Credential, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s has uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s has gid %q: %w", u.Username, u.Gid, err)
	}
	// exec sets exactly these supplementary groups, dropping root's.
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of user %s: %w", u.Username, err)
	}
	for _, id := range ids {
		g, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %s has group id %q: %w", u.Username, id, err)
		}
		if uint32(g) != cred.Gid {
			cred.Groups = append(cred.Groups, uint32(g))
		}
	}
	return cred, nil
}
