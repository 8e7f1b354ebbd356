/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/test_daemons.c: the shapes of real daemons where protection did
 * not apply without the user being told (issue 23).
 *
 * - a library loaded with dlopen(RTLD_DEEPBIND), as ldb loads its tdb
 *   backend: tests/progs/deepprog.c loads tests/progs/lib/deeplock.c,
 *   which locks and closes through its own references;
 * - a process that opened a file as root and locks it after giving up
 *   root, when it can no longer reopen it (lockprog's setuid step), and
 *   Apache's accept mutex: children forked from root that give it up and
 *   lock the descriptor they inherited (tests/progs/dropprog.c). These
 *   need root and a user nobody.
 *
 * Each test runs its program without and with the shim and probes the
 * file from another process at each "ready".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
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

/* make asan/tsan preload the sanitizer's runtime first, and its dlopen()
 * interceptor refuses RTLD_DEEPBIND (google/sanitizers#611) and calls
 * dlopen from the runtime, which becomes the caller: $ORIGIN is its
 * directory. */
static void skip_under_sanitizer(void)
{
	const char *p = tu_preload();

	if (strstr(p, "libasan") || strstr(p, "libtsan"))
		cr_skip_test("the sanitizer runtime's dlopen comes first in "
			     "%s", p);
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
	char *path;
	const char *log;

	skip_under_sanitizer();
	path = tu_mkfile(100);
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

/* ---- giving up root ---------------------------------------------------- */

static char uid_gid[2][16];

/* nobody's uid and gid as strings, or skip. */
static void need_root_and_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || !pw || pw->pw_uid == 0)
		cr_skip_test("needs root and a user nobody (a privilege drop)");
	snprintf(uid_gid[0], sizeof(uid_gid[0]), "%u", (unsigned)pw->pw_uid);
	snprintf(uid_gid[1], sizeof(uid_gid[1]), "%u", (unsigned)pw->pw_gid);
}

/* lockprog's step that gives up root to nobody. */
static const char *setuid_step(void)
{
	static char s[48];

	snprintf(s, sizeof(s), "setuid:%s:%s", uid_gid[0], uid_gid[1]);
	return s;
}

/* The number after " KEY=" in each line: whether any is nonzero. */
static int any_nonzero(const char *log, const char *key)
{
	for (const char *p = log; (p = strstr(p, key)); p += strlen(key))
		if (atol(p + strlen(key)) != 0)
			return 1;
	return 0;
}

/* The log holds no fallback, and summaries with locks taken. */
static void expect_protected_log(const char *log)
{
	cr_expect(!strstr(log, "fallback to plain POSIX locks"), "log:\n%s",
		  log);
	cr_expect(!any_nonzero(log, " fallbacks="), "log:\n%s", log);
	cr_expect(any_nonzero(log, " locks="), "log:\n%s", log);
}

/* A daemon opens its file as root (0600: nobody may not open it), gives
 * up root, then locks: the anchor was opened before the drop, so a close
 * of a dup no longer drops the lock. */
Test(daemons, lock_after_giving_up_root_is_kept, .timeout = 60)
{
	char *path;

	need_root_and_nobody();
	path = tu_mkfile(100);
	tu_script_both_prog("lockprog", path, NULL, log_env(),
			    STEPS("open:a:rw", setuid_step(),
				  "lock:a:w:set:0:0", "ready", "dup:b:a",
				  "close:b", "ready"),
			    EXPECT({0, 0, 0, W, W}, {1, 0, 0, U, W}), NULL,
			    NULL);
	tu_expect_res(setuid_step(), "0");
	tu_expect_res("lock:a:w:set:0:0", "0");
	expect_protected_log(log_text());
	unlink(path);
}

/* A read lock taken as root has a read-only anchor; the write lock that
 * comes after the drop needs one for writing, opened at the drop. */
Test(daemons, write_lock_after_giving_up_root_over_a_read_lock, .timeout = 60)
{
	char *path;

	need_root_and_nobody();
	path = tu_mkfile(100);
	tu_script_both_prog("lockprog", path, NULL, log_env(),
			    STEPS("open:a:rw", "lock:a:r:set:0:0",
				  setuid_step(), "lock:a:w:set:0:0", "ready",
				  "dup:b:a", "close:b", "ready"),
			    EXPECT({0, 0, 0, W, W}, {1, 0, 0, U, W}), NULL,
			    NULL);
	tu_expect_res("lock:a:w:set:0:0", "0");
	expect_protected_log(log_text());
	unlink(path);
}

/* One probe over all of path: what another process sees. */
static void probe(int shim, const char *path, int want, const char *when,
		  const struct tu_proc *p)
{
	int got = tu_probe(path, 0, 0, NULL);

	cr_expect_eq(got, want, "[%s] %s: the file is %s, want %s\n%s",
		     how(shim), when, got == W ? "write-locked" : "free",
		     want == W ? "write-locked" : "free", p->buf);
}

/*
 * Apache prefork with "Mutex fcntl:": the parent, root, opens the mutex
 * file (APR: O_WRONLY, a file the children's user may not open); each
 * child gives up root and locks the descriptor it inherited. The
 * children must exclude each other (the description they share would
 * not, under an OFD lock on a dup of it), a child's lock must survive a
 * close of a dup, and a child's exit must release it.
 */
Test(daemons, children_that_gave_up_root_exclude_each_other, .timeout = 60)
{
	const char *const *env;
	const char *argv[5];
	char *path;

	need_root_and_nobody();
	path = tu_mkfile(100);
	env = log_env();
	argv[0] = tu_prog("dropprog");
	argv[1] = path;
	argv[2] = uid_gid[0];
	argv[3] = uid_gid[1];
	argv[4] = NULL;
	for (int shim = 0; shim <= 1; shim++) {
		struct tu_proc *p = &tu_out[shim];
		int st;

		cr_assert(tu_proc_start(p, shim, argv, env) == 0, "dropprog");
		cr_assert(tu_proc_ready(p, 10000) == 0, "[%s]\n%s", how(shim),
			  p->buf);
		/* child 1 closed a dup of its descriptor */
		probe(shim, path, shim ? W : U, "child 1 after the close", p);
		tu_proc_continue(p);
		cr_assert(tu_proc_ready(p, 10000) == 0, "[%s]\n%s", how(shim),
			  p->buf);
		probe(shim, path, W, "child 2 after child 1 exited", p);
		tu_proc_continue(p);
		st = tu_proc_finish(p, 10000);
		cr_expect_eq(st, 0, "[%s] dropprog: %d\n%s", how(shim), st,
			     p->buf);
	}
	tu_expect_res("c1.lock", "0");
	tu_expect_res("c1.dupclose", "0");
	/* plain: child 1's lock went with the close */
	tu_expect_res2("c2.lock", "0", "-1 EAGAIN");
	tu_expect_res("c1.exit", "0");
	tu_expect_res("c2.lock2", "0");
	expect_protected_log(log_text());
	unlink(path);
}
