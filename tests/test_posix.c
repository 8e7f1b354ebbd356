/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_posix.c: backend = posix (issue 20), end to end.
 *
 * The protect suite runs every contract script under both backends
 * (tests/test_protect.c). Here, what only backend = posix does: the
 * holder's real pid for every process (F_GETLK, lslocks, apt), the kept
 * descriptor of a deferred close (its number stays taken, answers EBADF,
 * closes when the lock goes, is seen by no child), the locks taken again
 * after a close that cannot be deferred, the closes inside libc that
 * drop the lock and are reported, and both backends in one process.
 * Each test runs the program plain, under the anchor and under posix
 * where the comparison says something (how(): "plain", "shim", "posix").
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define READY_MS 10000
#define FINISH_MS 10000
#define FILE_SIZE 1000

static struct tu_proc out[TU_RUNS];

/* Run lockprog PATH STEPS... as run (TU_PLAIN, TU_SHIM, TU_POSIX) with
 * env, probing path as ex says; it must exit 0. */
static void run(int shim, const char *path, const char *const *steps,
		const char *const *env, const struct tu_expect *ex, int nex)
{
	int st = tu_script_run(shim, "lockprog", path, NULL, steps, env, ex,
			       nex, NULL, NULL, &out[shim]);

	cr_expect_eq(st, 0, "[%s] lockprog exited with %d; output:\n%s",
		     how(shim), st, out[shim].buf);
}

static const char *res(int shim, const char *step)
{
	const char *r = tu_proc_result(&out[shim], step);

	return r ? r : "(no output)";
}

static void expect_res(int shim, const char *step, const char *want)
{
	cr_expect_str_eq(res(shim, step), want, "[%s] %s = %s, want %s:\n%s",
			 how(shim), step, res(shim, step), want,
			 out[shim].buf);
}

/* A log file for one run, and its text after the run. */
static char *log_env(char *env, size_t len, char *path, size_t plen)
{
	int fd;

	snprintf(path, plen, "/tmp/lockspace-posixlog-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	snprintf(env, len, "LOCKSPACE_PRELOAD_LOG=%s", path);
	return env;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	buf[n] = 0;
	if (f)
		fclose(f);
	return buf;
}

/* ---- every process sees the holder's pid ------------------------------ */

/* The holder locks, then opens and closes the file again (plain POSIX
 * drops the lock there, both backends keep it). A process without the
 * shim asks F_GETLK (the raw syscall): the anchor's OFD lock is pid -1,
 * backend = posix's lock names the holder. */
Test(posix, unshimmed_getlk_names_the_holder_pid, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);
	const char *argv[] = { tu_prog("lockprog"), path, "open:a:rw",
			       "lock:a:w:set:0:0", "open:b:r", "close:b",
			       "ready", NULL };

	for (int shim = 0; shim < TU_RUNS; shim++) {
		struct tu_proc h;
		pid_t pid = 0;
		int type;

		cr_assert(tu_proc_start(&h, shim, argv, NULL) == 0);
		cr_assert(tu_proc_ready(&h, READY_MS) == 0, "%s", h.buf);
		type = tu_probe(path, 0, 0, &pid);
		if (shim == TU_PLAIN) {
			cr_expect_eq(type, U, "[plain] the close kept it?");
		} else {
			cr_expect_eq(type, W, "[%s] lock lost", how(shim));
			cr_expect_eq(pid, shim == TU_POSIX ? h.pid : -1,
				     "[%s] F_GETLK names pid %d (holder %d)",
				     how(shim), (int)pid, (int)h.pid);
		}
		tu_proc_continue(&h);
		cr_expect_eq(tu_proc_finish(&h, FINISH_MS), 0, "%s", h.buf);
	}
	unlink(path);
}

/* lslocks (util-linux 2.38 reads /proc/locks, and the path from the
 * holder's /proc/PID/fd) with the holder as above. */
static int lslocks_line(ino_t ino, char *line, size_t len)
{
	char cmd[] = "lslocks -r -n -u -o COMMAND,PID,TYPE,MODE,START,END,"
		     "INODE,PATH 2>/dev/null";
	FILE *p = popen(cmd, "r");
	char buf[1024];
	int found = 0;

	line[0] = 0;
	while (p && fgets(buf, sizeof(buf), p)) {
		char c[64], t[16], m[16];
		long pid, s, e;
		unsigned long i;

		if (sscanf(buf, "%63s %ld %15s %15s %ld %ld %lu", c, &pid, t,
			   m, &s, &e, &i) == 7 &&
		    i == (unsigned long)ino && !found) {
			snprintf(line, len, "%s", buf);
			line[strcspn(line, "\n")] = 0;
			found = 1;
		}
	}
	if (p)
		pclose(p);
	return found;
}

Test(posix, lslocks_shows_the_holder_pid_and_path, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE), line[1024], want[1024];
	const char *argv[] = { tu_prog("lockprog"), path, "open:a:rw",
			       "lock:a:w:set:0:0", "open:b:r", "close:b",
			       "ready", NULL };
	struct stat st;

	if (system("lslocks --version >/dev/null 2>&1") != 0)
		cr_skip_test("no lslocks");
	cr_assert(stat(path, &st) == 0);
	for (int shim = 0; shim < TU_RUNS; shim++) {
		struct tu_proc h;
		int found;

		cr_assert(tu_proc_start(&h, shim, argv, NULL) == 0);
		cr_assert(tu_proc_ready(&h, READY_MS) == 0, "%s", h.buf);
		found = lslocks_line(st.st_ino, line, sizeof(line));
		tu_note("lslocks, holder %s: %s\n", how(shim),
			found ? line : "(no line: the lock is gone)");
		if (shim == TU_PLAIN) {
			cr_expect(!found, "[plain] %s", line);
		} else if (shim == TU_SHIM) {
			cr_expect(found && strstr(line, " -1 OFDLCK WRITE "),
				  "[shim] %s", line);
		} else {
			snprintf(want, sizeof(want),
				 "lockprog %d POSIX WRITE 0 0 %lu %s",
				 (int)h.pid, (unsigned long)st.st_ino, path);
			cr_expect_str_eq(line, want, "[posix]");
		}
		tu_proc_continue(&h);
		cr_expect_eq(tu_proc_finish(&h, FINISH_MS), 0, "%s", h.buf);
	}
	unlink(path);
}

/* apt-get names the holder of the dpkg frontend lock from F_GETLK. The
 * holder is our own program (it locks /var/lib/dpkg/lock-frontend for a
 * moment, and closes a second descriptor of it as libc's readers do);
 * apt-get check takes that lock and changes nothing. backend = posix
 * comes from the shipped configuration's [/var/lib/dpkg/lock*] section;
 * the anchor run reads an empty configuration. */
static const char *shipped_conf(void)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/../lockspace-preload.conf",
		 BUILD_DIR);
	if (access(path, R_OK) < 0) /* B=build/asan and the like */
		snprintf(path, sizeof(path), "%s/../../lockspace-preload.conf",
			 BUILD_DIR);
	return path;
}

static void apt_check(char *buf, size_t len)
{
	FILE *p = popen("apt-get check 2>&1", "r");
	size_t n = p ? fread(buf, 1, len - 1, p) : 0;

	buf[n] = 0;
	if (p)
		pclose(p);
}

Test(posix, apt_names_the_holder_of_a_shimmed_dpkg_lock, .timeout = 120)
{
	static const char lock[] = "/var/lib/dpkg/lock-frontend";
	const char *argv[] = { tu_prog("lockprog"), lock, "open:a:rw",
			       "lock:a:w:set:0:0", "open:b:r", "close:b",
			       "ready", NULL };
	char conf[4200], apt[8192], want[256];

	if (geteuid() != 0)
		cr_skip_test("not root: cannot lock %s", lock);
	if (access("/usr/bin/apt-get", X_OK) < 0 || access(lock, W_OK) < 0)
		cr_skip_test("no apt-get or no %s", lock);
	for (int shim = 0; shim < TU_RUNS; shim++) {
		const char *env[] = { conf, NULL };
		struct tu_proc h;

		/* The posix run: the shipped file's section says so (its
		 * environment's backend would too, but the file is what a
		 * system ships). */
		snprintf(conf, sizeof(conf), "LOCKSPACE_PRELOAD_CONF=%s",
			 shim == TU_POSIX ? shipped_conf() : "/dev/null");
		cr_assert(tu_proc_start(&h, shim ? TU_SHIM : TU_PLAIN, argv,
					env) == 0);
		cr_assert(tu_proc_ready(&h, READY_MS) == 0, "%s", h.buf);
		apt_check(apt, sizeof(apt));
		tu_note("apt-get check, holder %s (pid %d):\n%s", how(shim),
			(int)h.pid, apt);
		if (shim == TU_PLAIN) {
			cr_expect(!strstr(apt, "Could not get lock"),
				  "[plain] the close kept the lock?\n%s", apt);
		} else if (shim == TU_SHIM) {
			cr_expect(strstr(apt, "Could not get lock /var/lib/dpkg/"
					      "lock-frontend - open (11: "
					      "Resource temporarily unavailable)"),
				  "[shim]\n%s", apt);
		} else {
			snprintf(want, sizeof(want),
				 "Could not get lock %s. It is held by process "
				 "%d (lockprog)", lock, (int)h.pid);
			cr_expect(strstr(apt, want), "[posix] want \"%s\":\n%s",
				  want, apt);
		}
		tu_proc_continue(&h);
		cr_expect_eq(tu_proc_finish(&h, FINISH_MS), 0, "%s", h.buf);
	}
}

/* ---- the kept descriptor ------------------------------------------------ */

/* After the deferred close of b (4), the program meets its number as
 * free: close and fcntl say EBADF, as plain; open gets the next number
 * (the kept descriptor still takes 4: the difference from plain, and it
 * is listed in /proc/self/fd, as an anchor is). When the lock goes, so
 * does the kept descriptor. */
Test(posix, a_kept_number_answers_ebadf_and_closes_with_the_lock,
     .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);
	const char *const steps[] = {
		"open:a:rw", "lock:a:w:set:0:0", "open:b:r", "close:b",
		"close:#4", "getfd:#4", "dup:c:#4", "lock:#4:r:set:0:0",
		"fds:kept", "open:d:r", "ready", "lock:a:u:set:0:0",
		"fds:unlocked", "close:d", "ready", NULL };

	for (int shim = TU_PLAIN; shim < TU_RUNS; shim += 2) {
		run(shim, path, steps, NULL,
		    EXPECT({ 0, 0, 0, U, W }, { 1, 0, 0, U, U }));
		expect_res(shim, "close:b", "0");
		expect_res(shim, "close:#4", "-1 EBADF");
		expect_res(shim, "getfd:#4", "-1 EBADF");
		expect_res(shim, "dup:c:#4", "-1 EBADF");
		expect_res(shim, "lock:#4:r:set:0:0", "-1 EBADF");
	}
	expect_res(TU_PLAIN, "fds:kept", "[ 3 ]");
	expect_res(TU_PLAIN, "open:d:r", "4");
	expect_res(TU_PLAIN, "fds:unlocked", "[ 3 4 ]");
	expect_res(TU_POSIX, "fds:kept", "[ 3 4 ]");
	expect_res(TU_POSIX, "open:d:r", "5");
	expect_res(TU_POSIX, "fds:unlocked", "[ 3 5 ]");
	unlink(path);
}

/* A holder's last close releases what only it held, through the kept
 * descriptor, and keeps what another holder holds; the other holder's
 * last close then closes every kept descriptor. */
Test(posix, a_holders_last_close_releases_its_own_ranges_only, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	for (int shim = TU_PLAIN; shim < TU_RUNS; shim++)
		run(shim, path,
		    STEPS("open:a:rw", "lock:a:w:set:0:10", "open:b:rw",
			  "lock:b:w:set:100:10", "close:b", "ready",
			  "fds:one", "close:a", "fds:none", "ready"),
		    NULL,
		    EXPECT({ 0, 0, 10, U, W }, { 0, 100, 10, U, U },
			   { 1, 0, 0, U, U }));
	expect_res(TU_POSIX, "fds:one", "[ 3 4 ]");
	expect_res(TU_POSIX, "fds:none", "[ ]");
	unlink(path);
}

/* Children: a fork child does not have the kept descriptor (fork.c
 * closes it with the anchors), nor does an exec'd image (close-on-exec),
 * and a vfork child that closes the number (it is free to the program)
 * closes its own copy, leaving the parent's lock. */
Test(posix, no_child_meets_a_kept_descriptor, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	for (int shim = TU_PLAIN; shim < TU_RUNS; shim++) {
		run(shim, path,
		    STEPS("open:a:rw", "lock:a:w:set:0:0", "open:b:r",
			  "close:b", "forkfds", "spawn:posix_spawn", "fds",
			  "end", "vfork_close:#4", "ready"),
		    NULL, EXPECT({ 0, 0, 0, U, W }));
		expect_res(shim, "forkfds", "[ 3 ]");
		expect_res(shim, "fds", "[ 3 ]"); /* the spawned image's */
	}
	unlink(path);
}

/* dup2 onto the kept number, and onto another descriptor of the file:
 * the kernel's close there drops the locks; they are taken again at once
 * and the log says so (lock-loss-retaken). */
Test(posix, dup2_over_a_descriptor_of_the_file_retakes_the_lock,
     .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE), env[300], log[64];
	const char *e[] = { log_env(env, sizeof(env), log, sizeof(log)),
			    NULL };
	const char *text;

	run(TU_POSIX, path,
	    STEPS("open:a:rw", "lock:a:w:set:0:0", "open:b:r", "close:b",
		  "open:n:r:/dev/null", "dup2:n:#4", "ready", "open:c:r",
		  "dup2:n:c", "ready"),
	    e, EXPECT({ 0, 0, 0, U, W }, { 1, 0, 0, U, W }));
	expect_res(TU_POSIX, "dup2:n:#4", "4");
	text = slurp(log);
	cr_expect(strstr(text, "event=lock-loss-retaken") &&
			  strstr(text, "func=dup2") &&
			  strstr(text, "lost=fd-1:W:0-EOF"),
		  "%s", text);
	unlink(log);
	unlink(path);
}

/* Budget: at the descriptor limit the program gets the number a plain
 * run would (the kept one, 4): the kept descriptor is given up, and the
 * lock taken again. */
Test(posix, a_kept_number_is_given_up_at_the_descriptor_limit,
     .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE), asan[1024];
	const char *old = getenv("ASAN_OPTIONS");
	const char *e[] = { asan, NULL };

	/* LeakSanitizer (make asan) needs a free descriptor at exit */
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%sdetect_leaks=0",
		 old ? old : "", old && *old ? ":" : "");
	for (int shim = TU_PLAIN; shim < TU_RUNS; shim += 2) {
		run(shim, path,
		    STEPS("open:a:rw", "lock:a:w:set:0:0", "open:b:r",
			  "close:b", "rlimit:5", "dup:c:a", "ready"),
		    e, EXPECT({ 0, 0, 0, U, W }));
		expect_res(shim, "dup:c:a", "4");
	}
	unlink(path);
}

/* A program that opens and closes its locked file again and again does
 * not run out of numbers: past POSIXBE_KEEP_MAX (32) kept descriptors
 * they all close, and the lock is taken again at once. */
Test(posix, many_deferred_closes_stay_within_a_bound, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE), env[300], log[64];
	const char *e[] = { log_env(env, sizeof(env), log, sizeof(log)),
			    NULL };
	const char *steps[100];
	int n = 0, count = 0;
	const char *fds, *text;

	steps[n++] = "open:a:rw";
	steps[n++] = "lock:a:w:set:0:0";
	for (int i = 0; i < 40; i++) {
		steps[n++] = "open:b:r";
		steps[n++] = "close:b";
	}
	steps[n++] = "fds";
	steps[n++] = "ready";
	steps[n] = NULL;
	run(TU_POSIX, path, steps, e, EXPECT({ 0, 0, 0, U, W }));
	fds = res(TU_POSIX, "fds");
	for (const char *s = fds; (s = strchr(s, ' ')); s++)
		count += s[1] >= '0' && s[1] <= '9';
	cr_expect(count >= 2 && count <= 1 + 32, "%d descriptors: %s", count,
		  fds);
	text = slurp(log);
	cr_expect(strstr(text, "more than 32 deferred closes"), "%s", text);
	unlink(log);
	unlink(path);
}

/* ---- across exec ------------------------------------------------------------- */

/* A kept descriptor, and a close-on-exec one of a holder that leaves,
 * would each drop the file's locks as the exec closes them: into an image
 * that runs the shim they go over as that image's kept descriptors (its
 * program meets their numbers as free), and what only the leaving holder
 * held goes; the rest holds until its holder's last close, when the kept
 * descriptors close too. Plain POSIX loses everything at the close of b
 * already; the anchor gives the same answers as posix. */
Test(posix, exec_hands_kept_descriptors_over_and_releases_the_leavers,
     .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	for (int shim = TU_PLAIN; shim < TU_RUNS; shim++)
		run(shim, path,
		    STEPS("open:a:rw", "lock:a:w:set:0:10", "open:b:r",
			  "close:b", "open:c:rw", "cloexec:c:1",
			  "lock:c:w:set:100:10", "ready", "reexec",
			  "close:#4", "getfd:c", "ready", "close:a", "fds",
			  "ready"),
		    NULL,
		    EXPECT({ 0, 0, 10, U, W }, { 0, 100, 10, W, W },
			   { 1, 0, 10, U, W }, { 1, 100, 10, U, U },
			   { 2, 0, 0, U, U }));
	for (int shim = TU_PLAIN; shim < TU_RUNS; shim++) {
		expect_res(shim, "close:#4", "-1 EBADF");
		expect_res(shim, "getfd:c", "-1 EBADF");
	}
	expect_res(TU_POSIX, "fds", "[ ]");
	unlink(path);
}

/* A failed exec changes nothing: close-on-exec is back where it was, the
 * kept descriptor is still the shim's, every lock held. */
Test(posix, failed_exec_puts_close_on_exec_back, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	run(TU_POSIX, path,
	    STEPS("open:a:rw", "lock:a:w:set:0:10", "open:b:r", "close:b",
		  "open:c:rw", "cloexec:c:1", "lock:c:w:set:100:10",
		  "reexec:/nonexistent/lockprog", "getfd:c", "getfd:a",
		  "close:#4", "ready"),
	    NULL, EXPECT({ 0, 0, 10, U, W }, { 0, 100, 10, U, W }));
	expect_res(TU_POSIX, "reexec:/nonexistent/lockprog", "-1 ENOENT");
	expect_res(TU_POSIX, "getfd:c", "1");
	expect_res(TU_POSIX, "getfd:a", "0");
	expect_res(TU_POSIX, "close:#4", "-1 EBADF");
	unlink(path);
}

/* Into an image without the shim the kept descriptor closes at the exec
 * (it would be a leak there): the lock goes, as plain POSIX dropped it
 * at the program's close of b. The anchor turns its locks into POSIX
 * locks on the program's descriptors instead, and keeps them. */
Test(posix, exec_without_the_shim_closes_kept_descriptors, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	for (int shim = TU_PLAIN; shim < TU_RUNS; shim++)
		run(shim, path,
		    STEPS("open:a:rw", "lock:a:w:set:0:10", "open:b:r",
			  "close:b", "reexec:self:execv:noshim", "fds",
			  "ready"),
		    NULL, EXPECT({ 0, 0, 10, U, BACKENDS(W, U) }));
	expect_res(TU_POSIX, "fds", "[ 3 ]");
	unlink(path);
}

/* ---- closes inside libc -------------------------------------------------- */

/* getpwnam() reads /etc/passwd and closes it inside libc, where no
 * interposer sees it: under backend = posix the read lock goes, as
 * plain; the next lock call (here F_GETLK) finds it and the log says
 * what was lost; without another lock call, exit does. */
Test(posix, a_close_inside_libc_is_reported_as_unseen, .timeout = 60)
{
	char env[300], log[64];
	const char *e[] = { log_env(env, sizeof(env), log, sizeof(log)),
			    NULL };
	const char *text;

	if (access("/etc/passwd", R_OK) < 0)
		cr_skip_test("/etc/passwd is not readable");
	for (int at_exit = 0; at_exit <= 1; at_exit++) {
		cr_assert(truncate(log, 0) == 0 || errno == ENOENT,
			  "truncate %s: %s", log, strerror(errno));
		run(TU_POSIX, "/etc/passwd",
		    at_exit ? STEPS("open:a:r", "lock:a:r:set:0:0",
				    "getpwnam:root", "ready")
			    : STEPS("open:a:r", "lock:a:r:set:0:0",
				    "getpwnam:root", "getlk:a:w:set:0:0",
				    "ready"),
		    e, EXPECT({ 0, 0, 0, U, U }));
		text = slurp(log);
		cr_expect(strstr(text, "event=lock-loss-unseen") &&
				  strstr(text, "path=/etc/passwd") &&
				  strstr(text, "func=unseen holder-fds=3 "
					       "lost=fd3:R:0-EOF"),
			  "[%s] %s", at_exit ? "at exit" : "at F_GETLK", text);
	}
	unlink(log);
}

/* ---- both backends in one process ------------------------------------------ */

/* A section puts one file under backend = posix, the other stays on an
 * anchor: both keep their locks across a close of another descriptor;
 * the kernel lists the first as the process's POSIX lock, the second as
 * the anchor's OFD lock. */
struct both {
	const char *px, *an;
};

static void both_view(int shim, int ready, struct tu_proc *p, void *arg)
{
	const struct both *b = arg;
	struct kernel_lock k[4];
	int fd, n;

	(void)shim;
	(void)ready;
	cr_expect_eq(tu_probe(b->px, 0, 0, NULL), W, "the pidfile's lock");
	cr_expect_eq(tu_probe(b->an, 0, 0, NULL), W, "the database's lock");
	fd = open(b->px, O_RDONLY);
	n = tu_kernel_locks(fd, k, 4);
	close(fd);
	cr_expect(n == 1 && !strcmp(k[0].kind, "POSIX") &&
			  k[0].pid == p->pid,
		  "%d locks on the pidfile: %s of pid %d", n,
		  n > 0 ? k[0].kind : "-", n > 0 ? (int)k[0].pid : 0);
	fd = open(b->an, O_RDONLY);
	n = tu_kernel_locks(fd, k, 4);
	close(fd);
	cr_expect(n == 1 && !strcmp(k[0].kind, "OFDLCK") && k[0].pid == -1,
		  "%d locks on the database: %s of pid %d", n,
		  n > 0 ? k[0].kind : "-", n > 0 ? (int)k[0].pid : 0);
}

Test(posix, both_backends_in_one_process_by_path, .timeout = 60)
{
	char dir[] = "/tmp/lockspace-both-XXXXXX", px[96], an[96], cf[96];
	char conf[160], opx[128], ocx[128], text[256];
	const char *e[] = { conf, NULL };
	struct both b = { px, an };
	FILE *f;
	int fd, st;

	cr_assert(tu_mkdtemp(dir));
	snprintf(px, sizeof(px), "%s/p.pid", dir);
	snprintf(an, sizeof(an), "%s/a.db", dir);
	snprintf(cf, sizeof(cf), "%s/conf", dir);
	for (int i = 0; i < 2; i++) {
		fd = open(i ? an : px, O_RDWR | O_CREAT, 0644);
		cr_assert(fd >= 0);
		close(fd);
	}
	f = fopen(cf, "w");
	cr_assert(f);
	snprintf(text, sizeof(text), "[%s/*.pid]\nbackend = posix\n", dir);
	fputs(text, f);
	fclose(f);
	snprintf(conf, sizeof(conf), "LOCKSPACE_PRELOAD_CONF=%s", cf);
	snprintf(opx, sizeof(opx), "open:b:rw:%s", px);
	snprintf(ocx, sizeof(ocx), "open:c:r:%s", px);
	st = tu_script_run(TU_SHIM, "lockprog", an, NULL,
			   STEPS("open:a:rw", "lock:a:w:set:0:0", opx,
				 "lock:b:w:set:0:0", "open:d:r", "close:d",
				 ocx, "close:c", "ready"),
			   e, NULL, 0, both_view, &b, &out[TU_SHIM]);
	cr_expect_eq(st, 0, "%s", out[TU_SHIM].buf);
	unlink(cf);
	unlink(px);
	unlink(an);
	rmdir(dir);
}

/* conflicts = fd: two descriptions of one file in one process conflict
 * as two processes would, F_GETLK names the caller's own pid, unlock
 * stays process-wide; the same answers under both backends. */
Test(posix, conflicts_fd_answers_as_under_the_anchor, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);
	const char *e[] = { "LOCKSPACE_PRELOAD_CONFLICTS=fd", NULL };
	const char *const steps[] = {
		"open:a:rw", "open:b:rw", "lock:a:w:set:0:10",
		"lock:b:w:set:5:10", "lock:b:r:set:20:10",
		"lock:a:r:set:25:10", "lock:a:w:set:25:10", "ready",
		"lock:b:u:set:0:10", "lock:b:w:set:0:10", "ready", NULL };

	for (int shim = TU_SHIM; shim < TU_RUNS; shim++)
		run(shim, path, steps, e,
		    EXPECT({ 0, 0, 10, U, W }, { 0, 20, 15, U, R },
			   { 1, 0, 10, U, W }));
	for (int i = 0; steps[i]; i++)
		if (strcmp(steps[i], "ready"))
			cr_expect_str_eq(res(TU_POSIX, steps[i]),
					 res(TU_SHIM, steps[i]),
					 "%s: posix and anchor differ", steps[i]);
	expect_res(TU_POSIX, "lock:b:w:set:5:10", "-1 EAGAIN");
	expect_res(TU_POSIX, "lock:a:w:set:25:10", "-1 EAGAIN");
	unlink(path);
}
