/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_symbolize.c: the call sites of the log, named (issue 19).
 *
 * The shim writes a frame as "/full/path+0xOFF (BuildId: HEX)" (log.h);
 * lockspace-symbolize turns it into "function file:line (obj+0xOFF)"
 * with libdw, offline; lockspace-run --report does that at exit. The
 * program is examples/lockloss, whose thread B closes its descriptor on a
 * line the test finds in the source.
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

#define SYM BUILD_DIR "/lockspace-symbolize"
#define LOCKLOSS BUILD_DIR "/examples/lockloss"
#define OUT_LEN (1 << 16)

/* A file of the source tree, from the build directory (build/ or
 * build/asan/ and the like). */
static const char *source(const char *rel, char *buf, size_t len)
{
	const char *ups[] = {"/..", "/../..", "/../../.."};

	for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s%s/%s", BUILD_DIR, ups[i], rel);
		if (realpath(p, buf) && access(buf, R_OK) == 0)
			return buf;
	}
	(void)len;
	cr_skip_test("%s not found above %s", rel, BUILD_DIR);
	return NULL;
}

/* The number of the first line of file that holds text. */
static int line_of(const char *file, const char *text)
{
	char line[1024];
	FILE *f = fopen(file, "r");
	int n = 0;

	cr_assert(f, "%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, text)) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	cr_assert_fail("no \"%s\" in %s", text, file);
	return 0;
}

/* sh -c script, its stdout into out. */
static int sh(char *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int sh(char *out, const char *fmt, ...)
{
	char script[8192];
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(script, sizeof(script), fmt, ap);
	va_end(ap);
	return tu_run(0, argv, NULL, out, OUT_LEN);
}

static int sanitized(void)
{
	return strchr(tu_preload(), ' ') != NULL;
}

/* The log of lockloss under observe, symbolized: the caller is thread_b,
 * on the line of its close(). */
Test(symbolize, names_the_line_of_the_close, .timeout = 30)
{
	static char out[OUT_LEN];
	char src[PATH_MAX], want[PATH_MAX + 64], file[64];
	int fd = tu_tmpfile(file, sizeof(file), 0), line;

	if (sanitized())
		cr_skip_test("the sanitizer runtime is the caller");
	cr_assert(fd >= 0);
	close(fd);
	source("examples/lockloss.c", src, sizeof(src));
	line = line_of(src, "close(fd2);");
	cr_assert_eq(sh(out, "LD_PRELOAD='%s' LOCKSPACE_PRELOAD_MODE=observe "
			"'%s' '%s' 2>&1 >/dev/null | '%s'", tu_preload(),
			LOCKLOSS, file, SYM), 0, "%s", out);
	snprintf(want, sizeof(want), " caller=\"thread_b %s:%d (lockloss+0x",
		 src, line);
	cr_expect(strstr(out, want), "no '%s' in:\n%s", want, out);
	cr_expect(strstr(out, "event=lock-loss "), "%s", out);
	unlink(file);
}

/* Frames that cannot be named stay as they are, and say why; the rest of
 * the line passes through. */
Test(symbolize, unknown_and_changed_objects, .timeout = 30)
{
	static char out[OUT_LEN];
	char exe[PATH_MAX];

	cr_assert(realpath(LOCKLOSS, exe));
	cr_assert_eq(sh(out, "printf '%%s\\n' 'a caller=\"/nonexistent/x+0x10 "
			"(BuildId: 00ff)\" b' 'c caller=\"%s+0x1000 (BuildId: "
			"0123)\" d' 'no frame here: x+0x10 and /y+0xZZ' | '%s'",
			exe, SYM), 0, "%s", out);
	cr_expect(strstr(out, "a caller=\"/nonexistent/x+0x10 (BuildId: "
			  "00ff) [no object]\" b\n"), "%s", out);
	cr_expect(strstr(out, "+0x1000 (BuildId: 0123) [object changed]\" "
			  "d\n"), "%s", out);
	cr_expect(strstr(out, "no frame here: x+0x10 and /y+0xZZ\n"), "%s",
		  out);
}

/* A non-PIE program's offsets are virtual addresses from 0x400000:
 * Debian's python3.11 is one, and exports its symbols. */
Test(symbolize, non_pie_object, .timeout = 30)
{
	static char out[OUT_LEN];
	const char *py = "/usr/bin/python3.11";
	unsigned long addr = 0;
	char want[128];

	if (access(py, R_OK) < 0)
		cr_skip_test("no %s", py);
	cr_assert_eq(sh(out, "nm -D --defined-only %s | "
			"sed -n 's/^\\([0-9a-f]*\\) T Py_IsInitialized$/\\1/p'",
			py), 0);
	addr = strtoul(out, NULL, 16);
	if (!addr)
		cr_skip_test("no nm, or no Py_IsInitialized in %s", py);
	cr_assert_gt(addr, 0x400000UL, "not a non-PIE program");
	cr_assert_eq(sh(out, "echo 'caller=\"%s+0x%lx\"' | '%s'", py,
			addr + 4, SYM), 0);
	snprintf(want, sizeof(want), "caller=\"Py_IsInitialized+0x4 "
		 "(python3.11+0x%lx)\"", addr + 4);
	cr_expect(strstr(out, want), "no '%s' in %s", want, out);
}

/* lockspace-run --report: at exit, the run's events with the callers
 * named, and the summary of each process, naming the program. */
Test(symbolize, lockspace_run_report, .timeout = 30)
{
	static char out[OUT_LEN];
	char run[PATH_MAX], src[PATH_MAX], want[PATH_MAX + 64], file[64];
	int fd = tu_tmpfile(file, sizeof(file), 0);

	if (sanitized())
		cr_skip_test("a sanitizer build: lockspace-run would preload "
			     "the shim before the runtime");
	cr_assert(fd >= 0);
	close(fd);
	source("shim/lockspace-run", run, sizeof(run));
	source("examples/lockloss.c", src, sizeof(src));
	/* Under a wrapper script: each summary names its program. */
	cr_assert_eq(sh(out, "LOCKSPACE_PRELOAD_LIBRARY='%s' '%s' --observe "
			"--report sh -c \"'%s' '%s'; exit \\$?\" 2>&1 "
			">/dev/null; "
			"echo status=$?", tu_preload(), run, LOCKLOSS, file),
		     0, "%s", out);
	snprintf(want, sizeof(want), " caller=\"thread_b %s:%d (lockloss+0x",
		 src, line_of(src, "close(fd2);"));
	cr_expect(strstr(out, want), "no '%s' in:\n%s", want, out);
	cr_expect(strstr(out, "level=info comm=lockloss exe=") &&
		  strstr(out, " mode=observe locks=1 "), "%s", out);
	/* (dash leaves with _exit: no summary of its own.) */
	cr_expect(strstr(out, "status=1\n"), "lockloss's own status: %s",
		  out);
	unlink(file);
}
