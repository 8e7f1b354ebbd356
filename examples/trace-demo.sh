#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# examples/trace-demo.sh BUILD_DIR [PNG]: the lock loss with a witness
# (examples/lockdemo.py: a holder that loses its lock at a close, and a
# waiter that gets it then) under lockspace-run --trace-html, once under
# protect (the loss is prevented: the waiter waits for the unlock) and
# once under observe (the waiter gets the lock at the close). Prints
# where the trace and its page are; with PNG, a screenshot of the page
# from headless Chromium (make screenshot: docs/trace-demo.png).
B=${1:-build}
png=$2
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/lockspace-trace-demo.XXXXXX) || exit 1
file=$dir/demo.db
demo="/usr/bin/python3 $here/examples/lockdemo.py $file"
LOCKSPACE_PRELOAD_LIBRARY=$(cd "$B" && pwd)/liblockspace-preload.so \
"$here/shim/lockspace-run" --trace-html "$dir/trace.html" sh -c "
	$demo holder & $demo waiter; wait
	export LOCKSPACE_PRELOAD_MODE=observe
	$demo holder & $demo waiter; wait" >/dev/null 2>&1 || exit 1
echo "trace: $dir/trace.json (Perfetto, chrome://tracing)"
echo "page:  $dir/trace.html"
[ -n "$png" ] || exit 0
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
	--window-size=1200,450 --screenshot="$png" "file://$dir/trace.html" \
	>/dev/null 2>&1 || exit 1
echo "screenshot: $png"
