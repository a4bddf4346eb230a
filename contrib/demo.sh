#!/bin/sh
# contrib/demo.sh - the README's demo command: install what is missing,
# build, and run a whole local Beckn network on 127.0.0.1 through one
# course enrolment.
#
#   registry  becknd serving a registry file as POST /lookup
#   gateway   becknd, role gateway (BG)
#   BAP       becknd adaptor + contrib/sandbox/bap_client.py (the BAP app)
#   BPP x 2   becknd adaptors + contrib/sandbox/bpp_app.py (course catalogs)
#
# Keys come from `becknd keygen` in a temporary folder, every configuration
# is checked with `becknd -c FILE -t`, and the flow searches "python",
# selects, inits, confirms and asks for the status.  Everything started is
# stopped by PID at the end (also on Ctrl-C), and the folder removed.
#
#   sh contrib/demo.sh [--keep]
#
# --keep (or BECKND_DEMO_KEEP=1): leave the network running after the flow
# and print curl commands to try; Ctrl-C stops it.  Ports 7500-7510 by
# default (free ones when those are taken); BECKND_DEMO_PORT=N uses
# N..N+10, BECKND_DEMO_PORT=0 free ports.  The network itself is run by
# contrib/sandbox/network.py, which the network test shares.
set -eu
cd "$(dirname "$0")/.."

keep=
for arg in "$@"; do
	case $arg in
	--keep) keep=--keep ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: sh contrib/demo.sh [--keep]" >&2; exit 2 ;;
	esac
done

. contrib/deps.sh

becknd_install_deps
echo "becknd demo: building in build/demo (log: build-demo.log)"
becknd_build build/demo >build-demo.log 2>&1 || {
	tail -40 build-demo.log
	echo "becknd demo: build failed (full log: build-demo.log)" >&2
	exit 1
}
bin=build/demo/becknd

tmp=$(mktemp -d "${TMPDIR:-/tmp}/becknd-demo.XXXXXX")
pid=

# The runner stops the network itself (by PID, in order).  If it could not
# (killed), stop what its pid file still lists, checking each PID is ours.
leftover() {	# leftover SIGNAL
	while read -r p name; do
		kill -0 "$p" 2>/dev/null || continue
		case $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) in
		*"$tmp"*|*/contrib/sandbox/*)
			echo "becknd demo: $1 to leftover $name (pid $p)"
			kill -"$1" "$p" 2>/dev/null || true ;;
		esac
	done <"$tmp/pids"
}
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 150 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	if [ -s "$tmp/pids" ]; then
		leftover TERM
		sleep 2
		leftover KILL
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
# A signal goes on to the runner, which stops the network and exits.
trap '[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true' INT TERM HUP

python3 contrib/sandbox/network.py demo --becknd "$bin" --workdir "$tmp" \
    $keep &
pid=$!
while :; do
	if wait "$pid"; then rc=0; else rc=$?; fi
	# Above 128: a signal interrupted the wait; the runner may still be
	# stopping the network.
	if [ "$rc" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then
		continue
	fi
	break
done
pid=
exit "$rc"
