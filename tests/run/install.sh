# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/run/install.sh SRC BUILD: make install into a scratch prefix, from
# a copy of the build (the prefix's sysconfdir is compiled into the shim,
# which is rebuilt there, not under the running tests), then: the
# installed lockspace-run preloads $prefix/$LIB/... and keeps the lock of a
# 64-bit program (and of a 32-bit one that a 64-bit script runs, when
# build/i386/ exists), programs link against the installed and the build
# tree's liblockspace, and make uninstall leaves nothing but an edited
# configuration file.
. "$(dirname "$0")/lib.sh"
p=$t/prefix
mkdir "$t/b"
(cd "$b" && tar -cf - core shim examples paths liblockspace* lockspace-locks* \
	$(ls -d i386 2>/dev/null)) | (cd "$t/b" && tar -xf -) ||
	{ echo "cannot copy $b: make the build first"; exit 77; }
# A clean environment: a make above this one exports the variables of its
# command line (debian/rules passes prefix=/usr, libdir=...), which would
# send the install out of the scratch prefix.
mk() {
	env -i PATH="$PATH" HOME="${HOME:-/}" make -C "$src" B="$t/b" \
		prefix="$p" DESTDIR= LDCONFIG=: "$@" >"$t/make.log" 2>&1 ||
		{ bad "make $*: $(tail -n 5 "$t/make.log")"; exit 1; }
}
mk install
outside=$(sed -n 's/^install .* \(\/[^ ]*\)$/\1/p' "$t/make.log" | grep -v "^$p/")
[ -z "$outside" ] || bad "make install wrote outside $p: $outside"
grep -q '^install .*liblockspace-preload.so' "$t/make.log" ||
	bad "make install: $(tail -n 5 "$t/make.log")"
strings "$p"/lib/*/lockspace-preload/liblockspace-preload.so |
	grep -qx "$p/etc/lockspace-preload.conf" &&
	ok "the installed shim reads $p/etc/lockspace-preload.conf" ||
	bad "the installed shim does not name $p/etc/lockspace-preload.conf"

run=$p/bin/lockspace-run
# shellcheck disable=SC2016
grep -q "^preload='$p/\$LIB/lockspace-preload/liblockspace-preload.so'\$" \
	"$run" && ok "lockspace-run preloads $p/\$LIB/lockspace-preload/..." ||
	bad "lockspace-run preloads: $(grep '^preload=' "$run")"
ls "$p"/lib/*/lockspace-preload/liblockspace-preload.so >/dev/null 2>&1 ||
	bad "no shim under $p/lib/*/lockspace-preload/"
expect "the installed lockspace-run keeps a lock" 0 "" -- \
	"$run" "$b/examples/lockloss" "$(lockfile)"
env -u LD_PRELOAD "$run" sh -c 'printf "%s\n" "$LD_PRELOAD"' >"$t/pre"
grep -q "^$p/\$LIB/lockspace-preload/liblockspace-preload.so\$" "$t/pre" &&
	ok "LD_PRELOAD is $(cat "$t/pre")" || bad "LD_PRELOAD is $(cat "$t/pre")"

if build m32 "$CC" -m32; then
	printf '#!/bin/sh\n"%s" "$@"\n' "$t/m32" >"$t/wrap32.sh"
	chmod 0755 "$t/wrap32.sh"
	if [ -f "$b/i386/liblockspace-preload.so" ]; then
		expect "a 64-bit script that runs a 32-bit program keeps its lock" \
			0 "" -- "$run" "$t/wrap32.sh" "$(lockfile)"
	else
		expect "a 32-bit program: no library installed for 32-bit" 1 \
			"no library installed for 32-bit ($p/.* missing)" \
			-- "$run" "$t/m32" "$(lockfile)"
	fi
fi

# liblockspace: linked against the installed library, and against build/
cat >"$t/use.c" <<'C'
#include <lockspace.h>
#include <stdio.h>
int main(void)
{
	struct lockspace *ls = lockspace_new(NULL);

	printf("%s\n", ls && !lockspace_dir(ls) ? "ok" : "fail");
	lockspace_free(ls);
	return 0;
}
C
if PKG_CONFIG_PATH=$p/lib/pkgconfig pkg-config --cflags --libs lockspace \
	>"$t/pc" 2>&1; then
	# shellcheck disable=SC2046
	$CC -o "$t/use" "$t/use.c" $(cat "$t/pc") &&
		expect "a program linked with pkg-config's flags runs" 0 "" -- \
			env LD_LIBRARY_PATH="$p/lib" "$t/use"
else
	skip "pkg-config: $(cat "$t/pc")"
fi
$CC -o "$t/usebuild" "$t/use.c" -I"$src/core" -L"$b" -llockspace &&
	expect "a program linked against build/ runs with LD_LIBRARY_PATH" 0 \
		"" -- env LD_LIBRARY_PATH="$b" "$t/usebuild"
grep -q "^ok$" "$t/out" || bad "the program said $(cat "$t/out")"

# uninstall: nothing stays but an edited configuration file
printf '# edited\n' >>"$p/etc/lockspace-preload.conf"
mk uninstall
left=$(cd "$t" && find prefix ! -type d; find prefix -type d -empty)
[ "$left" = prefix/etc/lockspace-preload.conf ] &&
	ok "make uninstall kept only the edited config" ||
	bad "make uninstall left: $left"
rm "$p/etc/lockspace-preload.conf" && rmdir "$p/etc" "$p"
mk install
mk uninstall
[ -e "$p" ] && bad "install, uninstall left: $(find "$p")" ||
	ok "install, uninstall: $p is gone"
exit "$fail"
