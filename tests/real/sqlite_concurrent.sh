#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/real/sqlite_concurrent.sh JOURNAL [PROCS ROWS BATCH]: PROCS sqlite3
# processes insert ROWS rows each into one database at the same time,
# BATCH rows per transaction (BEGIN IMMEDIATE, .timeout 5000); the row
# count must be exact and PRAGMA integrity_check ok. JOURNAL: delete | wal.
# (SQLite's busy handler polls: with a transaction per row, four writers
# on a loaded 2-core machine starve one past 5 s even without the shim.)
# Exit 0 ok, 1 wrong, 77 sqlite3 missing.
set -u
journal=${1:-delete}
procs=${2:-4}
rows=${3:-200}
batch=${4:-10}
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3"; exit 77; }
dir=$(mktemp -d /tmp/lockspace-real-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
db=$dir/db
sqlite3 -bail "$db" "PRAGMA journal_mode=$journal;
	CREATE TABLE t (p INTEGER, i INTEGER, pad TEXT);" >/dev/null || exit 1
p=0
while [ $p -lt $procs ]; do
	{
		echo ".timeout 5000"
		i=0
		while [ $i -lt $rows ]; do
			[ $((i % batch)) = 0 ] && echo "BEGIN IMMEDIATE;"
			echo "INSERT INTO t VALUES ($p, $i, hex(randomblob(200)));"
			[ $((i % batch)) = $((batch - 1)) ] && echo "COMMIT;"
			i=$((i + 1))
		done
		[ $((rows % batch)) = 0 ] || echo "COMMIT;"
	} | sqlite3 -bail "$db" >"$dir/out.$p" 2>&1 &
	pids="${pids:-} $!"
	p=$((p + 1))
done
fail=0
for job in $pids; do
	wait "$job" || fail=1
done
cat "$dir"/out.*
[ $fail = 0 ] || { echo "FAIL: a writer failed"; exit 1; }
count=$(sqlite3 "$db" "SELECT count(*) FROM t;")
distinct=$(sqlite3 "$db" "SELECT count(*) FROM (SELECT DISTINCT p, i FROM t);")
check=$(sqlite3 "$db" "PRAGMA integrity_check;")
mode=$(sqlite3 "$db" "PRAGMA journal_mode;")
want=$((procs * rows))
echo "journal=$mode rows=$count distinct=$distinct integrity=$check"
[ "$count" = $want ] && [ "$distinct" = $want ] && [ "$check" = ok ] &&
	[ "$mode" = "$journal" ] || { echo "FAIL: want $want rows"; exit 1; }
echo OK
