#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/real/stress.sh STRESSOR [SECONDS]: stress-ng's lock stressor
# (fcntl, lockf, lockofd, locka) with two workers for a bounded time; exit
# status 0 and no error or failure line. Exit 77 when stress-ng or the
# stressor is missing.
set -u
s=$1
t=${2:-3}
command -v stress-ng >/dev/null || { echo "SKIP: no stress-ng"; exit 77; }
stress-ng --stressors 2>/dev/null | tr ' ' '\n' | grep -qx "$s" ||
	{ echo "SKIP: stress-ng has no --$s"; exit 77; }
dir=$(mktemp -d /tmp/lockspace-real-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
stress-ng --temp-path "$dir" --"$s" 2 -t "$t" --metrics-brief \
	--verify >"$dir/out" 2>&1
rc=$?
cat "$dir/out"
[ $rc = 0 ] || { echo "FAIL: stress-ng exit status $rc"; exit 1; }
grep -Eiq 'error|fail|unsuccessful' "$dir/out" &&
	{ echo "FAIL: error lines"; exit 1; }
grep -q 'successful run completed' "$dir/out" ||
	{ echo "FAIL: no completion line"; exit 1; }
echo OK
