#!/bin/sh
# contrib/deps.sh - install the Debian packages becknd needs, when missing.
# Sourced by contrib/test.sh and contrib/demo.sh; safe to run on its own.

BECKND_DEBS="build-essential autoconf automake libtool pkg-config \
libevent-dev libcurl4-openssl-dev libjson-c-dev libssl-dev libyaml-dev \
libpcre2-dev libsqlite3-dev check json-schema-test-suite valgrind python3 curl \
python3-prometheus-client"

becknd_install_deps() {
	missing=""
	for p in $BECKND_DEBS; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return 0
	echo "becknd: installing missing Debian packages:$missing"
	if [ "$(id -u)" = 0 ]; then
		SUDO=""
	elif command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "becknd: not root and no sudo; please install:$missing" >&2
		return 1
	fi
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing
}

# Configure and build in $1 (a build folder) with configure flags $2...
becknd_build() {
	dir=$1
	shift
	top=$(pwd)
	[ -x configure ] || autoreconf -fi
	mkdir -p "$dir"
	(cd "$dir" && { [ -f Makefile ] || "$top/configure" "$@"; } &&
	    make -j"$(nproc)")
}

if [ "${0##*/}" = deps.sh ]; then
	set -e
	becknd_install_deps
fi
