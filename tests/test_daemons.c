/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/test_daemons.c: the shapes of real daemons where protection did
 * not apply without the user being told (issue 23).
 *
 * - a library loaded with dlopen(RTLD_DEEPBIND), as ldb loads its tdb
 *   backend: tests/progs/deepprog.c loads tests/progs/lib/deeplock.c,
 *   which locks and closes through its own references;
 *
 * Each test runs its program without and with the shim and probes the
 * file from another process at each "ready".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* A fresh log file for the shim, and the variables that send it there. */
static char logpath[64];
static char logvar[96];

static const char *const *log_env(void)
{
	static const char *env[3];
	int fd;

	snprintf(logpath, sizeof(logpath), "/tmp/lockspace-dmnlog-XXXXXX");
	fd = mkstemp(logpath);
	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	snprintf(logvar, sizeof(logvar), "LOCKSPACE_PRELOAD_LOG=%s", logpath);
	env[0] = logvar;
	env[1] = "LOCKSPACE_PRELOAD_LOG_LEVEL=info";
	env[2] = NULL;
	return env;
}

/* The log so far (static storage), the file removed. */
static const char *log_text(void)
{
	static char buf[65536];
	ssize_t n;
	int fd = open(logpath, O_RDONLY);

	cr_assert(fd >= 0, "open %s: %s", logpath, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(logpath);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* ---- RTLD_DEEPBIND ----------------------------------------------------- */

/* AddressSanitizer's and ThreadSanitizer's dlopen() refuse RTLD_DEEPBIND
 * (google/sanitizers#611), and make asan/tsan preload them first. */
static void skip_under_sanitizer(void)
{
	const char *p = tu_preload();

	if (strstr(p, "libasan") || strstr(p, "libtsan"))
		cr_skip_test("the sanitizer runtime in %s refuses "
			     "RTLD_DEEPBIND", p);
}

/* The library locks, then opens and closes another descriptor of the
 * file, all through its own references, which the deep lookup binds to
 * libc: lost plain, kept once the shim rebinds them; its own definition
 * of lockf() stays its own. */
Test(daemons, deep_bound_library_keeps_its_lock_across_its_own_close,
     .timeout = 60)
{
	char *path;
	const char *log;

	skip_under_sanitizer();
	path = tu_mkfile(100);
	tu_script_both_prog("deepprog", path, NULL, log_env(),
			    STEPS("dlopen:deep:full", "open:a", "lock:a:w",
				  "ready", "openclose", "ready", "own"),
			    EXPECT({0, 0, 0, W, W}, {1, 0, 0, U, W}), NULL,
			    NULL);
	tu_expect_res("dlopen:deep:full", "0");
	tu_expect_res("openclose", "0");
	/* deep binding still finds the library's own definition first */
	tu_expect_res("own", "4242");
	log = log_text();
	cr_expect(strstr(log, "deep-bound library ") &&
		  strstr(log, "fcntl,close rebound to the shim"),
		  "the log says what was rebound:\n%s", log);
	cr_expect(strstr(log, "lock-loss-prevented"), "log:\n%s", log);
	unlink(path);
}

/* A deep load by a name with $ORIGIN depends on its caller, whose place
 * the shim cannot take: libc loads it (the caller's $ORIGIN, so it is
 * found), it is not protected, and the log says so once. */
Test(daemons, deep_bound_library_by_origin_is_reported_unprotected,
     .timeout = 60)
{
	char *path;
	const char *log;

	skip_under_sanitizer();
	path = tu_mkfile(100);
	tu_script_both_prog("deepprog", path, NULL, log_env(),
			    STEPS("dlopen:deep:origin", "open:a", "lock:a:w",
				  "ready", "openclose", "ready", "own"),
			    EXPECT({0, 0, 0, W, W}, {1, 0, 0, U, U}), NULL,
			    NULL);
	tu_expect_res("dlopen:deep:origin", "0");
	tu_expect_res("own", "4242");
	log = log_text();
	cr_expect(strstr(log, "deep-bound library $ORIGIN/libdeeplock.so: "
			      "its locks are not protected"),
		  "log:\n%s", log);
	unlink(path);
}

/* Without RTLD_DEEPBIND the wrapper is a jump: $ORIGIN is the caller's
 * directory, not the shim's, and the library binds to the shim as any
 * library does. */
Test(daemons, dlopen_by_origin_is_the_callers_and_protected, .timeout = 60)
{
	char *path = tu_mkfile(100);
	const char *log;

	tu_script_both_prog("deepprog", path, NULL, log_env(),
			    STEPS("dlopen:local:origin", "open:a", "lock:a:w",
				  "ready", "openclose", "ready"),
			    EXPECT({0, 0, 0, W, W}, {1, 0, 0, U, W}), NULL,
			    NULL);
	tu_expect_res("dlopen:local:origin", "0");
	log = log_text();
	cr_expect(!strstr(log, "deep-bound"), "log:\n%s", log);
	unlink(path);
}
