# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/run/refusals.sh SRC BUILD: lockspace-run of the source tree says
# once, on stderr, when the shim cannot be loaded into COMMAND, runs it
# unprotected with its own status (examples/lockloss: 1 = lock lost), and
# with --strict refuses with 125 without running it.
. "$(dirname "$0")/lib.sh"
run=$src/shim/lockspace-run
export LOCKSPACE_PRELOAD_LIBRARY="$b/liblockspace-preload.so"
export LOCKSPACE_PRELOAD_LIBRARY32="$b/i386/liblockspace-preload.so"
native=$b/examples/lockloss

expect "a glibc program is protected" 0 "" -- "$run" "$native" "$(lockfile)"

refused() {	# refused WHAT PROG PATTERN
	expect "$1: runs unprotected" 1 \
		"^lockspace-run: warning: .*$3.*; it runs unprotected$" -- \
		"$run" "$2" "$(lockfile)"
	expect "$1: --strict refuses" 125 \
		"^lockspace-run: .*$3.*; not run (--strict)$" -- \
		"$run" --strict "$2" "$(lockfile)"
	[ -s "$t/out" ] && bad "$1: --strict ran it: $(cat "$t/out")"
	expect "$1: --check says so" 125 "" -- "$run" --check "$2"
	grep -q "^not protected: .*$3" "$t/out" ||
		bad "$1: --check said: $(cat "$t/out")"
}

if build static "$CC" -static; then
	refused "a static program" "$t/static" "is statically linked"
fi
if command -v musl-gcc >/dev/null; then
	# musl's loader would fail on a glibc library in LD_PRELOAD (127)
	build musl musl-gcc && refused "a musl program" "$t/musl" \
		"runs on musl (/lib/ld-musl-"
else
	skip "a musl program: no musl-gcc (Debian: musl-tools)"
fi
if build m32 "$CC" -m32; then
	if [ -f "$LOCKSPACE_PRELOAD_LIBRARY32" ]; then
		expect "a 32-bit program is protected" 0 "" -- \
			"$run" "$t/m32" "$(lockfile)"
	else
		refused "a 32-bit program" "$t/m32" \
			"is 32-bit (i386): no library built for 32-bit"
	fi
fi

# The source tree's build/preload/ (both classes built): one value for
# both, so a 64-bit script that runs a 32-bit program keeps its lock and
# ld.so says nothing. Only when $b is the source tree's build/, which the
# wrapper looks at.
if [ -x "$t/m32" ] && [ -f "$b/preload/stamp" ] &&
   [ "$(cd "$b" && pwd -P)" = "$(cd "$src/build" 2>/dev/null && pwd -P)" ]; then
	printf '#!/bin/sh\n"%s" "$@"\n' "$t/m32" >"$t/wrap32.sh"
	chmod 0755 "$t/wrap32.sh"
	expect "the source tree: a 64-bit script that runs a 32-bit program" \
		0 "" -- env -u LOCKSPACE_PRELOAD_LIBRARY \
		-u LOCKSPACE_PRELOAD_LIBRARY32 "$run" "$t/wrap32.sh" \
		"$(lockfile)"
	expect "the source tree: a 32-bit program" 0 "" -- \
		env -u LOCKSPACE_PRELOAD_LIBRARY -u LOCKSPACE_PRELOAD_LIBRARY32 \
		"$run" "$t/m32" "$(lockfile)"
	env -u LOCKSPACE_PRELOAD_LIBRARY -u LOCKSPACE_PRELOAD_LIBRARY32 \
		-u LD_PRELOAD "$run" sh -c 'printf "%s\n" "$LD_PRELOAD"' \
		>"$t/pre"
	# shellcheck disable=SC2016
	grep -q '/preload/\$LIB/liblockspace-preload.so$' "$t/pre" &&
		ok "the source tree preloads $(cat "$t/pre")" ||
		bad "the source tree preloads $(cat "$t/pre")"
elif [ -x "$t/m32" ]; then
	skip "the source tree's \$LIB layout: no $b/preload/stamp (i386 build)"
else
	skip "the source tree's \$LIB layout: no 32-bit program (see m32 above)"
fi

# A script is looked at through its interpreter, and no further.
printf '#!/bin/sh\nexec "$@"\n' >"$t/wrap.sh"
chmod 0755 "$t/wrap.sh"
expect "a script that runs a glibc program" 0 "" -- \
	"$run" "$t/wrap.sh" "$native" "$(lockfile)"
expect "--check of a script" 0 "" -- "$run" --check "$t/wrap.sh"
grep -q "is a script: looked at its interpreter /bin/sh; the programs it" \
	"$t/out" || bad "--check of a script said: $(cat "$t/out")"
if [ -x "$t/static" ]; then
	expect "a script that runs a static program is not looked into" 1 "" \
		-- "$run" "$t/wrap.sh" "$t/static" "$(lockfile)"
fi
printf 'exec "$@"\n' >"$t/nohashbang"
chmod 0755 "$t/nohashbang"
expect "a script without #! runs with /bin/sh" 0 "" -- \
	"$run" "$t/nohashbang" "$native" "$(lockfile)"
expect "COMMAND found in PATH" 0 "" -- \
	env "PATH=$b/examples:$PATH" "$run" lockloss "$(lockfile)"
expect "a missing COMMAND is exec's 127" 127 "nonesuch: not found" -- \
	"$run" "$t/nonesuch"

# setuid: ld.so ignores LD_PRELOAD when the euid differs from the ruid
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
	skip "setuid: needs root and a user nobody"
elif grep -qs liblockspace-preload /etc/ld.so.preload; then
	skip "setuid: /etc/ld.so.preload names the library"
else
	chmod 0755 "$t"
	cp "$native" "$t/suid" && chown nobody "$t/suid" &&
		chmod 04755 "$t/suid"
	LD_PRELOAD=$LOCKSPACE_PRELOAD_LIBRARY "$t/suid" "$(lockfile)" \
		>/dev/null 2>&1
	if [ $? != 1 ]; then
		skip "setuid: the setuid copy loads LD_PRELOAD here (nosuid?)"
	else
		refused "a setuid program" "$t/suid" "is setuid or setgid"
	fi
fi
exit "$fail"
