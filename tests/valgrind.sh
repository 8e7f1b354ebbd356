#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/valgrind.sh: the unit tests under valgrind memcheck, zero errors.
#
#   tests/valgrind.sh [BUILD_DIR [SUITE...]]
#
# Criterion runs each test in a forked child and reports the test's own
# verdict, not the child's exit status, so valgrind's --error-exitcode
# alone never fails a run. Every process therefore writes its own log
# (--trace-children=yes, --log-file=...%p), and the run fails when the
# test binary fails or any log has an error or a leak (ERROR SUMMARY
# above 0: --leak-check=full counts definite and possible leaks).
# tests/valgrind.supp hides Criterion's own buffers in the forked
# children of a test. Tests in SKIP do not run: a test that execs
# /proc/self/exe (the lockspace export across exec) cannot, as under
# valgrind the link names valgrind's own tool, which refuses to run
# directly (traced or not).
B=${1:-build}
[ $# -gt 0 ] && shift
SUITES=${*:-range table kernel lockspace config fuzzregress}
TESTS=$B/lockspace-tests
LOGS=$B/valgrind
SKIP="lockspace/export_exec_import_keeps_the_locks"

command -v valgrind >/dev/null || { echo "valgrind: not installed"; exit 1; }
[ -x "$TESTS" ] || { echo "valgrind: no $TESTS (make $TESTS)"; exit 1; }
rm -rf "$LOGS" && mkdir -p "$LOGS" || exit 1

status=0
for s in $SUITES; do
	mkdir -p "$LOGS/$s"
	filter="$s/*"
	not=$(for t in $SKIP; do
		case $t in "$s"/*) printf '%s|' "${t#*/}" ;; esac
	done)
	[ -n "$not" ] && filter="$s/!(${not%|})"
	if ! valgrind --trace-children=yes --error-exitcode=1 \
		--leak-check=full --errors-for-leak-kinds=definite,possible \
		--suppressions="$(dirname "$0")/valgrind.supp" \
		--log-file="$LOGS/$s/vg.%p" \
		"$TESTS" --filter "$filter" --jobs=1 >"$LOGS/$s/out" 2>&1; then
		echo "valgrind: $s: tests failed:"
		tail -20 "$LOGS/$s/out"
		status=1
	fi
	nlogs=$(ls "$LOGS/$s" | grep -c '^vg\.')
	bad=$(grep -L 'ERROR SUMMARY: 0 errors' "$LOGS/$s"/vg.* 2>/dev/null)
	if [ -n "$bad" ]; then
		for f in $bad; do
			echo "valgrind: $s: errors in $f:"
			sed -n '/^==[0-9]*== [A-Z].*\(Invalid\|uninitialised\|lost\|Mismatched\|Syscall\|overlap\|free\)/,/^==[0-9]*== $/p' \
				"$f" | head -40
		done
		status=1
	fi
	echo "valgrind: $s: $(tail -1 "$LOGS/$s/out" | sed 's/^\[====\] //'), $nlogs processes checked${bad:+, ERRORS}"
done
exit $status
