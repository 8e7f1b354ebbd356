/* tests/test_security.c: other users cannot hang, fool or steer a
 * shimmed process (issue 17).
 *
 * Each attack of the issue runs as it was measured: user A's programs
 * (lockprog, tests/progs/) under the shim, user B acting on what they
 * share. A and B are two uids that no account uses, picked at random, and
 * the programs run as them through setpriv(1): so the tests need root,
 * and skip without it. The deadlock registry's places are a fresh
 * directory of root's, mode 1777, on tmpfs (LOCKSPACE_WAIT_DIR), or, for
 * the attacks on the built-in places, the built-in ones inside a mount
 * namespace of each program (unshare(1)) where /run/lockspace and
 * /dev/shm are directories of the test's. Every program runs under a
 * watchdog step, every wait of the test has a timeout.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#ifndef STEPS /* (older util.h: the suite runs against older trees too) */
#define STEPS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#endif

#define READY_MS 5000
#define FINISH_MS 5000
#define BLOCK_MS 3000
#define DEADLK_MS 2000 /* a cycle's EDEADLK comes at once; plain: < 1 ms */
#define TOOL BUILD_DIR "/lockspace-locks"

struct user {
	uid_t uid;
	char reuid[32], regid[32];
};

static struct user A, B;
static char top[64];     /* the registry's parent: root's, 1777, tmpfs */
static char top_env[96]; /* LOCKSPACE_WAIT_DIR=top */
static char prog[4096];  /* lockprog */

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root: the attacks run as two unprivileged "
			     "users the test makes up (setpriv)");
	if (access("/usr/bin/setpriv", X_OK) != 0)
		cr_skip_test("needs /usr/bin/setpriv (util-linux)");
}

static void set_user(struct user *u, uid_t uid)
{
	u->uid = uid;
	snprintf(u->reuid, sizeof(u->reuid), "--reuid=%u", (unsigned)uid);
	snprintf(u->regid, sizeof(u->regid), "--regid=%u", (unsigned)uid);
}

/* Two uids no account has, and a fresh registry parent. */
static void setup(void)
{
	uid_t base;

	need_root();
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	do
		base = 1500000000u + (uid_t)(rand() % 100000000) * 2;
	while (getpwuid(base) || getpwuid(base + 1));
	set_user(&A, base);
	set_user(&B, base + 1);
	snprintf(top, sizeof(top), "/dev/shm/lockspace-sec-XXXXXX");
	cr_assert(tu_mkdtemp(top), "mkdtemp: %s", strerror(errno));
	cr_assert(chmod(top, 01777) == 0);
	snprintf(top_env, sizeof(top_env), "LOCKSPACE_WAIT_DIR=%s", top);
	snprintf(prog, sizeof(prog), "%s", tu_prog("lockprog"));
}

static void rm_rf(const char *path)
{
	if (tu_rm_rf(path) < 0)
		cr_log_warn("could not remove %s", path);
}

static void teardown(void)
{
	if (top[0])
		rm_rf(top);
	top[0] = 0;
}

/* A skipped test runs no .fini. */
#define skip(...)                          \
	do {                               \
		teardown();                \
		cr_skip_test(__VA_ARGS__); \
	} while (0)

TestSuite(security, .init = setup, .fini = teardown, .timeout = 60);

/* A fresh file (or directory) that u owns, mode mode. */
static char *user_file(char *path, size_t len, const struct user *u,
		       mode_t mode)
{
	int fd = tu_tmpfile(path, len, 100);

	cr_assert(fd >= 0, "tmpfile: %s", strerror(errno));
	cr_assert(fchown(fd, u->uid, u->uid) == 0 && fchmod(fd, mode) == 0);
	close(fd);
	return path;
}

static char *user_dir(char *path, size_t len, const struct user *u)
{
	snprintf(path, len, "/tmp/lockspace-sec-XXXXXX");
	cr_assert(tu_mkdtemp(path), "mkdtemp: %s", strerror(errno));
	cr_assert(chown(path, u->uid, u->uid) == 0 && chmod(path, 0755) == 0);
	return path;
}

/* argv's start for a program run as u (in the mount namespace that ns
 * makes first, when not NULL): the count. */
static int as_user(const char **argv, const struct user *u, const char *ns)
{
	int n = 0;

	if (ns) {
		argv[n++] = "/usr/bin/unshare";
		argv[n++] = "-m";
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = ns;
		argv[n++] = "sh";
	}
	argv[n++] = "/usr/bin/setpriv";
	argv[n++] = u->reuid;
	argv[n++] = u->regid;
	argv[n++] = "--clear-groups";
	argv[n++] = "--";
	return n;
}

/* lockprog PATH watchdog STEPS... as u, under the shim. */
static void start_as(struct tu_proc *p, const struct user *u, const char *ns,
		     const char *const *env, const char *path,
		     const char *const *steps)
{
	const char *argv[64];
	int n = as_user(argv, u, ns);

	argv[n++] = prog;
	argv[n++] = path;
	argv[n++] = "watchdog:10000";
	for (int i = 0; steps[i] && n < 63; i++)
		argv[n++] = steps[i];
	argv[n] = NULL;
	cr_assert(tu_proc_start(p, 1, argv, env) == 0, "spawn");
}

/* sh -c CMD as u, no shim: the exit status; its output in out. */
static int sh_as(const struct user *u, char *out, size_t len,
		 const char *fmt, ...)
{
	char cmd[8192], sink[256];
	const char *argv[16];
	va_list ap;
	int n = as_user(argv, u, NULL);

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = cmd;
	argv[n] = NULL;
	return tu_run(0, argv, NULL, out ? out : sink, out ? len : sizeof(sink));
}

static void ready(struct tu_proc *p, const char *who)
{
	if (tu_proc_ready(p, READY_MS) < 0) {
		int st = tu_proc_finish(p, 0);

		cr_assert_fail("%s: no ready (status %d):\n%s", who, st, p->buf);
	}
}

static const char *res(const struct tu_proc *p, const char *step)
{
	const char *r = tu_proc_result(p, step);

	return r ? r : "(no output)";
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Is pid's main thread in a blocking lock call? */
static int in_setlkw(pid_t pid)
{
	char path[64], buf[256];
	unsigned long long nr, fd, cmd;
	int r = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f) &&
	    sscanf(buf, "%llu %llx %llx", &nr, &fd, &cmd) == 3)
		r = nr == SYS_fcntl && (cmd == F_SETLKW || cmd == F_OFD_SETLKW);
	if (f)
		fclose(f);
	return r;
}

/* 1 once p blocks in its lock call, 0 if it does not within BLOCK_MS
 * (it may hang elsewhere: in the open of a FIFO). */
static int blocked(const struct tu_proc *p)
{
	long end = now_ms() + BLOCK_MS;

	while (!in_setlkw(p->pid)) {
		struct timespec ts = {0, 1000 * 1000};

		if (now_ms() >= end)
			return 0;
		nanosleep(&ts, NULL);
	}
	return 1;
}

static void finish(struct tu_proc *p, const char *who)
{
	int st = tu_proc_finish(p, FINISH_MS);

	cr_expect_eq(st, 0, "%s exited with %d:\n%s", who, st, p->buf);
}

/* Field 22 of /proc/PID/stat, as anyone may read it. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	cr_assert(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	cr_assert(p);
	for (int field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	cr_assert(sscanf(p, "%llu", &v) == 1);
	return v;
}

/* "dev:ino" of path in decimal, as a wait file names it. */
static void dev_ino(const char *path, char *buf, size_t len)
{
	struct stat st;

	cr_assert(stat(path, &st) == 0);
	snprintf(buf, len, "%u:%u:%llu", major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)st.st_ino);
}

/* Files under dir named *.tmp and owned by u: a writer's leftovers. */
static int tmp_files(const char *dir, const struct user *u)
{
	char cmd[4300], out[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "find '%s' -name '*.tmp' -uid %u 2>/dev/null | wc -l", dir,
		 (unsigned)u->uid);
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(out, sizeof(out), p))
			out[0] = 0;
		pclose(p);
	}
	return atoi(out);
}

/* ---- a lock-order cycle of A's two processes ----------------------------- */

struct cycle {
	const char *ns;               /* mount namespace of both, or NULL */
	const char *const *env1;
	const char *const *env2;
	/* B's moves: before A1 waits, before A2 closes the cycle */
	void (*before1)(struct cycle *c, pid_t a1);
	void (*before2)(struct cycle *c, pid_t a1, pid_t a2);
	const char *arg;
	pid_t a1, a2;
};

/*
 * A1 holds X and waits for Y; A2 holds Y, then asks for X: A2 closes
 * the cycle and gets EDEADLK at once (plain Linux does), A1 gets Y once
 * A2 lets go of it. Without detection both wait: A2's watchdog ends it.
 */
static void cycle(struct cycle *c)
{
	char x[64], y[64], ob1[96], ob2[96];
	const char *w = "lock:b:w:set:0:1:wait";
	const char *envd[] = {top_env, NULL};
	struct tu_proc a1, a2;
	long t0, ms;

	user_file(x, sizeof(x), &A, 0644);
	user_file(y, sizeof(y), &A, 0644);
	snprintf(ob1, sizeof(ob1), "open:b:rw:%s", y);
	snprintf(ob2, sizeof(ob2), "open:b:rw:%s", x);
	start_as(&a1, &A, c->ns, c->env1 ? c->env1 : envd, x,
		 STEPS("open:a:rw", ob1, "lock:a:w:set:0:1", "ready", w,
		       "ready"));
	ready(&a1, "A1");
	start_as(&a2, &A, c->ns, c->env2 ? c->env2 : envd, y,
		 STEPS("open:a:rw", ob2, "lock:a:w:set:0:1", "ready", w,
		       "lock:a:u:set:0:1", "ready"));
	ready(&a2, "A2");
	c->a1 = a1.pid;
	c->a2 = a2.pid;
	if (c->before1)
		c->before1(c, a1.pid);
	tu_proc_continue(&a1);
	cr_expect(blocked(&a1), "A1 never blocked in F_SETLKW:\n%s", a1.buf);
	if (c->before2)
		c->before2(c, a1.pid, a2.pid);
	t0 = now_ms();
	tu_proc_continue(&a2);
	if (tu_proc_ready(&a2, DEADLK_MS) < 0) {
		cr_expect_fail("no EDEADLK within %d ms: the cycle was not "
			       "seen (both would wait forever)\nA1:\n%s\nA2:\n%s",
			       DEADLK_MS, a1.buf, a2.buf);
		tu_proc_finish(&a2, 0);
		tu_proc_finish(&a1, 0);
		goto out;
	}
	ms = now_ms() - t0;
	cr_expect_str_eq(res(&a2, w), "-1 EDEADLK", "A2:\n%s", a2.buf);
	ready(&a1, "A1");
	cr_expect_str_eq(res(&a1, w), "0", "A1:\n%s", a1.buf);
	tu_proc_continue(&a1);
	tu_proc_continue(&a2);
	finish(&a1, "A1");
	finish(&a2, "A2");
	cr_log_info("EDEADLK after %ld ms", ms);
out:
	unlink(x);
	unlink(y);
}

/* ---- 1. hang ----------------------------------------------------------------- */

static pid_t b_sleeper(void)
{
	char out[64] = "";

	cr_assert_eq(sh_as(&B, out, sizeof(out),
			   "sleep 60 >/dev/null 2>&1 & echo $!"), 0);
	return (pid_t)atoi(out);
}

/*
 * B makes FIFOs where the registry's readers look: in the shared parent,
 * named like entries, and in B's own user directory, named after a live
 * process of B's (root's readers look there). A's F_SETLKW waits for
 * A1's lock and gets it when A1 lets go; root's lockspace-locks reads
 * the registry and ends. Before: the reader's open() of the FIFO waited
 * for a writer, forever.
 */
Test(security, fifo_in_the_registry_hangs_no_waiter)
{
	char x[64];
	const char *envd[] = {top_env, NULL};
	const char *tool[] = {"/usr/bin/timeout", "-s", "KILL", "10", TOOL,
			      "--waits", NULL};
	static char out[1 << 16];
	struct tu_proc a1, a2;
	pid_t sleeper = b_sleeper();
	int st;

	cr_assert(sleeper > 0);
	cr_assert_eq(sh_as(&B, NULL, 0,
			   "mkfifo %s/1 %s/%d %s/%d && mkdir -m 700 %s/%u && "
			   "mkfifo %s/%u/%d %s/%u/1",
			   top, top, (int)sleeper, top, getpid(), top,
			   (unsigned)B.uid, top, (unsigned)B.uid,
			   (int)sleeper, top, (unsigned)B.uid),
		     0);
	user_file(x, sizeof(x), &A, 0644);
	start_as(&a1, &A, NULL, envd, x,
		 STEPS("open:a:rw", "lock:a:w:set:0:1", "ready",
		       "lock:a:u:set:0:1", "ready"));
	ready(&a1, "A1");
	start_as(&a2, &A, NULL, envd, x,
		 STEPS("open:a:rw", "lock:a:w:set:0:1:wait", "ready"));
	cr_expect(blocked(&a2), "A2 never reached F_SETLKW (hangs in the "
		  "registry?):\n%s", a2.buf);
	tu_proc_continue(&a1);
	ready(&a1, "A1");
	cr_expect(tu_proc_ready(&a2, 2000) == 0,
		  "A2 did not get the lock after A1 let go:\n%s", a2.buf);
	cr_expect_str_eq(res(&a2, "lock:a:w:set:0:1:wait"), "0", "%s", a2.buf);
	tu_proc_continue(&a1);
	tu_proc_continue(&a2);
	tu_proc_finish(&a1, FINISH_MS);
	tu_proc_finish(&a2, FINISH_MS);

	/* root's viewer reads every user's directory */
	st = tu_run(0, tool, envd, out, sizeof(out));
	cr_expect_eq(st, 0, "root's lockspace-locks --waits: status %d "
		     "(137: killed after 10 s)\n%s", st, out);
	kill(sleeper, SIGKILL);
	unlink(x);
}

/* ---- 2. false EDEADLK ------------------------------------------------------- */

/*
 * A1 holds X, A2 holds Y, and A1 asks for Y: it waits until A2 lets go,
 * as in plain Linux. B knows from /proc/locks and /proc/A2/stat what an
 * entry of A2's would say, and writes one claiming that A2 waits for X:
 * wherever B can write (the shared parent, B's own directory) and tries
 * A's directory. A1 must neither believe it nor fail with EDEADLK.
 * with_link: instead, B keeps a hard link to A2's real entry of an
 * earlier wait for X and puts it back after A2's wait is over.
 */
static void forged_entry(int with_link)
{
	char x[64], y[64], di[64], ob[96], entry[256];
	const char *envd[] = {top_env, NULL};
	const char *w = "lock:b:w:set:0:1:wait";
	struct tu_proc a1, a2;
	unsigned a = (unsigned)A.uid, b = (unsigned)B.uid;

	user_file(x, sizeof(x), &A, 0644);
	user_file(y, sizeof(y), &A, 0644);
	dev_ino(x, di, sizeof(di));
	snprintf(ob, sizeof(ob), "open:b:rw:%s", y);
	start_as(&a1, &A, NULL, envd, x,
		 STEPS("open:a:rw", ob, "lock:a:w:set:0:1", "ready",
		       "lock:a:u:set:0:1", "ready", "lock:a:w:set:0:1",
		       "ready", w, "ready"));
	ready(&a1, "A1");
	if (with_link) {
		char obx[96];

		snprintf(obx, sizeof(obx), "open:b:rw:%s", x);
		start_as(&a2, &A, NULL, envd, y,
			 STEPS("open:a:rw", obx, "lock:a:w:set:0:1", "ready",
			       w, "lock:b:u:set:0:1", "ready",
			       "lock:a:u:set:0:1", "ready"));
		ready(&a2, "A2");
		tu_proc_continue(&a2);
		cr_assert(blocked(&a2), "%s", a2.buf);
		/* A2 waits for X: B links its entry, in either layout */
		sh_as(&B, NULL, 0, "ln %s/%d %s/keep; ln %s/%u/%d %s/keep",
		      top, (int)a2.pid, top, top, a, (int)a2.pid, top);
		tu_proc_continue(&a1); /* A1 lets go of X: A2 gets it */
		ready(&a1, "A1");
		ready(&a2, "A2");
		cr_assert_str_eq(res(&a2, w), "0", "%s", a2.buf);
		tu_proc_continue(&a1); /* A1 holds X again */
		ready(&a1, "A1");
		if (sh_as(&B, NULL, 0, "test -f %s/keep", top) != 0)
			cr_log_info("B could not link A2's entry");
		sh_as(&B, NULL, 0,
		      "ln %s/keep %s/%d; mkdir -m 700 %s/%u; ln %s/keep %s/%u/%d;"
		      " ln %s/keep %s/%u/%d",
		      top, top, (int)a2.pid, top, b, top, top, b, (int)a2.pid,
		      top, top, a, (int)a2.pid);
	} else {
		start_as(&a2, &A, NULL, envd, y,
			 STEPS("open:a:rw", "lock:a:w:set:0:1", "ready",
			       "lock:a:u:set:0:1", "ready"));
		ready(&a2, "A2");
		tu_proc_continue(&a1);
		ready(&a1, "A1");
		tu_proc_continue(&a1); /* A1 holds X */
		ready(&a1, "A1");
		snprintf(entry, sizeof(entry),
			 "lockspace-wait 1 %llu\n%d %d %s 0 0 W\n",
			 start_time(a2.pid), (int)a2.pid, (int)a2.pid, di);
		sh_as(&B, NULL, 0,
		      "e='%s'; printf \"$e\" > %s/%d; mkdir -m 700 %s/%u;"
		      " printf \"$e\" > %s/%u/%d; printf \"$e\" > %s/%u/%d",
		      entry, top, (int)a2.pid, top, b, top, b, (int)a2.pid,
		      top, a, (int)a2.pid);
	}
	/* A1 asks for Y, which A2 holds and does not wait with */
	tu_proc_continue(&a1);
	cr_expect(blocked(&a1), "A1 did not wait for Y:\n%s", a1.buf);
	cr_expect(tu_proc_ready(&a1, 300) < 0, "A1 did not wait:\n%s",
		  a1.buf);
	tu_proc_continue(&a2); /* A2 lets go of Y */
	ready(&a2, "A2");
	ready(&a1, "A1");
	cr_expect_str_eq(res(&a1, w), "0", "A1 believed B's entry:\n%s",
			 a1.buf);
	tu_proc_continue(&a1);
	tu_proc_continue(&a2);
	finish(&a1, "A1");
	finish(&a2, "A2");
	unlink(x);
	unlink(y);
}

Test(security, forged_wait_entry_is_no_edeadlk)
{
	forged_entry(0);
}

Test(security, relinked_old_entry_is_no_edeadlk)
{
	FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "r");
	int prot = 1;

	if (f) {
		if (fscanf(f, "%d", &prot) != 1)
			prot = 1;
		fclose(f);
	}
	if (prot)
		skip("fs.protected_hardlinks = 1: the kernel already "
			     "refuses B's link to A's file");
	forged_entry(1);
}

/* ---- 3. detection switched off ---------------------------------------------- */

/* B fills the shared parent (and its own directory) with entries named
 * like a process's, before and after A1 publishes its wait: readers once
 * looked at the first 64 names only. */
static void flood(struct cycle *c, pid_t a1)
{
	(void)c;
	(void)a1;
	cr_assert_eq(sh_as(&B, NULL, 0,
			   "mkdir -p -m 700 %s/%u; i=100000; while [ $i -lt "
			   "100200 ]; do echo x > %s/$i; echo x > %s/%u/$i; "
			   "i=$((i+1)); done",
			   top, (unsigned)B.uid, top, top, (unsigned)B.uid),
		     0);
}

static void flood2(struct cycle *c, pid_t a1, pid_t a2)
{
	(void)a2;
	cr_assert_eq(sh_as(&B, NULL, 0,
			   "i=200000; while [ $i -lt 200200 ]; do echo x > "
			   "%s/$i; i=$((i+1)); done",
			   top),
		     0);
	(void)c;
	(void)a1;
}

Test(security, flood_of_entries_hides_no_cycle)
{
	struct cycle c = {.before1 = flood, .before2 = flood2};

	cycle(&c);
}

/* B takes the name A1's entry would have (and its temporary's) first. */
static void plant_name(struct cycle *c, pid_t a1)
{
	(void)c;
	sh_as(&B, NULL, 0, "echo x > %s/%d; mkdir -m 700 %s/%u", top, (int)a1,
	      top, (unsigned)B.uid);
}

Test(security, entry_name_taken_first_hides_no_cycle)
{
	struct cycle c = {.before1 = plant_name};

	cycle(&c);
	cr_expect_eq(tmp_files(top, &A), 0, "A left temporary files in %s",
		     top);
}

/*
 * The built-in places, in a mount namespace of each program: /run/lockspace
 * is a directory of root's that no user may write (so A finds no place
 * there; before, the next were $XDG_RUNTIME_DIR/lockspace, then
 * /dev/shm/lockspace), and /dev/shm a fresh directory of the test's.
 */
static char ns_run[64], ns_shm[64], ns_script[512];

static const char *builtin_ns(const char *extra)
{
	struct stat st;

	if (access("/usr/bin/unshare", X_OK) != 0)
		skip("needs /usr/bin/unshare (util-linux)");
	if (stat("/run/lockspace", &st) < 0)
		cr_assert(mkdir("/run/lockspace", 01777) == 0 &&
			  chmod("/run/lockspace", 01777) == 0);
	snprintf(ns_run, sizeof(ns_run), "/tmp/lockspace-sec-run-XXXXXX");
	snprintf(ns_shm, sizeof(ns_shm), "/tmp/lockspace-sec-shm-XXXXXX");
	cr_assert(tu_mkdtemp(ns_run) && tu_mkdtemp(ns_shm));
	cr_assert(chmod(ns_run, 0755) == 0 && chmod(ns_shm, 01777) == 0);
	snprintf(ns_script, sizeof(ns_script),
		 "mount --bind %s /run/lockspace && %s"
		 "mount --bind %s /dev/shm && exec \"$@\"",
		 ns_run, extra ? extra : "", ns_shm);
	return ns_script;
}

static void builtin_ns_done(void)
{
	rm_rf(ns_run);
	rm_rf(ns_shm);
}

/* The same user with and without XDG_RUNTIME_DIR. */
Test(security, runtime_dir_splits_no_users_registry)
{
	char xdg[64], xdgv[96];
	const char *env1[] = {xdgv, NULL}, *env2[] = {NULL};
	struct cycle c = {.env1 = env1, .env2 = env2};

	c.ns = builtin_ns(NULL);
	user_dir(xdg, sizeof(xdg), &A);
	cr_assert(chmod(xdg, 0700) == 0);
	snprintf(xdgv, sizeof(xdgv), "XDG_RUNTIME_DIR=%s", xdg);
	cycle(&c);
	rm_rf(xdg);
	builtin_ns_done();
}

/* B's symbolic link at /dev/shm/lockspace, to a directory of B's. */
static void shm_link(struct cycle *c, pid_t a1)
{
	(void)c;
	(void)a1;
	cr_assert_eq(sh_as(&B, NULL, 0,
			   "mkdir -m 755 %s/b && ln -s %s/b %s/lockspace",
			   ns_shm, ns_shm, ns_shm),
		     0);
}

Test(security, link_at_dev_shm_lockspace_switches_off_nothing)
{
	const char *env[] = {NULL};
	struct cycle c = {.env1 = env, .env2 = env, .before1 = shm_link};

	c.ns = builtin_ns(NULL);
	cycle(&c);
	builtin_ns_done();
}

/* A full /run/lockspace: a tmpfs of its own in each program's namespace,
 * full of blocks or of inodes. The waits go to the next place, and each
 * program says once why it did not use the first. */
static void full_run(const char *fill)
{
	char logs[64], l1[128], l2[128], cmd[256], out[64];
	const char *env1[] = {l1, NULL}, *env2[] = {l2, NULL};
	struct cycle c = {.env1 = env1, .env2 = env2};

	c.ns = builtin_ns(fill);
	user_dir(logs, sizeof(logs), &A);
	snprintf(l1, sizeof(l1), "LOCKSPACE_PRELOAD_LOG=%s/a1.log", logs);
	snprintf(l2, sizeof(l2), "LOCKSPACE_PRELOAD_LOG=%s/a2.log", logs);
	/* A's before the shim in setpriv (root, the same environment)
	 * opens them */
	cr_assert_eq(sh_as(&A, NULL, 0, ": > %s/a1.log && : > %s/a2.log",
			   logs, logs),
		     0);
	cycle(&c);
	for (int i = 1; i <= 2; i++) {
		FILE *p;

		snprintf(cmd, sizeof(cmd),
			 "grep -c 'not using /run/lockspace/%u' %s/a%d.log",
			 (unsigned)A.uid, logs, i);
		p = popen(cmd, "r");
		cr_assert(p);
		if (!fgets(out, sizeof(out), p))
			out[0] = 0;
		pclose(p);
		if (atoi(out) != 1) {
			snprintf(cmd, sizeof(cmd), "cat %s/a%d.log", logs, i);
			cr_expect_fail("A%d's log does not name the full place "
				       "once (%s)", i, out);
			if (system(cmd) != 0)
				cr_log_warn("no log");
		}
	}
	cr_expect_eq(tmp_files(ns_shm, &A), 0, "temporary files left");
	rm_rf(logs);
	builtin_ns_done();
}

Test(security, full_run_without_blocks_switches_off_nothing)
{
	full_run("mount -t tmpfs -o size=64k,mode=1777 none /run/lockspace && "
		 "{ dd if=/dev/zero of=/run/lockspace/fill bs=4k "
		 "2>/dev/null; true; } && ");
}

Test(security, full_run_without_inodes_switches_off_nothing)
{
	full_run("mount -t tmpfs -o nr_inodes=16,mode=1777 none "
		 "/run/lockspace && { i=0; while touch /run/lockspace/f$i "
		 "2>/dev/null; do i=$((i+1)); done; } && ");
}

/* B makes the directory A's entries would go in, first: A says so and
 * uses the next place. */
static void squat(struct cycle *c, pid_t a1)
{
	(void)a1;
	cr_assert_eq(sh_as(&B, NULL, 0, "mkdir -m 777 %s/%u", c->arg,
			   (unsigned)A.uid),
		     0);
}

Test(security, users_directory_made_first_by_another_falls_back)
{
	char t2[64], env[160];
	const char *envs[] = {env, NULL};
	struct cycle c = {.env1 = envs, .env2 = envs, .before1 = squat,
			  .arg = top};

	snprintf(t2, sizeof(t2), "/dev/shm/lockspace-sec-XXXXXX");
	cr_assert(tu_mkdtemp(t2) && chmod(t2, 01777) == 0);
	snprintf(env, sizeof(env), "LOCKSPACE_WAIT_DIR=%s:%s", top, t2);
	cycle(&c);
	rm_rf(t2);
}

/* ---- 4. files changed where B chooses ----------------------------------------- */

/*
 * B's symbolic link at /dev/shm/lockspace, and at A's own directory there,
 * to a directory of A's with files named by numbers, one of them after
 * the pid of A's waiting process. A2 waits for A1 and gets the lock; A's
 * files stay as they were.
 */
Test(security, registry_link_changes_no_users_files)
{
	char home[64], x[64], path[128], buf[64];
	const char *env[] = {NULL};
	struct tu_proc a1, a2;
	const char *ns = builtin_ns(NULL);
	pid_t pids[3];
	int fd;
	ssize_t n;

	user_dir(home, sizeof(home), &A);
	user_file(x, sizeof(x), &A, 0644);
	start_as(&a1, &A, ns, env, x,
		 STEPS("open:a:rw", "lock:a:w:set:0:1", "ready",
		       "lock:a:u:set:0:1", "ready"));
	ready(&a1, "A1");
	start_as(&a2, &A, ns, env, x,
		 STEPS("open:a:rw", "ready", "lock:a:w:set:0:1:wait",
		       "ready"));
	ready(&a2, "A2");
	pids[0] = 1;
	pids[1] = a1.pid;
	pids[2] = a2.pid;
	cr_assert_eq(sh_as(&A, NULL, 0,
			   "for f in 1 %d %d; do echo precious > %s/$f; done",
			   (int)a1.pid, (int)a2.pid, home),
		     0);
	cr_assert_eq(sh_as(&B, NULL, 0,
			   "ln -s %s %s/lockspace && ln -s %s %s/lockspace-%u",
			   home, ns_shm, home, ns_shm, (unsigned)A.uid),
		     0);
	tu_proc_continue(&a2);
	cr_expect(blocked(&a2), "%s", a2.buf);
	tu_proc_continue(&a1);
	ready(&a1, "A1");
	ready(&a2, "A2");
	cr_expect_str_eq(res(&a2, "lock:a:w:set:0:1:wait"), "0", "%s",
			 a2.buf);
	tu_proc_continue(&a1);
	tu_proc_continue(&a2);
	finish(&a1, "A1");
	finish(&a2, "A2");
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%d", home, (int)pids[i]);
		fd = open(path, O_RDONLY);
		cr_expect(fd >= 0, "%s was removed", path);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		cr_expect_str_eq(buf, "precious\n", "%s was overwritten", path);
	}
	cr_expect_eq(tmp_files(home, &A), 0, "temporary files in %s", home);
	rm_rf(home);
	unlink(x);
	builtin_ns_done();
}

/* ---- 5. the environment through setuid ------------------------------------------ */

/*
 * A setuid-root wrapper (tests/progs/setuidwrap), run by A with the shim
 * preloaded as ld.so allows it there: a library without a slash in its
 * name, in a standard directory, set-user-ID. The copy of the shim is put
 * there only in the wrapper's mount namespace, bound over a library of
 * the system's that nothing here uses. The wrapper becomes root for good
 * and runs env(1) under the shim (as /etc/ld.so.preload would load it):
 * none of our variables may reach it, and its shim must not make the
 * log file that A named.
 */
Test(security, setuid_program_passes_no_lockspace_variables)
{
	static const char *vars[] = {
		"LOCKSPACE_PRELOAD_HANDOFF=LSH1 1 0",
		NULL, /* LOCKSPACE_PRELOAD_LOG=<dir>/chosen.log */
		"LOCKSPACE_PRELOAD_CONF=/etc/shadow",
		"LOCKSPACE_PRELOAD_MODE=observe",
		"LOCKSPACE_WAIT_DIR=/tmp",
	};
	char dir[64], wrap[128], lib[128], libc[4096], target[4200];
	char script[4600], logv[128], log[96], preload[4200];
	char cmd[8800];
	static char out[1 << 16];
	const char *argv[32];
	Dl_info info;
	int n, st;

	if (access("/usr/bin/unshare", X_OK) != 0)
		skip("needs /usr/bin/unshare (util-linux)");
	/* the standard directory: libc's own */
	cr_assert(dladdr((void *)printf, &info) && info.dli_fname);
	snprintf(libc, sizeof(libc), "%s", info.dli_fname);
	snprintf(target, sizeof(target), "%s/libBrokenLocale.so.1",
		 dirname(libc));
	if (access(target, F_OK) != 0)
		skip("no %s to bind the shim over", target);
	if (strchr(tu_preload(), ' '))
		skip("a sanitizer build: its runtime is no setuid "
			     "library");
	snprintf(dir, sizeof(dir), "/tmp/lockspace-sec-suid-XXXXXX");
	cr_assert(tu_mkdtemp(dir) && chmod(dir, 0755) == 0);
	snprintf(wrap, sizeof(wrap), "%s/setuidwrap", dir);
	snprintf(lib, sizeof(lib), "%s/lib.so", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && cp '%s' '%s'",
		 tu_prog("setuidwrap"), wrap, tu_preload(), lib);
	cr_assert_eq(system(cmd), 0);
	cr_assert(chmod(wrap, 04755) == 0 && chmod(lib, 04755) == 0);
	snprintf(script, sizeof(script),
		 "mount --bind %s %s && exec \"$@\"", lib, target);
	snprintf(log, sizeof(log), "%s/chosen.log", dir);
	snprintf(logv, sizeof(logv), "LOCKSPACE_PRELOAD_LOG=%s", log);
	vars[1] = logv;
	/* the helper runs under the shim, as with /etc/ld.so.preload */
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", tu_preload());
	n = as_user(argv, &A, script);
	argv[n++] = "/usr/bin/env";
	argv[n++] = "-i";
	argv[n++] = "LD_PRELOAD=libBrokenLocale.so.1";
	argv[n++] = "KEPT=1";
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		argv[n++] = vars[i];
	argv[n++] = wrap;
	argv[n++] = "/usr/bin/env";
	argv[n++] = preload;
	argv[n++] = "/usr/bin/env";
	argv[n] = NULL;
	st = tu_run(0, argv, NULL, out, sizeof(out));
	cr_assert_eq(st, 0, "status %d:\n%s", st, out);
	snprintf(cmd, sizeof(cmd), "uid=%u euid=0 fcntl=%s\n",
		 (unsigned)A.uid, target);
	if (strstr(out, "euid=0 fcntl=") && !strstr(out, cmd))
		skip("ld.so did not preload the set-user-ID copy:\n%s",
			     out);
	cr_assert(strstr(out, cmd), "not a secure execution with the shim:\n%s",
		  out);
	cr_expect(strstr(out, "\nKEPT=1\n"), "the environment did not pass:\n%s",
		  out);
	cr_expect(!strstr(out, "LOCKSPACE_"),
		  "the root helper got our variables:\n%s", out);
	cr_expect(access(log, F_OK) != 0, "the root helper's shim made the "
		  "log file the user named, %s", log);
	rm_rf(dir);
}

/* ---- F_GETLK across users ---------------------------------------------------------- */

/*
 * A holds a lock under the shim (an OFD lock, pid -1 to the kernel); B
 * asks F_GETLK. B cannot read A's /proc/PID/fdinfo, so the holder cannot
 * be found: -1, never some other pid. Without the shim on A's side, the
 * kernel names A's pid.
 */
Test(security, getlk_of_another_users_lock_names_no_other_pid)
{
	char x[64], want[64];
	const char *envd[] = {top_env, NULL};
	const char *g = "getlk:a:w:set:0:1";

	user_file(x, sizeof(x), &A, 0666);
	for (int shim_a = 0; shim_a <= 1; shim_a++) {
		struct tu_proc a, b;
		const char *argv[16];
		int n = as_user(argv, &A, NULL);

		argv[n++] = prog;
		argv[n++] = x;
		argv[n++] = "watchdog:10000";
		argv[n++] = "open:a:rw";
		argv[n++] = "lock:a:w:set:0:1";
		argv[n++] = "ready";
		argv[n] = NULL;
		cr_assert(tu_proc_start(&a, shim_a, argv, envd) == 0);
		ready(&a, "A");
		start_as(&b, &B, NULL, envd, x, STEPS("open:a:r", g, "ready"));
		ready(&b, "B");
		snprintf(want, sizeof(want), "0 type=w start=0 len=1 "
			 "pid=%d", shim_a ? -1 : (int)a.pid);
		cr_expect_str_eq(res(&b, g), want, "A %s the shim:\n%s",
				 shim_a ? "under" : "without", b.buf);
		tu_proc_continue(&a);
		tu_proc_continue(&b);
		finish(&a, "A");
		finish(&b, "B");
	}
	unlink(x);
}

/* ---- root sees other users' waits ------------------------------------------------ */

/*
 * A1 holds Y and waits for X, which root's process R holds; R asks for
 * Y: R may read A's directory and A1's fdinfo, so it sees the cycle, as
 * plain Linux would (A could not: R's fdinfo is root's).
 */
Test(security, root_sees_a_cycle_through_another_users_process)
{
	char x[64], y[64], ob1[96], ob2[96];
	const char *envd[] = {top_env, NULL};
	const char *w = "lock:b:w:set:0:1:wait";
	const char *argv[16];
	struct tu_proc a1, r;
	int n = 0;

	user_file(x, sizeof(x), &A, 0666);
	user_file(y, sizeof(y), &A, 0666);
	snprintf(ob1, sizeof(ob1), "open:b:rw:%s", x);
	snprintf(ob2, sizeof(ob2), "open:b:rw:%s", y);
	argv[n++] = prog;
	argv[n++] = x;
	argv[n++] = "watchdog:10000";
	argv[n++] = "open:a:rw";
	argv[n++] = ob2;
	argv[n++] = "lock:a:w:set:0:1";
	argv[n++] = "ready";
	argv[n++] = w;
	argv[n++] = "lock:a:u:set:0:1";
	argv[n++] = "ready";
	argv[n] = NULL;
	cr_assert(tu_proc_start(&r, 1, argv, envd) == 0);
	ready(&r, "R");
	start_as(&a1, &A, NULL, envd, y,
		 STEPS("open:a:rw", ob1, "lock:a:w:set:0:1", "ready", w,
		       "ready"));
	ready(&a1, "A1");
	tu_proc_continue(&a1);
	cr_expect(blocked(&a1), "%s", a1.buf);
	tu_proc_continue(&r);
	if (tu_proc_ready(&r, DEADLK_MS) < 0) {
		cr_expect_fail("root's process did not see the cycle:\n%s",
			       r.buf);
		tu_proc_finish(&r, 0);
		tu_proc_finish(&a1, 0);
	} else {
		cr_expect_str_eq(res(&r, w), "-1 EDEADLK", "%s", r.buf);
		ready(&a1, "A1");
		cr_expect_str_eq(res(&a1, w), "0", "%s", a1.buf);
		tu_proc_continue(&a1);
		tu_proc_continue(&r);
		finish(&a1, "A1");
		finish(&r, "R");
	}
	unlink(x);
	unlink(y);
}
