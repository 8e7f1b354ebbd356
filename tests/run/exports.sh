# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/run/exports.sh SRC BUILD: liblockspace.so exports the functions of
# lockspace.h and nothing else, as version LOCKSPACE_0
# (core/liblockspace.map), and debian/liblockspace0.symbols lists them; a
# new function goes here, into the header and into a new version node.
# (tests/test_build.c checks the shim's exports.)
. "$(dirname "$0")/lib.sh"
command -v nm >/dev/null || { echo "no nm (binutils)"; exit 77; }
exports() {	# exports LIB: the defined dynamic symbols, one a line
	nm -D --defined-only "$1" | awk '{ print $NF }' | sort
}
same() {	# same WHAT LIB WANT...
	what=$1 lib=$2
	shift 2
	printf '%s\n' "$@" | sort >"$t/want"
	exports "$lib" >"$t/got"
	if cmp -s "$t/want" "$t/got"; then
		ok "$what exports only its documented symbols"
	else
		bad "$what: exports differ (- documented, + exported): $(diff "$t/want" "$t/got" | grep '^[<>]' | tr '<>\n' '-+ ')"
	fi
}
api="lockspace_new lockspace_free lockspace_dir lockspace_create_resource
lockspace_delete_resource lockspace_acquire lockspace_release
lockspace_release_owner lockspace_export lockspace_import"
# shellcheck disable=SC2086
same liblockspace.so "$b/liblockspace.so" LOCKSPACE_0 \
	$(for f in $api; do echo "$f@@LOCKSPACE_0"; done)
# every symbol of the symbols file, and no other
sed -n 's/^ \([^ ]*\)@LOCKSPACE_0 .*/\1/p' "$src/debian/liblockspace0.symbols" |
	sort >"$t/sym"
printf '%s\n' LOCKSPACE_0 $api | sort >"$t/api"
cmp -s "$t/sym" "$t/api" && ok "debian/liblockspace0.symbols lists the API" ||
	bad "debian/liblockspace0.symbols: $(diff "$t/api" "$t/sym" | grep '^[<>]' | tr '\n' ' ')"
exit "$fail"
