/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_exec.c: locks across exec under the shim (issue 4, part 1).
 *
 * lockprog's "reexec" step execs lockprog again with the steps after it,
 * so one script runs on both sides of the exec; the names a..z of its
 * descriptors go along. As in test_protect.c, every script runs without
 * and with the shim, and another process probes the locks with the raw
 * F_GETLK at each "ready". POSIX keeps a lock across exec when the
 * descriptor survives it; the shim must keep it too (its anchors are
 * close-on-exec), and drop what POSIX drops.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define FILE_SIZE 1000

#define HANDOFF "LOCKSPACE_PRELOAD_HANDOFF"

/* The runs of lockprog (tests/util.c: plain, anchor, posix), with this
 * suite's environment. */
static void script(const char *path, const char *const *steps,
		   const struct tu_expect *ex, int nex, tu_ready_fn fn,
		   void *arg)
{
	tu_script_all(path, NULL, steps, ex, nex, fn, arg);
}

/* ---- the wrapper that locks and execs ----------------------------------- */

/* The wrapper loses a duplicate open of its file before the exec: plain
 * POSIX drops the lock right there, the shim keeps it, and hands it to the
 * exec'd image, which still holds it. */
Test(exec, wrapper_losing_duplicate_open_then_exec, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "lock:a:w:set:0:0", "open:b:r", "close:b",
		     "ready", "reexec", "forklock:a:w:0:0", "ready",
		     "open:c:r", "close:c", "ready", "close:a", "ready"),
	       EXPECT({ 0, 0, 0, U, W }, { 1, 0, 0, U, W }, { 2, 0, 0, U, W },
		      { 3, 0, 0, U, U }, { 4, 0, 0, U, U }), NULL, NULL);
	tu_expect_res2("forklock:a:w:0:0", "0", "-1 EAGAIN");
	unlink(path);
}

/* Without the duplicate open, POSIX keeps the lock across exec too; in
 * the new image a close of an unrelated descriptor of the file keeps it
 * (shim) and the close of the inherited descriptor releases it (both). */
Test(exec, lock_survives_exec_and_inherited_fd_close_releases, .timeout = 60)
{
	static const char *const fns[] = { "execv", "execve", "execvp",
					   "fexecve" };
	char *path = tu_mkfile(FILE_SIZE);

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		char step[64];

		snprintf(step, sizeof(step), "reexec:self:%s", fns[i]);
		script(path,
		       STEPS("open:a:rw", "lock:a:w:set:0:0", "ready", step,
			     "forklock:a:w:0:0", "getfd:a", "ready",
			     "open:b:r", "close:b", "ready", "close:a",
			     "ready"),
		       EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, W, W },
			      { 2, 0, 0, U, W }, { 3, 0, 0, U, U }),
		       NULL, NULL);
		tu_expect_res("forklock:a:w:0:0", "-1 EAGAIN");
		tu_expect_res("getfd:a", "0");
		cr_expect_null(tu_proc_result(&tu_out[1], step),
			       "[shim] %s failed: %s", fns[i], tu_out[1].buf);
	}
	unlink(path);
}

/* Unlock stays process-wide in the new image: through any descriptor. */
Test(exec, unlock_through_other_fd_releases_after_exec, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "lock:a:w:set:0:100", "reexec", "open:b:rw",
		     "ready", "lock:b:u:set:0:0", "ready", "close:b",
		     "close:a"),
	       EXPECT({ 0, 0, 100, W, W }, { 1, 0, 100, U, U },
		      { 2, 0, 100, U, U }), NULL, NULL);
	tu_expect_res("lock:b:u:set:0:0", "0");
	unlink(path);
}

/* exec closes a close-on-exec descriptor, and with it the lock. */
Test(exec, exec_of_cloexec_locked_fd_releases, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "lock:a:w:set:0:0", "cloexec:a:1", "ready",
		     "reexec", "getfd:a", "forklock:a:w:0:0", "ready"),
	       EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, U }), NULL, NULL);
	tu_expect_res("getfd:a", "-1 EBADF");
	unlink(path);
}

/* Two holders, a (0-99, survives exec) and b (50-149, close-on-exec).
 * POSIX: exec closes b, which drops every lock of the process on the
 * file. Shim: only what b alone held (100-149) goes. */
Test(exec, two_holders_cloexec_one_loses_only_its_own_range, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "lock:a:w:set:0:100", "open:b:rw",
		     "lock:b:w:set:50:100", "cloexec:b:1", "ready", "reexec",
		     "ready", "close:a", "ready"),
	       EXPECT({ 0, 0, 150, W, W }, { 1, 0, 50, U, W },
		      { 1, 50, 50, U, W }, { 1, 100, 50, U, U },
		      { 1, 150, 0, U, U }, { 2, 0, 0, U, U }), NULL, NULL);
	unlink(path);
}

/* A dup made before the description's first lock is one of its
 * descriptors on both sides of exec: after it, closing the descriptor
 * the lock was taken through keeps the lock (shim) until the dup closes
 * too. POSIX drops it at the first close. */
Test(exec, dup_made_before_first_lock_keeps_it_across_exec, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "dup:b:a", "lock:a:w:set:0:0", "ready",
		     "reexec", "ready", "close:a", "ready", "close:b",
		     "ready"),
	       EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, W, W }, { 2, 0, 0, U, W },
		      { 3, 0, 0, U, U }), NULL, NULL);
	unlink(path);
}

/* The lock was taken through a close-on-exec dup of a: exec closes that
 * one, a keeps the description, and with it the lock (shim). POSIX drops
 * it at exec's close. */
Test(exec, cloexec_locking_dup_leaves_lock_to_surviving_fd, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "dupfd:b:a:cloexec", "lock:b:w:set:0:0",
		     "ready", "reexec", "getfd:b", "ready", "close:a",
		     "ready"),
	       EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, W }, { 2, 0, 0, U, U }),
	       NULL, NULL);
	tu_expect_res("getfd:b", "-1 EBADF");
	unlink(path);
}

/* A process that holds a lock (c) hands over which descriptors are dups:
 * a description dup'ed before exec that takes its first lock after it
 * keeps the lock until its last descriptor closes. */
Test(exec, dup_made_before_exec_keeps_lock_taken_after_it, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "dup:b:a", "open:c:rw",
		     "lock:c:w:set:500:1", "reexec", "lock:a:w:set:0:1",
		     "ready", "close:a", "ready", "close:b", "ready"),
	       EXPECT({ 0, 0, 1, W, W }, { 1, 0, 1, U, W }, { 2, 0, 1, U, U }),
	       NULL, NULL);
	unlink(path);
}

/* A holder that has locked and unlocked holds nothing, so its file has no
 * ranges to hand over; its two descriptors still share one description,
 * and go over as dups: a lock taken after exec through one of them stays
 * when that one closes. Before, they went over as strangers, and the close
 * released the lock (found by the torture test). */
Test(exec, descriptors_of_a_holder_with_nothing_held_stay_dups, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "lock:a:w:set:0:1", "dup:b:a",
		     "lock:a:u:set:0:1", "reexec", "lock:a:w:set:0:1",
		     "ready", "close:a", "ready", "close:b", "ready"),
	       EXPECT({ 0, 0, 1, W, W }, { 1, 0, 1, U, W }, { 2, 0, 1, U, U }),
	       NULL, NULL);
	unlink(path);
}

/* Descriptors on path in process pid that survive exec. */
static int inheritable_fds(pid_t pid, const char *path)
{
	char dir[64], p[384], link[4096], line[256];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		ssize_t len;
		FILE *s;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		len = readlink(p, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = 0;
		if (strcmp(link, path))
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fdinfo/%s", (int)pid,
			 e->d_name);
		s = fopen(p, "r");
		while (s && fgets(line, sizeof(line), s)) {
			unsigned long fl;

			if (sscanf(line, "flags: %lo", &fl) == 1 &&
			    !(fl & O_CLOEXEC))
				n++;
		}
		if (s)
			fclose(s);
	}
	closedir(d);
	return n;
}

static void one_inheritable(int shim, int ready, struct tu_proc *p,
			    void *arg)
{
	int n;

	if (ready > 1)
		return;	/* a is closed */
	n = inheritable_fds(p->pid, arg);
	cr_expect_eq(n, 1, "[%s] at ready %d: %d descriptors of the file "
		     "survive exec, want 1 (the program's a)", how(shim),
		     ready, n);
}

/* An exec that fails (ENOENT) leaves every lock, holder and flag as it
 * was: the range released for the close-on-exec holder b is back, the
 * anchors are close-on-exec again, and closing b still releases exactly
 * what POSIX (everything) or the shim (b's own part) releases. */
Test(exec, failed_exec_leaves_everything_as_it_was, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "lock:a:w:set:0:100", "open:b:rw",
		     "lock:b:w:set:50:100", "cloexec:b:1",
		     "reexec:/nonexistent/lockprog", "ready", "close:b",
		     "ready", "close:a", "ready"),
	       EXPECT({ 0, 0, 150, W, W }, { 0, 100, 50, W, W },
		      { 0, 150, 0, U, U }, { 1, 0, 100, U, W },
		      { 1, 100, 50, U, U }, { 2, 0, 0, U, U }),
	       one_inheritable, path);
	tu_expect_res("reexec:/nonexistent/lockprog", "-1 ENOENT");
	unlink(path);
}

/* The new image finds no hand-over variable in its environment (the
 * shim took it out before main), though the kernel's copy of the initial
 * environment shows it was there; its children do not see it either. */
Test(exec, handoff_variable_is_gone_in_the_new_image, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);
	const char *len;

	script(path,
	       STEPS("open:a:rw", "lock:a:w:set:0:0", "reexec",
		     "getenv:" HANDOFF, "handoff",
		     "system:env | grep -c " HANDOFF, "close:a"),
	       NO_EXPECT, NULL, NULL);
	tu_expect_res("getenv:" HANDOFF, "(unset)");
	tu_expect_res("system:env | grep -c " HANDOFF, "256");
	cr_expect_str_eq(tu_res(0, "handoff"), "-1");
	len = tu_res(1, "handoff");
	cr_expect(atoi(len) > 0, "[shim] no hand-over at exec: %s", len);
	unlink(path);
}

/* A new image without the shim (LD_PRELOAD dropped) holds the locks as
 * plain POSIX locks of its own (issue 16; tests/test_edges.c tries the
 * other kinds of images): they survive the exec, and a close of another
 * descriptor of the file drops them there, as plain POSIX does. Before,
 * they stayed on the inherited anchor until the image exited. */
Test(exec, new_image_without_shim_has_plain_posix_locks, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "lock:a:w:set:0:0",
		     "reexec:self:execv:noshim", "getenv:LD_PRELOAD", "ready",
		     "open:b:r", "close:b", "ready", "close:a", "ready"),
	       EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, U }, { 2, 0, 0, U, U }),
	       NULL, NULL);
	tu_expect_res("getenv:LD_PRELOAD", "(unset)");
	unlink(path);
}

/* ---- children that exec: they hold nothing -------------------------------
 * The child (lockprog again) opens the file and tries the parent's range:
 * EAGAIN, since the parent holds it and the child holds no part of it; no
 * descriptor of the child carries a lock. The parent's lock stays. */
static void spawned_child_holds_nothing(const char *kind)
{
	char *path = tu_mkfile(FILE_SIZE), spawn[32];

	snprintf(spawn, sizeof(spawn), "spawn:%s", kind);
	script(path,
	       STEPS("open:a:rw", "lock:a:w:set:0:0", spawn, "open:a:rw",
		     "lock:a:w:set:0:0", "heldlocks", "ready", "end",
		     "ready", "close:a"),
	       EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, W, W }, { 2, 0, 0, U, U }),
	       NULL, NULL);
	tu_expect_res("c.lock:a:w:set:0:0", "-1 EAGAIN");
	tu_expect_res("c.heldlocks", "0");
	tu_expect_res(spawn, "0");
	unlink(path);
}

Test(exec, posix_spawn_child_holds_nothing, .timeout = 60)
{
	spawned_child_holds_nothing("posix_spawn");
}

Test(exec, system_child_holds_nothing, .timeout = 60)
{
	spawned_child_holds_nothing("system");
}

Test(exec, popen_child_holds_nothing, .timeout = 60)
{
	spawned_child_holds_nothing("popen");
}

/* ---- a hand-over variable that the program set by hand -------------------
 * The old image holds no lock, so the shim passes the variable on as it
 * is. The new image logs one line, adopts nothing, and runs as without
 * the shim: fds a and b stay the program's. */
static int count_lines(const char *file, const char *needle)
{
	char line[1024];
	FILE *s = fopen(file, "r");
	int n = 0;

	while (s && fgets(line, sizeof(line), s))
		n += strstr(line, needle) != NULL;
	if (s)
		fclose(s);
	return n;
}

static void corrupt_handoff(const char *value, int rawlock)
{
	char *path = tu_mkfile(FILE_SIZE), log[64], err[96], set[512];
	int fd;

	fd = tu_tmpfile(log, sizeof(log), 0);
	cr_assert(fd >= 0);
	close(fd);
	snprintf(err, sizeof(err), "stderr:%s", log);
	snprintf(set, sizeof(set), "setenv:" HANDOFF ":%s", value);
	for (int shim = 0; shim <= 1; shim++) {
		int st, n;

		cr_assert(truncate(log, 0) == 0);
		st = tu_script_run(shim, "lockprog", path, NULL,
				   STEPS("open:a:r", "open:b:r",
					 rawlock ? "rawlock:b:r:set:0:1"
						 : "getfd:b",
					 err, set, "reexec", "getenv:" HANDOFF,
					 "getfd:a", "getfd:b",
					 "lock:a:r:set:0:0", "ready",
					 "close:a", "close:b"),
				   NULL, EXPECT({ 0, 0, 0, R, R }), NULL,
				   NULL, &tu_out[shim]);
		cr_expect_eq(st, 0, "[%s] %s: lockprog exited with %d:\n%s",
			     how(shim), value, st, tu_out[shim].buf);
		n = count_lines(log, "ignoring the exec hand-over");
		cr_expect_eq(n, shim, "[%s] %s: %d log lines, want %d",
			     how(shim), value, n, shim);
		/* with a lock taken past the shim, the lock on a also says
		 * that the file falls back to POSIX locks */
		n = count_lines(log, "") - count_lines(log, "fallback");
		cr_expect_eq(n, shim, "[%s] %s: %d lines on stderr, want %d",
			     how(shim), value, n, shim);
	}
	tu_expect_res("getfd:a", "0");
	tu_expect_res("getfd:b", "0");
	tu_expect_res("lock:a:r:set:0:0", "0");
	tu_expect_res("close:a", "0");
	tu_expect_res("close:b", "0");
	cr_expect_str_eq(tu_res(1, "getenv:" HANDOFF), "(unset)");
	cr_expect_str_neq(tu_res(0, "getenv:" HANDOFF), "(unset)");
	unlink(log);
	unlink(path);
}

Test(exec, corrupt_handoff_garbage_is_ignored, .timeout = 60)
{
	corrupt_handoff("garbage", 0);
	corrupt_handoff("LSH1", 0);
	corrupt_handoff("LSH1 %P 99999999999999999999999", 0);
	corrupt_handoff("LSH1 %P 1000000 F", 0);
}

Test(exec, corrupt_handoff_truncated_is_ignored, .timeout = 60)
{
	corrupt_handoff("LSH1 %P 1 F %D %I", 0);
	corrupt_handoff("LSH1 %P 1 F %D %I %b 0 1 0 0 1 1 H 0 1 %a 1", 0);
}

/* A well-formed text with our pid that claims the program's own fd b is
 * the anchor of its file, holding a read lock for holder a. */
Test(exec, corrupt_handoff_naming_a_program_fd_is_ignored, .timeout = 60)
{
	corrupt_handoff("LSH1 %P 1 F %D %I %b 0 1 0 0 1 1 H 0 1 %a 1 0 0", 0);
	/* b even holds the claimed range, as a POSIX lock */
	corrupt_handoff("LSH1 %P 1 F %D %I %b 0 1 0 0 1 1 H 0 1 %a 1 0 0", 1);
	/* the file's dev and ino wrong */
	corrupt_handoff("LSH1 %P 1 F 1 2 %b 0 1 0 0 1 1 H 0 1 %a 1 0 0", 0);
}

Test(exec, corrupt_handoff_wrong_pid_is_ignored, .timeout = 60)
{
	corrupt_handoff("LSH1 1 1 F %D %I %b 0 1 0 0 1 1 H 0 1 %a 1 0 0", 0);
	corrupt_handoff("LSH1 1 0", 0);
}

/* The memfd form naming a descriptor that is the program's own: the
 * shim must not close it (nor read the program's file as a hand-over). */
Test(exec, corrupt_handoff_memfd_naming_a_program_fd_closes_nothing,
     .timeout = 60)
{
	corrupt_handoff("LSH1 memfd %b", 0);
}

/* ---- many files ------------------------------------------------------------
 * N files locked, exec: the size of the hand-over (the variable, and the
 * memfd it names beyond 120 KiB), the time from just before the exec call
 * to the first step of the new image, and every lock survives. */
static char *mkdir_tmp(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/lockspace-test-XXXXXX");
	cr_assert_not_null(tu_mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	return dir;
}

static void rm_dir(const char *dir, int n)
{
	char p[128];

	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%d", dir, i);
		unlink(p);
	}
	rmdir(dir);
}

struct many {
	const char *dir;
	int n;
};

static void count_locked(int shim, int ready, struct tu_proc *p, void *arg)
{
	const struct many *m = arg;
	int got = tu_probe_count(m->dir, m->n, 0, 0);

	(void)p;
	cr_expect_eq(got, m->n, "[%s] at ready %d: %d of %d files locked",
		     how(shim), ready, got, m->n);
}

static void exec_many(int n)
{
	struct many m = { mkdir_tmp(), n };
	char many[96], *path = tu_mkfile(FILE_SIZE);
	long us[2];

	snprintf(many, sizeof(many), "many:%s:%d", m.dir, n);
	script(path,
	       STEPS(many, "ready", "reexec", "elapsed", "handoff",
		     "heldlocks", "ready"),
	       NO_EXPECT, count_locked, &m);
	for (int shim = 0; shim <= 1; shim++) {
		char want[16];

		snprintf(want, sizeof(want), "%d", n);
		cr_expect_str_eq(tu_res(shim, many), want, "[%s] locked %s",
				 how(shim), tu_res(shim, many));
		us[shim] = atol(tu_res(shim, "elapsed"));
	}
	cr_expect_eq(tu_probe_count(m.dir, n, 0, 0), 0,
		     "locks left after exit");
	cr_log_info("exec with %d locked files: hand-over %s (bytes of the "
		    "variable [, memfd=bytes]); exec to main: plain %ld us, "
		    "shim %ld us", n, tu_res(1, "handoff"), us[0], us[1]);
	/* The same exec into an image without the shim: no hand-over at
	 * all, every lock a POSIX lock of the new image. */
	tu_script_run(1, "lockprog", path, NULL,
		      STEPS(many, "reexec:self:execv:noshim", "handoff",
			    "heldlocks", "ready"),
		      NULL, NO_EXPECT, count_locked, &m, &tu_out[1]);
	cr_expect_str_eq(tu_res(1, "handoff"), "-1");
	rm_dir(m.dir, n);
	unlink(path);
}

Test(exec, one_file_across_exec, .timeout = 60)
{
	exec_many(1);
}

Test(exec, hundred_files_across_exec, .timeout = 60)
{
	exec_many(100);
}

/* Each file needs the program's descriptor and an anchor. */
Test(exec, nine_thousand_files_across_exec, .timeout = 120)
{
	struct rlimit rl;
	int n = 9000;

	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < (rlim_t)(2 * n + 64) &&
	    rl.rlim_max >= (rlim_t)(2 * n + 64)) {
		rl.rlim_cur = (rlim_t)(2 * n + 64);
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)(2 * n + 64))
		cr_skip_test("RLIMIT_NOFILE %llu: 9000 files need %d "
			     "descriptors", (unsigned long long)rl.rlim_cur,
			     2 * n + 64);
	exec_many(n);
}

/* An image that adopted a hand-over larger than the variable holds (a
 * memfd) execs again: it must hand its locks on again, as POSIX keeps
 * them across any number of execs. */
Test(exec, second_exec_with_memfd_sized_handoff_succeeds, .timeout = 60)
{
	struct many m = { NULL, 2000 };
	char many[96], *path;
	struct rlimit rl;

	/* the program's 2000 descriptors and the shim's 2000 anchors */
	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < (rlim_t)(2 * m.n + 64) &&
	    rl.rlim_max >= (rlim_t)(2 * m.n + 64)) {
		rl.rlim_cur = (rlim_t)(2 * m.n + 64);
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)(2 * m.n + 64))
		cr_skip_test("RLIMIT_NOFILE %llu: 2000 files need %d "
			     "descriptors", (unsigned long long)rl.rlim_cur,
			     2 * m.n + 64);
	m.dir = mkdir_tmp();
	path = tu_mkfile(FILE_SIZE);
	snprintf(many, sizeof(many), "many:%s:%d", m.dir, m.n);
	script(path,
	       STEPS(many, "reexec", "ready", "reexec", "ready"),
	       NO_EXPECT, count_locked, &m);
	cr_expect_null(tu_proc_result(&tu_out[1], "reexec"),
		       "[shim] second exec failed: reexec = %s",
		       tu_res(1, "reexec"));
	rm_dir(m.dir, m.n);
	unlink(path);
}
