#!/bin/sh
# contrib/test.sh - the README's test command: install what is missing,
# build, and run the whole suite. Exits non-zero on any failure.
#
#   1. build/check:  -Werror build, `make check` (all Check suites,
#                    in-process and black-box tests)
#   2. build/asan:   AddressSanitizer + UBSan build, `make check` again
#   3. valgrind:     the unit suites under valgrind (no fork, leaks fatal),
#                    then the black-box, journal, abuse, durable-store
#                    and observability suites with every becknd under
#                    valgrind (the abuse suite's load tests skip
#                    themselves there: RSS and latency mean nothing; the
#                    durable and observability suites keep their counts,
#                    and the latter its 30 s sink outage, and wait longer)
#   4. distcheck:    the release tarball builds and passes on its own
#
# Set BECKND_QUICK=1 to run step 1 only.
set -eu
cd "$(dirname "$0")/.."
. contrib/deps.sh

becknd_install_deps
autoreconf -fi

jobs=$(nproc)
status=0
logs=""

run_check() {	# run_check DIR [configure flags...]
	dir=$1
	shift
	echo "== $dir: configure $*"
	becknd_build "$dir" "$@"
	if ! (cd "$dir" && make -j"$jobs" check); then
		status=1
		for f in "$dir"/test-suite.log; do
			[ -f "$f" ] && cat "$f"
		done
	fi
	logs="$logs $dir"
}

run_check build/check --enable-werror

if [ "${BECKND_QUICK:-0}" != 1 ]; then
	run_check build/asan --enable-werror --enable-asan --enable-ubsan

	echo "== valgrind: unit suites"
	for t in $(cd build/check && for f in tests/check_*; do
	    case $f in *.*) ;; *) [ -x "$f" ] && echo "$f" ;; esac; done); do
		echo "-- valgrind $t"
		if ! (cd build/check && env CK_FORK=no \
		    BECKND_SRCDIR="$(pwd)/../.." BECKND_BIN="$(pwd)/becknd" \
		    BECKND_SHARED="${BECKND_SHARED:-$(pwd)/../../../shared}" \
		    BECKND_TEST_UNDER_VALGRIND=1 \
		    valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
		    --error-exitcode=99 --trace-children=no "./$t" \
		    >"$t.valgrind.log" 2>&1); then
			rc=$?
			# 77 is a skip (no ../shared); anything else fails.
			if [ "$rc" != 77 ]; then
				echo "FAIL: valgrind $t (exit $rc)"
				tail -50 "build/check/$t.valgrind.log"
				status=1
			fi
		fi
	done

	# The Python suites with every becknd they start under valgrind.
	for suite in blackbox journal abuse durable observe; do
		echo "== valgrind: $suite suite (every becknd under valgrind)"
		if ! (cd build/check && env BECKND_BIN="$(pwd)/becknd" \
		    BECKND_SRCDIR="$(pwd)/../.." \
		    BECKND_SHARED="${BECKND_SHARED:-$(pwd)/../../../shared}" \
		    BECKND_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
		    python3 "../../tests/$suite/run.py" \
		    >"$suite.valgrind.log" 2>&1); then
			tail -40 "build/check/$suite.valgrind.log"
			echo "FAIL: $suite suite under valgrind"
			status=1
		fi
		tail -1 "build/check/$suite.valgrind.log"
	done
	echo "== distcheck"
	(cd build/check && make -j"$jobs" distcheck \
	    DISTCHECK_CONFIGURE_FLAGS=--enable-werror >distcheck.log 2>&1) || {
		tail -60 build/check/distcheck.log
		echo "FAIL: make distcheck"
		status=1
	}
fi

# One closing line: Check assertions summed over every suite that ran;
# "skipped" counts test programs that skipped (e.g. no ../shared).
trs=$(for d in $logs; do ls "$d"/tests/*.trs 2>/dev/null; done)
skipped=$(cat $trs /dev/null | grep -c ':test-result: SKIP' || true)
failed_progs=$(cat $trs /dev/null | grep -c ':test-result: \(FAIL\|ERROR\)' || true)
[ "$failed_progs" = 0 ] || status=1
counts=$(cat $(for d in $logs; do ls "$d"/tests/*.log "$d"/tests/*/*.log \
    "$d"/*.valgrind.log 2>/dev/null; done) /dev/null | awk '
	/Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/ {
		for (i = 1; i <= NF; i++) {
			if ($i == "Checks:") c += $(i + 1)
			if ($i == "Failures:") f += $(i + 1)
			if ($i == "Errors:") e += $(i + 1)
		}
	}
	# The Python black-box runners end with "name: N passed, M failed".
	/^[a-z]+: [0-9]+ passed, [0-9]+ failed/ {
		c += $2 + $4; f += $4
	}
	END { printf "%d %d\n", c - f - e, f + e }')
set -- $counts
[ "$2" = 0 ] || status=1
[ "$status" = 0 ] && echo "becknd: all tests passed" || echo "becknd: TESTS FAILED"
echo "checks: $1 passed, $2 failed, $skipped skipped"
exit $status
