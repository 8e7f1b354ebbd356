#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# examples/demo.sh BUILD_DIR: the lock-loss example, plain and under the shim.
B=${1:-build}
shim=$(cd "$B" && pwd)/liblockspace-preload.so
file=$(mktemp /tmp/lockspace-demo.XXXXXX)
trap 'rm -f "$file"' EXIT

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
[ $plain -le 1 ] && [ $shimmed -le 1 ]
