#!/bin/sh
# tests/cluster/sqlite_two_writers.sh DIR_A DIR_B [TXNS]: two sqlite3
# writers on one database, the first through DIR_A, the second through
# DIR_B (two mounts of one cluster volume: two "hosts"). Each runs TXNS
# transactions (BEGIN IMMEDIATE; .timeout 20000) that add 1 to table t1,
# then open, read and close the database file (readfile(), a fopen and
# fclose inside the transaction, as a program's own code might), then add
# 1 to table t2. With every lock kept, t1 = t2 = 2 * TXNS.
# Run it under LD_PRELOAD to put the writers (not the set-up and the
# count) under the shim. Prints one line
#   sqlite3 two writers: t1=N t2=N of WANT integrity=... errors=N
# and, under the shim, fallbacks=N: the writers' files the shim switched
# to plain POSIX locks (from its log; sqlite3 takes no lock past the shim,
# so any is a false one, and protection lost).
# Exit 0 exact, 1 not, 77 sqlite3 missing.
set -u
a=$1
b=$2
txns=${3:-200}
preload=${LD_PRELOAD:-}
unset LD_PRELOAD
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3"; exit 77; }
name=sqlite-$$-$(date +%s%N)
log=$(mktemp /tmp/lockspace-sqlite-log.XXXXXX) || exit 1
trap '[ -n "${KEEP:-}" ] || rm -f "$a/$name" "$a/$name-journal" "$a/$name".w* "$log"' EXIT
sqlite3 -bail "$a/$name" "PRAGMA journal_mode=delete;
	CREATE TABLE t1 (n INTEGER); CREATE TABLE t2 (n INTEGER);
	INSERT INTO t1 VALUES (0); INSERT INTO t2 VALUES (0);" >/dev/null ||
	exit 1
for w in 0 1; do
	[ $w = 0 ] && db=$a/$name || db=$b/$name
	{
		echo ".timeout 20000"
		i=0
		while [ $i -lt "$txns" ]; do
			echo "BEGIN IMMEDIATE;"
			echo "UPDATE t1 SET n = n + 1;"
			echo "SELECT length(readfile('$db')) >= 0;"
			echo "UPDATE t2 SET n = n + 1;"
			echo "COMMIT;"
			i=$((i + 1))
		done
	} | LD_PRELOAD=$preload LOCKSPACE_PRELOAD_LOG=$log \
		sqlite3 "$db" >"$a/$name.w$w" 2>&1 &
	pids="${pids:-} $!"
done
for job in $pids; do
	wait "$job"
done
t1=$(sqlite3 "$a/$name" "SELECT n FROM t1;" 2>&1)
t2=$(sqlite3 "$a/$name" "SELECT n FROM t2;" 2>&1)
check=$(sqlite3 "$a/$name" "PRAGMA integrity_check;" 2>&1 | head -1)
errors=$(grep -c -i 'error' "$a/$name".w* | awk -F: '{ n += $NF } END { print n + 0 }')
want=$((2 * txns))
fb=
[ -z "$preload" ] || fb=" fallbacks=$(grep -c 'fallback to plain POSIX' "$log")"
echo "sqlite3 two writers: t1=$t1 t2=$t2 of $want integrity=$check errors=$errors$fb"
[ "$t1" = $want ] && [ "$t2" = $want ] && [ "$check" = ok ] &&
	[ "$fb" = "" -o "$fb" = " fallbacks=0" ]
