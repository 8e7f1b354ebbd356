# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/run/lib.sh: what the scripts of tests/run/ share. Each is run by
# tests/test_run.c as `sh SCRIPT SRC_DIR BUILD_DIR` and exits 0 (every
# check passed; "skip:" lines say what could not be checked here), 1 (a
# "FAIL:" line says what) or 77 (nothing could be checked).
set -u
src=$1
b=$2
CC=${CC:-cc}
fail=0
t=$(mktemp -d /tmp/lockspace-run-test.XXXXXX) || exit 1
trap 'rm -rf "$t"' EXIT

ok() { printf 'ok: %s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }
skip() { printf 'skip: %s\n' "$*"; }

# expect WHAT STATUS ERR -- COMMAND...: COMMAND exits with STATUS, and its
# stderr is one line matching the grep pattern ERR (or empty when ERR is
# ""); stdout goes to $t/out, stderr to $t/err.
expect() {
	what=$1 want=$2 err=$3
	shift 4
	"$@" >"$t/out" 2>"$t/err"
	st=$?
	if [ "$st" != "$want" ]; then
		bad "$what: status $st, want $want; stderr: $(cat "$t/err")"
	elif [ -z "$err" ] && [ -s "$t/err" ]; then
		bad "$what: stderr not empty: $(cat "$t/err")"
	elif [ -n "$err" ] && { [ "$(wc -l <"$t/err")" != 1 ] ||
				! grep -q -- "$err" "$t/err"; }; then
		bad "$what: stderr is not one line matching '$err': $(cat "$t/err")"
	else
		ok "$what${err:+: $(cat "$t/err")}"
	fi
}

# A lock file the program's process (also a setuid one) may lock.
lockfile() {
	f=$(mktemp "$t/lock.XXXXXX") && chmod 0666 "$f" && printf '%s\n' "$f"
}

# build NAME COMPILER ARGS...: examples/lockloss.c (0: lock kept, 1: lost)
# built as $t/NAME; 1 when this machine cannot build it, or when its
# kernel cannot run what it builds (an x86_64 kernel without IA32
# emulation runs no -m32 program: "Exec format error").
build() {
	name=$1
	shift
	if ! "$@" -std=gnu11 -O1 -pthread -D_GNU_SOURCE -o "$t/$name" \
		"$src/examples/lockloss.c" >"$t/cc.log" 2>&1; then
		skip "$name: cannot build with $*: $(head -n 1 "$t/cc.log")"
		return 1
	fi
	printf 'int main(void) { return 0; }\n' |
		"$@" -x c -o "$t/$name.true" - >"$t/cc.log" 2>&1 &&
		(exec "$t/$name.true") 2>"$t/cc.log" && return 0
	skip "$name: built with $*, but this kernel cannot run it: $(head -n 1 "$t/cc.log")"
	rm -f "$t/$name"
	return 1
}
