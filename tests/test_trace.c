/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_trace.c: the timeline (shim/trace.h, lockspace-run --trace).
 *
 * A known program runs under lockspace-run --trace FILE; Python's json
 * loads FILE (strict JSON: lockspace-run closes the array) and checks its
 * events: the spans of the locks held ("b"/"e" of one id, with path,
 * range and type), the wait of an F_SETLKW that had to wait ("X"), the
 * instants of the losses (observe) and of the prevented ones (protect)
 * with their callers, the names of the processes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define OUT_LEN (1 << 16)

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lockspace-trace-XXXXXX");
	cr_assert(tu_mkdtemp(dir));
}

TestSuite(trace, .init = mkdir_tmp, .timeout = 60);

static const char *run_script(void)
{
	static char path[PATH_MAX];
	const char *ups[] = {"/..", "/../..", "/../../.."};

	if (strchr(tu_preload(), ' '))
		cr_skip_test("a sanitizer build: lockspace-run would preload "
			     "the shim before the runtime");
	for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
		snprintf(path, sizeof(path), "%s%s/shim/lockspace-run",
			 BUILD_DIR, ups[i]);
		if (access(path, X_OK) == 0)
			return path;
	}
	cr_skip_test("shim/lockspace-run not found from %s", BUILD_DIR);
	return NULL;
}

/* sh -c script; its stdout into out; the exit status. */
static int sh(char *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int sh(char *out, const char *fmt, ...)
{
	static char script[16384];
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(script, sizeof(script), fmt, ap);
	va_end(ap);
	return tu_run(0, argv, NULL, out, OUT_LEN);
}

/* python3 checks trace (its events as ev, by pid in the order the
 * processes started as P[0], P[1]...) with the asserts in body; prints
 * "ok". */
static void check(const char *trace, const char *body)
{
	static char out[OUT_LEN], script[16384];
	const char *argv[] = {"/usr/bin/python3", "-c", script, trace, NULL};

	if (access(argv[0], X_OK) < 0)
		cr_skip_test("no python3");
	snprintf(script, sizeof(script),
		 "import json, sys\n"
		 "ev = json.load(open(sys.argv[1]))\n"
		 "P = []\n"
		 "for e in sorted(ev, key=lambda e: e.get('ts', 0)):\n"
		 "    if e['pid'] and e['ph'] != 'M' and e['pid'] not in P:\n"
		 "        P.append(e['pid'])\n"
		 "def of(pid, ph, name=None):\n"
		 "    return [e for e in ev if e['pid'] == pid and\n"
		 "            e['ph'] == ph and (name is None or\n"
		 "            e['name'] == name)]\n"
		 "def pname(pid):\n"
		 "    return of(pid, 'M', 'process_name')[0]['args']['name']\n"
		 "%s\n"
		 "print('ok')\n", body);
	cr_expect_eq(tu_run(0, argv, NULL, out, OUT_LEN), 0,
		     "%s\n(the checker's traceback is in the test log)", out);
	cr_expect_str_eq(out, "ok\n");
}

/* Protect: A holds W 0-99 (a span), closes another descriptor (an instant
 * of the prevented loss, with the close's caller), sleeps and unlocks
 * (the span ends); B, meanwhile, waits for 0-9 (a wait of ~0.3 s) and
 * holds it to its exit (a span still open). */
Test(trace, protect_spans_wait_and_prevented_loss)
{
	static char out[OUT_LEN];
	char data[256], trace[256], lp[PATH_MAX], body[16384];

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(trace, sizeof(trace), "%s/t.json", dir);
	cr_assert(realpath(tu_prog("lockprog"), lp));
	cr_assert_eq(sh(out, "touch '%s' && '%s' --trace '%s' sh -c \""
			"'%s' '%s' open:a:rw lock:a:w:set:0:100 open:b:r "
			"close:b sleep:400 lock:a:u:set:0:100 sleep:50 & "
			"sleep 0.1; '%s' '%s' open:c:rw lock:c:w:set:0:10:wait"
			" >/dev/null; wait\" >/dev/null; echo $?", data,
			run_script(), trace, lp, data, lp, data), 0);
	cr_assert_str_eq(out, "0\n");
	snprintf(body, sizeof(body),
		 "assert ev[0]['name'] == 'lockspace-preload', ev[0]\n"
		 "assert len(P) == 2, P\n"
		 "a, b = P\n"
		 "assert pname(a).startswith('lockprog %%d (' %% a), pname(a)\n"
		 "assert pname(a).endswith('%s)'), pname(a)\n"
		 "name = 'W 0-99 %s'\n"
		 "bs, es = of(a, 'b', name), of(a, 'e', name)\n"
		 "assert len(bs) == 1 and len(es) == 1, (bs, es)\n"
		 "assert bs[0]['id'] == es[0]['id'] and bs[0]['cat'] == 'lock'\n"
		 "assert es[0]['ts'] - bs[0]['ts'] > 300000, (bs, es)\n"
		 "assert bs[0]['args'] == {'path': '%s', 'dev': bs[0]['args']"
		 "['dev'], 'ino': bs[0]['args']['ino'], 'start': 0, "
		 "'end': 99, 'type': 'W'}, bs[0]\n"
		 "i = of(a, 'i', 'lock-loss-prevented')\n"
		 "assert len(i) == 1 and i[0]['s'] == 't', i\n"
		 "assert i[0]['args']['func'] == 'close' and "
		 "i[0]['args']['fd'] == 4, i\n"
		 "assert i[0]['args']['lost'] == 'fd3:W:0-99', i\n"
		 "assert i[0]['args']['caller'].startswith('%s+0x'), i\n"
		 "assert ' (BuildId: ' in i[0]['args']['caller'], i\n"
		 "assert bs[0]['ts'] < i[0]['ts'] < es[0]['ts']\n"
		 "w = of(b, 'X')\n"
		 "assert len(w) == 1 and w[0]['cat'] == 'wait', w\n"
		 "assert w[0]['name'] == 'wait W 0-9 %s', w\n"
		 "assert w[0]['args']['result'] == 'granted', w\n"
		 "assert w[0]['dur'] > 100000, w\n"
		 "assert abs(w[0]['ts'] + w[0]['dur'] - es[0]['ts']) < 100000\n"
		 "hb = of(b, 'b', 'W 0-9 %s')\n"
		 "assert len(hb) == 1 and not of(b, 'e'), (hb, of(b, 'e'))\n"
		 "# granted inside the call: the span begins before it returns\n"
		 "assert w[0]['ts'] < hb[0]['ts'] <= w[0]['ts'] + w[0]['dur']\n"
		 "assert not of(a, 'M', 'lockspace-dropped')\n",
		 lp, data, data, lp, data, data);
	check(trace, body);
}

/* Observe: the lock is lost at the close; its span ends there. */
Test(trace, observe_loss_ends_the_span)
{
	static char out[OUT_LEN];
	char data[256], trace[256], lp[PATH_MAX], body[16384];

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(trace, sizeof(trace), "%s/o.json", dir);
	cr_assert(realpath(tu_prog("lockprog"), lp));
	cr_assert_eq(sh(out, "touch '%s' && '%s' --observe --trace '%s' '%s' "
			"'%s' open:a:rw lock:a:r:set:10:0 open:b:r close:b "
			"2>/dev/null >/dev/null; echo $?", data, run_script(),
			trace, lp, data), 0);
	cr_assert_str_eq(out, "0\n");
	snprintf(body, sizeof(body),
		 "a, = P\n"
		 "name = 'R 10-EOF %s'\n"
		 "bs, es = of(a, 'b', name), of(a, 'e', name)\n"
		 "assert len(bs) == 1 and len(es) == 1, ev\n"
		 "assert bs[0]['args']['end'] is None, bs\n"
		 "i = of(a, 'i', 'lock-loss')\n"
		 "assert len(i) == 1 and i[0]['args']['lost'] == "
		 "'fd3:R:10-EOF', i\n"
		 "assert bs[0]['ts'] < es[0]['ts'] <= i[0]['ts']\n",
		 data);
	check(trace, body);
}

/* More records than a ring holds: written out on the way (the ring's
 * size limit), none dropped, every span paired. --trace-html: the page,
 * with the events inside. */
Test(trace, ring_written_out_at_its_limit_and_html)
{
	static char out[OUT_LEN];
	char data[PATH_MAX], trace[PATH_MAX], page[PATH_MAX], lp[PATH_MAX];
	FILE *f;
	size_t n;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(trace, sizeof(trace), "%s/l.json", dir);
	snprintf(page, sizeof(page), "%s/l.html", dir);
	cr_assert(realpath(tu_prog("lockprog"), lp));
	cr_assert_eq(sh(out, "touch '%s' && '%s' --trace '%s' --trace-html "
			"'%s' '%s' '%s' open:a:rw loop:a:3000 >/dev/null; "
			"echo $?", data, run_script(), trace, page, lp, data),
		     0);
	cr_assert_str_eq(out, "0\n");
	check(trace, "a, = P\n"
		     "bs, es = of(a, 'b'), of(a, 'e')\n"
		     "assert len(bs) == 3000 and len(es) == 3000, "
		     "(len(bs), len(es))\n"
		     "assert not of(a, 'M', 'lockspace-dropped')\n");
	f = fopen(page, "r");
	cr_assert(f, "%s: %s", page, strerror(errno));
	n = fread(out, 1, OUT_LEN - 1, f);
	out[n] = 0;
	cr_expect(strstr(out, "<script id=\"trace\" type=\"application/json\">"
			 "[{\"name\":\"lockspace-preload\""), "%.400s", out);
	fseek(f, -8, SEEK_END);
	n = fread(out, 1, 8, f);
	fclose(f);
	out[n] = 0;
	cr_expect_str_eq(out, "</html>\n", "the page is whole");
}

/* trace = FILE in the configuration does the same without lockspace-run;
 * the file is left open (the JSON array format allows it), and
 * lockspace-trace finish closes it. */
Test(trace, from_the_configuration)
{
	static char out[OUT_LEN];
	char data[PATH_MAX], trace[PATH_MAX], conf[PATH_MAX], lp[PATH_MAX];

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(trace, sizeof(trace), "%s/c.json", dir);
	snprintf(conf, sizeof(conf), "%s/c.conf", dir);
	cr_assert(realpath(tu_prog("lockprog"), lp));
	cr_assert_eq(sh(out, "touch '%s' && printf 'trace = %s\\n' > '%s' && "
			"LOCKSPACE_PRELOAD_CONF='%s' LD_PRELOAD='%s' '%s' '%s' "
			"open:a:rw lock:a:w:set:0:1 >/dev/null && "
			"tail -c 1 '%s' && '%s' finish '%s' && tail -c 2 '%s'",
			data, trace, conf, conf, tu_preload(), lp, data, trace,
			BUILD_DIR "/lockspace-trace", trace, trace), 0);
	cr_assert_str_eq(out, "}]\n", "open, then closed: %s", out);
	check(trace, "a, = P\nassert len(of(a, 'b')) == 1, ev\n");
}
