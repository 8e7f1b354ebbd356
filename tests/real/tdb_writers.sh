#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/real/tdb_writers.sh [PROCS KEYS]: PROCS tdbtool processes store
# KEYS records each into one tdb file at the same time (tdb locks its hash
# chains and free list with fcntl byte-range locks, F_SETLKW), half of them
# inside transactions; every record must be there and `check` must pass.
# Exit 0 ok, 1 wrong, 77 tdb-tools missing.
set -u
procs=${1:-4}
keys=${2:-200}
command -v tdbtool >/dev/null && command -v tdbdump >/dev/null ||
	{ echo "SKIP: no tdbtool/tdbdump (tdb-tools)"; exit 77; }
dir=$(mktemp -d /tmp/lockspace-real-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
db=$dir/db.tdb
echo "create $db" | tdbtool >/dev/null 2>&1
[ -f "$db" ] || { echo "FAIL: create"; exit 1; }
pids=
p=0
while [ $p -lt $procs ]; do
	{
		i=0
		while [ $i -lt $keys ]; do
			if [ $((i % 20)) = 10 ]; then
				echo transaction_start
			fi
			echo "store k$p.$i v$p.$i.$$"
			if [ $((i % 20)) = 19 ]; then
				echo transaction_commit
			fi
			i=$((i + 1))
		done
	} | tdbtool "$db" >"$dir/out.$p" 2>&1 &
	pids="$pids $!"
	p=$((p + 1))
done
fail=0
for pid in $pids; do
	wait "$pid" || fail=1
done
grep -iE 'error|fail|could not' "$dir"/out.* && fail=1
[ $fail = 0 ] || { echo "FAIL: a writer failed"; exit 1; }
n=$(tdbdump "$db" | grep -c '^key(')
check=$(echo check | tdbtool "$db" 2>&1)
echo "records=$n check: $(echo "$check" | tr '\n' ' ')"
[ "$n" = $((procs * keys)) ] || { echo "FAIL: want $((procs * keys))"; exit 1; }
echo "$check" | grep -q 'integrity is OK' || { echo "FAIL: check"; exit 1; }
echo OK
