#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# examples/demo.sh BUILD_DIR: the lock-loss example, plain and under the shim.
B=${1:-build}
shim=$(cd "$B" && pwd)/liblockspace-preload.so
file=$(mktemp /tmp/lockspace-demo.XXXXXX)
trap 'rm -f "$file" "$file.err"' EXIT

echo "== plain glibc"
LD_PRELOAD= "$B/examples/lockloss" "$file"
plain=$?
echo
echo "== LD_PRELOAD=$shim"
LD_PRELOAD="$shim" "$B/examples/lockloss" "$file"
shimmed=$?
echo
printf '%-28s %s\n' "plain:" "$([ $plain = 1 ] && echo 'lock LOST' || echo "lock kept (status $plain)")"
printf '%-28s %s\n' "with liblockspace-preload:" "$([ $shimmed = 0 ] && echo 'lock kept' || echo "lock LOST (status $shimmed)")"

# The same program built -m32, under the i386 library (make builds both
# when gcc-multilib is installed), preloaded as lockspace-run does: one
# value for both classes, which ld.so's $LIB expands for each
# ($B/preload/ is the build's layout of the installed one).
plain32=0 shimmed32=0
if [ -x "$B/examples32/lockloss" ] && [ -f "$B/preload/stamp" ]; then
	both="$(cd "$B" && pwd)/preload/\$LIB/liblockspace-preload.so"
	echo
	echo "== 32-bit, plain glibc"
	LD_PRELOAD= "$B/examples32/lockloss" "$file" 2>"$file.err"
	plain32=$?
	cat "$file.err" >&2
	# A kernel without IA32 emulation builds -m32 programs and runs none.
	if [ $plain32 = 126 ] && grep -qi 'exec format error' "$file.err"; then
		echo "32-bit: skipped, this kernel cannot run i386 programs" \
			"(no IA32 emulation)"
		plain32=skip
	fi
	rm -f "$file.err"
fi
if [ "$plain32" = skip ]; then
	plain32=0
elif [ -x "$B/examples32/lockloss" ] && [ -f "$B/preload/stamp" ]; then
	echo
	echo "== 32-bit, LD_PRELOAD='$both'"
	LD_PRELOAD="$both" "$B/examples32/lockloss" "$file"
	shimmed32=$?
	echo
	printf '%-28s %s\n' "32-bit, plain:" "$([ $plain32 = 1 ] && echo 'lock LOST' || echo "lock kept (status $plain32)")"
	printf '%-28s %s\n' "32-bit, with the i386 shim:" "$([ $shimmed32 = 0 ] && echo 'lock kept' || echo "lock LOST (status $shimmed32)")"
fi
[ $plain -le 1 ] && [ $shimmed -le 1 ] && [ $plain32 -le 1 ] && [ $shimmed32 -le 1 ]
