/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_deadlock.c: EDEADLK between shimmed processes (issue 11).
 *
 * Plain Linux fails one F_SETLKW of a lock-order cycle with EDEADLK. The
 * anchors are OFD locks, which the kernel never checks for deadlock; the
 * shim publishes each wait in a directory and follows the chain itself.
 * Each test runs lockprog processes (tests/progs/) that take locks in
 * opposite orders, once without the shim and once with it, with a fresh
 * wait directory (LOCKSPACE_WAIT_DIR) so that tests never see each
 * other's waits. A process is let into its blocking call only after the
 * one before it is seen blocked in /proc/locks, so which one closes the
 * cycle, and so which one fails, is known. Every program runs under a
 * watchdog step, every wait of the test has a timeout.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "util.h"

#define READY_MS 5000
#define FINISH_MS 5000
#define BLOCK_MS 3000
#define FILE_SIZE 100

/* How a run goes: without the shim, or with it in conflicts = process
 * or conflicts = fd; with backend = posix (issue 20: the kernel finds
 * the cycles of POSIX locks); or the members of the cycle alternating
 * between the anchor and posix backends (MIXED: the first member on an
 * anchor, MIXED_REV: the first under posix), where the registry must
 * follow a POSIX lock as it follows an anchor's. */
enum how { PLAIN, SHIM, SHIM_FD, POSIX, MIXED, MIXED_REV };

static const char *how_name(enum how h)
{
	static const char *const names[] = {
		"plain", "shim", "shim conflicts=fd", "shim backend=posix",
		"anchor, posix, ...", "posix, anchor, ..." };

	return names[h];
}

/* The backend of the i-th member of a cycle. */
static enum how member(enum how h, int i)
{
	if (h == MIXED)
		return i % 2 ? POSIX : SHIM;
	if (h == MIXED_REV)
		return i % 2 ? SHIM : POSIX;
	return h;
}

static char wait_dir[64];
static int pin_cpu = -1;	/* >= 0: run the programs on this CPU only */

static void make_wait_dir(void)
{
	snprintf(wait_dir, sizeof(wait_dir), "/tmp/lockspace-waits-XXXXXX");
	cr_assert(tu_mkdtemp(wait_dir), "mkdtemp: %s", strerror(errno));
}

static void remove_wait_dir(void)
{
	if (tu_rm_rf(wait_dir) < 0)
		cr_log_warn("could not remove %s", wait_dir);
}

/* Our user's directory in the wait directory (common/waitfile.h). */
static const char *user_dir(void)
{
	static char dir[96];

	snprintf(dir, sizeof(dir), "%s/%u", wait_dir, (unsigned)geteuid());
	return dir;
}

/* Entries in our user's directory, a writer's .tmp included: none may
 * stay behind. */
static int wait_entries(void)
{
	char cmd[160], buf[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' 2>/dev/null | wc -l",
		 user_dir());
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(buf, sizeof(buf), p))
			buf[0] = 0;
		pclose(p);
	}
	return atoi(buf);
}

static char *mkfile(char *path, size_t len)
{
	int fd = tu_tmpfile(path, len, FILE_SIZE);

	cr_assert(fd >= 0, "tmpfile: %s", strerror(errno));
	close(fd);
	return path;
}

/* Start lockprog PATH watchdog:5000 STEPS... */
static void start(struct tu_proc *p, enum how h, const char *path,
		  const char *const *steps)
{
	const char *argv[44], *env[4];
	static __thread char dirv[96];
	int n = 0, ne = 0;

	char cpu[16];

	if (pin_cpu >= 0) {
		snprintf(cpu, sizeof(cpu), "%d", pin_cpu);
		argv[n++] = "/usr/bin/taskset";
		argv[n++] = "-c";
		argv[n++] = cpu;
	}
	argv[n++] = tu_prog("lockprog");
	argv[n++] = path;
	argv[n++] = "watchdog:5000";
	for (int i = 0; steps[i] && n < 39; i++)
		argv[n++] = steps[i];
	argv[n] = NULL;
	snprintf(dirv, sizeof(dirv), "LOCKSPACE_WAIT_DIR=%s", wait_dir);
	env[ne++] = dirv;
	if (h == SHIM_FD)
		env[ne++] = "LOCKSPACE_PRELOAD_CONFLICTS=fd";
	env[ne] = NULL;
	cr_assert(tu_proc_start(p, h == PLAIN ? TU_PLAIN :
				   h == POSIX ? TU_POSIX : TU_SHIM,
				argv, env) == 0, "spawn");
}

static void ready(struct tu_proc *p, enum how h, const char *who)
{
	if (tu_proc_ready(p, READY_MS) < 0) {
		int st = tu_proc_finish(p, 0);

		cr_assert_fail("[%s] %s: no ready (status %d):\n%s",
			       how_name(h), who, st, p->buf);
	}
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Is pid a 32-bit (i386) process? Its /proc/PID/syscall names the
 * calls by their i386 numbers. */
static int is_32bit(pid_t pid)
{
	char path[64];
	unsigned char id[5] = {0};
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	f = fopen(path, "r");
	if (f) {
		if (fread(id, 1, sizeof(id), f) != sizeof(id))
			id[4] = 0;
		fclose(f);
	}
	return id[4] == 1; /* ELFCLASS32 */
}

/* Is pid's main thread in a blocking lock call (F_SETLKW, or the
 * shim's F_OFD_SETLKW on its anchor)? /proc/PID/syscall, not /proc/locks:
 * read in pieces that one skips lines while others lock. An i386
 * process calls fcntl64 (221 there) with F_SETLKW 7, or 14 (F_SETLKW64:
 * _FILE_OFFSET_BITS=64, and the shim's own). */
static int in_setlkw(pid_t pid)
{
	char path[64], buf[256];
	unsigned long long nr, fd, cmd;
	int r = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f) &&
	    sscanf(buf, "%llu %llx %llx", &nr, &fd, &cmd) == 3) {
		if (is_32bit(pid))
			r = nr == 221 &&
			    (cmd == 7 || cmd == 14 || cmd == F_OFD_SETLKW);
		else
			r = nr == SYS_fcntl &&
			    (cmd == F_SETLKW || cmd == F_OFD_SETLKW);
	}
	if (f)
		fclose(f);
	return r;
}

/* Wait until p is blocked in its lock call. */
static void blocked(const struct tu_proc *p, enum how h)
{
	long end = now_ms() + BLOCK_MS;

	while (!in_setlkw(p->pid)) {
		struct timespec ts = { 0, 1000 * 1000 };

		cr_assert(now_ms() < end, "[%s] pid %d never blocked:\n%s",
			  how_name(h), (int)p->pid, p->buf);
		nanosleep(&ts, NULL);
	}
}

static const char *res(const struct tu_proc *p, const char *step)
{
	const char *r = tu_proc_result(p, step);

	return r ? r : "(no output)";
}

/* p prints no "ready" for ms: it is still in its blocking call. */
static void still_waiting(struct tu_proc *p, enum how h, const char *step)
{
	cr_assert(tu_proc_ready(p, 200) < 0, "[%s] %s did not wait:\n%s",
		  how_name(h), step, p->buf);
}

static void finish(struct tu_proc *p, enum how h, const char *who)
{
	int st = tu_proc_finish(p, FINISH_MS);

	cr_expect_eq(st, 0, "[%s] %s exited with %d:\n%s", how_name(h), who,
		     st, p->buf);
}

/* ---- two processes ---------------------------------------------------- */

/*
 * A locks X then waits for Y; B locks Y, then (once A is blocked) waits
 * for X: B closes the cycle and gets EDEADLK, within a second; A gets Y
 * once B unlocks it. X and Y are two files, or bytes 0 and 1 of one.
 */
static void cycle2(enum how h, int one_file)
{
	char x[64], y[64], openb_a[96], openb_b[96];
	const char *lx = "lock:a:w:set:0:1", *ly, *wy, *wx;
	struct tu_proc a, b;
	long t0, ms;

	mkfile(x, sizeof(x));
	if (one_file)
		snprintf(y, sizeof(y), "%s", x);
	else
		mkfile(y, sizeof(y));
	make_wait_dir();
	snprintf(openb_a, sizeof(openb_a), "open:b:rw:%s", y);
	snprintf(openb_b, sizeof(openb_b), "open:b:rw:%s", x);
	ly = one_file ? "lock:a:w:set:1:1" : "lock:a:w:set:0:1";
	wy = one_file ? "lock:b:w:set:1:1:wait" : "lock:b:w:set:0:1:wait";
	wx = "lock:b:w:set:0:1:wait";

	start(&a, member(h, 0), x, STEPS("open:a:rw", openb_a, lx, "ready",
					 wy, "ready"));
	ready(&a, h, "A");
	start(&b, member(h, 1), y, STEPS("open:a:rw", openb_b, ly, "ready", wx,
			      one_file ? "lock:a:u:set:1:1"
				       : "lock:a:u:set:0:1",
			      "ready"));
	ready(&b, h, "B");
	tu_proc_continue(&a);
	blocked(&a, h);
	t0 = now_ms();
	tu_proc_continue(&b);
	ready(&b, h, "B");
	ms = now_ms() - t0;
	cr_expect_str_eq(res(&b, wx), "-1 EDEADLK", "[%s] B:\n%s",
			 how_name(h), b.buf);
	cr_expect_lt(ms, 1000, "[%s] EDEADLK after %ld ms", how_name(h), ms);
	ready(&a, h, "A");
	cr_expect_str_eq(res(&a, wy), "0", "[%s] A:\n%s", how_name(h), a.buf);
	tu_proc_continue(&a);
	tu_proc_continue(&b);
	finish(&a, h, "A");
	finish(&b, h, "B");
	cr_expect_eq(wait_entries(), 0, "[%s] wait entries left",
		     how_name(h));
	cr_log_info("[%s] two-process cycle%s: EDEADLK after %ld ms",
		    how_name(h), one_file ? " (two bytes)" : "", ms);
	unlink(x);
	if (!one_file)
		unlink(y);
	remove_wait_dir();
}

Test(deadlock, two_processes_two_files_plain, .timeout = 20)
{
	cycle2(PLAIN, 0);
}

Test(deadlock, two_processes_two_files_shim, .timeout = 20)
{
	cycle2(SHIM, 0);
}

Test(deadlock, two_processes_two_bytes_plain, .timeout = 20)
{
	cycle2(PLAIN, 1);
}

Test(deadlock, two_processes_two_bytes_shim, .timeout = 20)
{
	cycle2(SHIM, 1);
}

Test(deadlock, two_processes_two_files_conflicts_fd, .timeout = 20)
{
	cycle2(SHIM_FD, 0);
}

Test(deadlock, two_processes_two_files_posix, .timeout = 20)
{
	cycle2(POSIX, 0);
}

Test(deadlock, two_processes_two_bytes_posix, .timeout = 20)
{
	cycle2(POSIX, 1);
}

/* A cycle through an anchor and a POSIX lock: the registry follows a
 * waiting process's POSIX locks in its fdinfo as it follows its
 * anchors', and the kernel knows of no cycle. */
Test(deadlock, two_processes_anchor_then_posix, .timeout = 20)
{
	cycle2(MIXED, 0);
}

Test(deadlock, two_processes_posix_then_anchor, .timeout = 20)
{
	cycle2(MIXED_REV, 0);
}

Test(deadlock, two_processes_two_bytes_conflicts_fd, .timeout = 20)
{
	cycle2(SHIM_FD, 1);
}

/*
 * The same with a thousand other locks on the machine, taken on CPU 0,
 * and the cycle's own on the last CPU: /proc/locks lists each CPU's
 * locks in turn, so the cycle's come after 30 KiB of others' (other
 * test suites running at the same time do this too).
 */
Test(deadlock, two_processes_with_many_other_locks_shim, .timeout = 20)
{
	char dir[] = "/tmp/lockspace-many-XXXXXX", step[96], cmd[64];
	const char *argv[] = { "/usr/bin/taskset", "-c", "0",
			       tu_prog("lockprog"), dir, "watchdog:15000",
			       step, "ready", NULL };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct tu_proc many;

	if (ncpu < 2 || access("/usr/bin/taskset", X_OK) < 0)
		cr_skip_test("needs two CPUs and taskset");
	cr_assert(tu_mkdtemp(dir));
	snprintf(step, sizeof(step), "many:%s:1000", dir);
	cr_assert(tu_proc_start(&many, 0, argv, NULL) == 0);
	ready(&many, PLAIN, "many");
	cr_assert_str_eq(tu_proc_result(&many, step), "1000", "%s", many.buf);
	pin_cpu = (int)ncpu - 1;
	cycle2(SHIM, 0);
	pin_cpu = -1;
	tu_proc_continue(&many);
	finish(&many, PLAIN, "many");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect(system(cmd) == 0);
}

/*
 * Both close the cycle at the same moment: at least one gets EDEADLK
 * (both publish before they look), the other its lock, never a hang.
 * Plain POSIX fails exactly one; the shim may fail both (each sees the
 * other's entry): counted and printed, not failed.
 */
static int both_at_once(enum how h, int rounds)
{
	const char *w = "lock:b:w:set:0:1:wait";
	int both = 0;

	make_wait_dir();
	for (int r = 0; r < rounds; r++) {
		char x[64], y[64], ox[96], oy[96];
		struct tu_proc a, b;
		int fa, fb;

		mkfile(x, sizeof(x));
		mkfile(y, sizeof(y));
		snprintf(ox, sizeof(ox), "open:b:rw:%s", x);
		snprintf(oy, sizeof(oy), "open:b:rw:%s", y);
		start(&a, h, x, STEPS("open:a:rw", oy, "lock:a:w:set:0:1",
				      "ready", w, "lock:a:u:set:0:1",
				      "ready"));
		start(&b, h, y, STEPS("open:a:rw", ox, "lock:a:w:set:0:1",
				      "ready", w, "lock:a:u:set:0:1",
				      "ready"));
		ready(&a, h, "A");
		ready(&b, h, "B");
		tu_proc_continue(&a);
		tu_proc_continue(&b);
		ready(&a, h, "A");
		ready(&b, h, "B");
		fa = !strcmp(res(&a, w), "-1 EDEADLK");
		fb = !strcmp(res(&b, w), "-1 EDEADLK");
		cr_expect(fa || fb, "[%s] no EDEADLK:\n%s\n%s", how_name(h),
			  a.buf, b.buf);
		cr_expect(fa || !strcmp(res(&a, w), "0"), "%s", a.buf);
		cr_expect(fb || !strcmp(res(&b, w), "0"), "%s", b.buf);
		if (h == PLAIN)
			cr_expect(!(fa && fb), "plain: two EDEADLK");
		both += fa && fb;
		tu_proc_continue(&a);
		tu_proc_continue(&b);
		finish(&a, h, "A");
		finish(&b, h, "B");
		unlink(x);
		unlink(y);
	}
	cr_expect_eq(wait_entries(), 0, "[%s] wait entries left",
		     how_name(h));
	remove_wait_dir();
	return both;
}

Test(deadlock, both_close_the_cycle_at_once_plain, .timeout = 30)
{
	both_at_once(PLAIN, 10);
}

Test(deadlock, both_close_the_cycle_at_once_shim, .timeout = 30)
{
	int both = both_at_once(SHIM, 10);

	tu_note("cycle closed by both at once: both failed with "
		"EDEADLK in %d of 10 rounds (plain: never)\n", both);
}

/* ---- three processes ------------------------------------------------- */

/* A holds X waits Y, B holds Y waits Z, C holds Z waits X: C fails;
 * C unlocks Z, B gets it and unlocks Y, A gets Y. */
static void cycle3(enum how h)
{
	char f[3][64], next[3][96];
	struct tu_proc p[3];
	const char *w = "lock:b:w:set:0:0:wait";
	long t0, ms;

	for (int i = 0; i < 3; i++)
		mkfile(f[i], sizeof(f[i]));
	for (int i = 0; i < 3; i++)
		snprintf(next[i], sizeof(next[i]), "open:b:rw:%s",
			 f[(i + 1) % 3]);
	make_wait_dir();
	for (int i = 0; i < 3; i++) {
		start(&p[i], member(h, i), f[i], STEPS("open:a:rw", next[i],
					    "lock:a:w:set:0:0", "ready", w,
					    "lock:a:u:set:0:0", "ready"));
		ready(&p[i], h, "holder");
	}
	tu_proc_continue(&p[0]);
	blocked(&p[0], h);
	tu_proc_continue(&p[1]);
	blocked(&p[1], h);
	t0 = now_ms();
	tu_proc_continue(&p[2]);
	ready(&p[2], h, "C");
	ms = now_ms() - t0;
	cr_expect_str_eq(res(&p[2], w), "-1 EDEADLK", "[%s] C:\n%s",
			 how_name(h), p[2].buf);
	cr_expect_lt(ms, 1000, "[%s] EDEADLK after %ld ms", how_name(h), ms);
	ready(&p[1], h, "B");
	ready(&p[0], h, "A");
	cr_expect_str_eq(res(&p[1], w), "0", "[%s] B:\n%s", how_name(h),
			 p[1].buf);
	cr_expect_str_eq(res(&p[0], w), "0", "[%s] A:\n%s", how_name(h),
			 p[0].buf);
	for (int i = 0; i < 3; i++) {
		tu_proc_continue(&p[i]);
		finish(&p[i], h, "member");
		unlink(f[i]);
	}
	cr_log_info("[%s] three-process cycle: EDEADLK after %ld ms",
		    how_name(h), ms);
	remove_wait_dir();
}

Test(deadlock, three_process_cycle_plain, .timeout = 20)
{
	cycle3(PLAIN);
}

Test(deadlock, three_process_cycle_shim, .timeout = 20)
{
	cycle3(SHIM);
}

Test(deadlock, three_process_cycle_conflicts_fd, .timeout = 20)
{
	cycle3(SHIM_FD);
}

Test(deadlock, three_process_cycle_posix, .timeout = 20)
{
	cycle3(POSIX);
}

Test(deadlock, three_process_cycle_anchor_posix_anchor, .timeout = 20)
{
	cycle3(MIXED);
}

Test(deadlock, three_process_cycle_posix_anchor_posix, .timeout = 20)
{
	cycle3(MIXED_REV);
}

/* ---- no false EDEADLK ------------------------------------------------- */

/*
 * A holds X and waits for Y, held by B; B waits for Z, held by C, who
 * waits for nothing. No cycle: A waits (no EDEADLK); when C lets go of
 * Z, B gets it and lets go of Y, and A gets Y. With same_file_bytes, Z
 * is bytes 10-19 of X itself and B asks a read lock over 5-14 of X while
 * A holds a read lock over 0-9: B waits for C's write lock, not for A's
 * read lock (read locks do not conflict), so still no cycle.
 */
static void no_cycle(enum how h, int same_file_bytes)
{
	char x[64], y[64], z[64], openy[96], openz[96];
	const char *bwait, *alock, *clock;
	struct tu_proc a, b, c;
	const char *aw = "lock:b:w:set:0:0:wait";

	mkfile(x, sizeof(x));
	mkfile(y, sizeof(y));
	if (same_file_bytes)
		snprintf(z, sizeof(z), "%s", x);
	else
		mkfile(z, sizeof(z));
	make_wait_dir();
	snprintf(openy, sizeof(openy), "open:b:rw:%s", y);
	snprintf(openz, sizeof(openz), "open:b:rw:%s", z);
	alock = same_file_bytes ? "lock:a:r:set:0:10" : "lock:a:w:set:0:0";
	clock = same_file_bytes ? "lock:a:w:set:10:10" : "lock:a:w:set:0:0";
	bwait = same_file_bytes ? "lock:b:r:set:5:10:wait"
				: "lock:b:w:set:0:0:wait";

	start(&a, h, x, STEPS("open:a:rw", openy, alock, "ready", aw,
			      "ready"));
	ready(&a, h, "A");
	start(&c, h, z, STEPS("open:a:rw", clock, "ready",
			      same_file_bytes ? "lock:a:u:set:10:10"
					      : "lock:a:u:set:0:0",
			      "ready"));
	ready(&c, h, "C");
	start(&b, h, y, STEPS("open:a:rw", openz, "lock:a:w:set:0:0",
			      "ready", bwait, "lock:a:u:set:0:0", "ready"));
	ready(&b, h, "B");
	tu_proc_continue(&b);
	blocked(&b, h);
	tu_proc_continue(&a);
	blocked(&a, h);
	/* A stays blocked: no EDEADLK. */
	still_waiting(&a, h, aw);
	tu_proc_continue(&c);
	ready(&c, h, "C");
	ready(&b, h, "B");
	ready(&a, h, "A");
	cr_expect_str_eq(res(&b, bwait), "0", "[%s] B:\n%s", how_name(h),
			 b.buf);
	cr_expect_str_eq(res(&a, aw), "0", "[%s] A:\n%s", how_name(h), a.buf);
	tu_proc_continue(&a);
	tu_proc_continue(&b);
	tu_proc_continue(&c);
	finish(&a, h, "A");
	finish(&b, h, "B");
	finish(&c, h, "C");
	unlink(x);
	unlink(y);
	if (!same_file_bytes)
		unlink(z);
	remove_wait_dir();
}

Test(deadlock, holder_waiting_elsewhere_is_no_cycle_plain, .timeout = 20)
{
	no_cycle(PLAIN, 0);
}

Test(deadlock, holder_waiting_elsewhere_is_no_cycle_shim, .timeout = 20)
{
	no_cycle(SHIM, 0);
}

Test(deadlock, holder_waiting_elsewhere_is_no_cycle_conflicts_fd,
     .timeout = 20)
{
	no_cycle(SHIM_FD, 0);
}

Test(deadlock, holder_waiting_on_other_bytes_is_no_cycle_plain,
     .timeout = 20)
{
	no_cycle(PLAIN, 1);
}

Test(deadlock, holder_waiting_on_other_bytes_is_no_cycle_shim,
     .timeout = 20)
{
	no_cycle(SHIM, 1);
}

/* ---- stale wait entries ----------------------------------------------- */

/* Write entry text as the wait entry of pid, atomically. */
static void write_entry(pid_t pid, const char *text)
{
	char path[128], tmp[140];
	FILE *f;

	cr_assert(mkdir(user_dir(), 0700) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/%d", user_dir(), (int)pid);
	snprintf(tmp, sizeof(tmp), "%s.x", path);
	f = fopen(tmp, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	cr_assert(rename(tmp, path) == 0);
}

/*
 * A (shimmed) holds X and asks for Y, which H (a plain process, a
 * tu_hold() child) holds. H's pid has a wait entry claiming H waits for
 * X: with H's real start time that is a cycle (the control: EDEADLK);
 * with another start time the entry is stale (a dead process whose pid
 * H now has) and A waits, then gets Y when H lets go.
 */
static void entry_claim(unsigned long long (*when)(pid_t), int want_cycle)
{
	char x[64], y[64], openy[96], entry[256];
	const char *aw = "lock:b:w:set:0:0:wait";
	struct tu_proc a;
	struct stat st;
	int release;
	pid_t hpid;

	mkfile(x, sizeof(x));
	mkfile(y, sizeof(y));
	make_wait_dir();
	cr_assert(stat(x, &st) == 0);
	hpid = tu_hold(y, F_WRLCK, 0, 0, &release);
	cr_assert(hpid > 0);
	snprintf(entry, sizeof(entry),
		 "lockspace-wait 1 %llu\n%d %d %u:%u:%lu 0 -1 W\n",
		 when(hpid), (int)hpid, (int)hpid, major(st.st_dev),
		 minor(st.st_dev), (unsigned long)st.st_ino);
	write_entry(hpid, entry);
	snprintf(openy, sizeof(openy), "open:b:rw:%s", y);
	start(&a, SHIM, x, STEPS("open:a:rw", openy, "lock:a:w:set:0:0",
				 "ready", aw, "ready"));
	ready(&a, SHIM, "A");
	tu_proc_continue(&a);
	if (want_cycle) {
		ready(&a, SHIM, "A");
		cr_expect_str_eq(res(&a, aw), "-1 EDEADLK",
				 "a live entry is a cycle:\n%s", a.buf);
	} else {
		blocked(&a, SHIM);
		still_waiting(&a, SHIM, aw);
		tu_unhold(hpid, release);
		hpid = 0;
		ready(&a, SHIM, "A");
		cr_expect_str_eq(res(&a, aw), "0", "%s", a.buf);
	}
	tu_proc_continue(&a);
	finish(&a, SHIM, "A");
	if (hpid)
		tu_unhold(hpid, release);
	unlink(x);
	unlink(y);
	remove_wait_dir();
}

static unsigned long long real_start(pid_t pid)
{
	return pf_start_time(pid);
}

static unsigned long long wrong_start(pid_t pid)
{
	return pf_start_time(pid) - 1;
}

Test(deadlock, live_wait_entry_of_holder_is_a_cycle, .timeout = 20)
{
	entry_claim(real_start, 1);
}

Test(deadlock, entry_with_wrong_start_time_is_stale, .timeout = 20)
{
	entry_claim(wrong_start, 0);
}

/*
 * A waiter killed while it waits leaves its entry behind. Its pid is
 * dead: the entry is stale. Here the dead process's entry is handed to
 * the pid of a live holder H (as if H had been given the pid again):
 * A, holding what the dead waiter waited for, asks for H's lock and
 * waits, no EDEADLK.
 */
Test(deadlock, killed_waiters_entry_is_stale, .timeout = 20)
{
	char x[64], y[64], openy[96], kpath[128], text[512], fixed[600];
	const char *aw = "lock:b:w:set:0:0:wait";
	struct tu_proc a, k;
	int release, fd;
	ssize_t n;
	pid_t hpid, kpid;
	char *nl;

	mkfile(x, sizeof(x));
	mkfile(y, sizeof(y));
	make_wait_dir();
	snprintf(openy, sizeof(openy), "open:b:rw:%s", y);
	start(&a, SHIM, x, STEPS("open:a:rw", openy, "lock:a:w:set:0:0",
				 "ready", aw, "ready"));
	ready(&a, SHIM, "A");
	/* K waits for X, and is killed. */
	start(&k, SHIM, x, STEPS("open:a:rw", "lock:a:w:set:0:0:wait"));
	blocked(&k, SHIM);
	kpid = k.pid;
	kill(kpid, SIGKILL);
	tu_proc_finish(&k, FINISH_MS);
	snprintf(kpath, sizeof(kpath), "%s/%d", user_dir(), (int)kpid);
	fd = open(kpath, O_RDONLY);
	cr_assert(fd >= 0, "the killed waiter left no entry (%s)", kpath);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	cr_assert(n > 0);
	text[n] = 0;
	cr_assert(strstr(text, "lockspace-wait 1 "), "%s", text);
	/* The same entry (K's start time), K's pid replaced by H's. H must
	 * not have started in the same clock tick as K, or the entry would
	 * be H's own (a cycle). */
	for (int tries = 0;; tries++) {
		unsigned long long kst = strtoull(text + 17, NULL, 10);
		struct timespec ts = {0, 20 * 1000 * 1000};

		hpid = tu_hold(y, F_WRLCK, 0, 0, &release);
		cr_assert(hpid > 0);
		if (pf_start_time(hpid) != kst || tries == 10)
			break;
		tu_unhold(hpid, release);
		nanosleep(&ts, NULL);
	}
	nl = strchr(text, '\n');
	cr_assert(nl);
	*nl = 0;
	{
		char *rest = strchr(nl + 1, ' ');

		cr_assert(rest);
		rest = strchr(rest + 1, ' ');
		cr_assert(rest);
		snprintf(fixed, sizeof(fixed), "%s\n%d %d%s", text, (int)hpid,
			 (int)hpid, rest);
	}
	write_entry(hpid, fixed);
	unlink(kpath);
	tu_proc_continue(&a);
	blocked(&a, SHIM);
	still_waiting(&a, SHIM, aw);
	tu_unhold(hpid, release);
	ready(&a, SHIM, "A");
	cr_expect_str_eq(res(&a, aw), "0", "%s", a.buf);
	tu_proc_continue(&a);
	finish(&a, SHIM, "A");
	unlink(x);
	unlink(y);
	remove_wait_dir();
}

/*
 * The entry of a waiter killed with SIGKILL (and the temporary file of
 * one killed while it wrote) is removed by the next process whose wait
 * finds them dead: here W, which waits for H's lock.
 */
Test(deadlock, killed_waiters_entry_is_removed_by_the_next_waiter,
     .timeout = 20)
{
	char x[64], kpath[128], ktmp[140];
	struct tu_proc k, w;
	struct stat st;
	int release, fd;
	pid_t hpid, kpid;
	long end;

	mkfile(x, sizeof(x));
	make_wait_dir();
	hpid = tu_hold(x, F_WRLCK, 0, 0, &release);
	cr_assert(hpid > 0);
	start(&k, SHIM, x, STEPS("open:a:rw", "lock:a:w:set:0:0:wait"));
	blocked(&k, SHIM);
	kpid = k.pid;
	snprintf(kpath, sizeof(kpath), "%s/%d", user_dir(), (int)kpid);
	if (stat(kpath, &st) < 0) /* (the layout before per-user directories) */
		snprintf(kpath, sizeof(kpath), "%s/%d", wait_dir, (int)kpid);
	cr_assert(stat(kpath, &st) == 0, "K published no entry (%s)", kpath);
	kill(kpid, SIGKILL);
	tu_proc_finish(&k, FINISH_MS);
	snprintf(ktmp, sizeof(ktmp), "%s.tmp", kpath);
	fd = open(ktmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0);
	close(fd);
	cr_assert(stat(kpath, &st) == 0, "the kernel removed nothing");
	start(&w, SHIM, x, STEPS("open:a:rw", "lock:a:w:set:0:0:wait",
				 "ready"));
	blocked(&w, SHIM);
	end = now_ms() + 1000;
	while ((stat(kpath, &st) == 0 || stat(ktmp, &st) == 0) &&
	       now_ms() < end) {
		struct timespec ts = {0, 5 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	cr_expect(stat(kpath, &st) < 0, "the dead waiter's entry stayed");
	cr_expect(stat(ktmp, &st) < 0, "the dead writer's .tmp stayed");
	tu_unhold(hpid, release);
	ready(&w, SHIM, "W");
	cr_expect_str_eq(res(&w, "lock:a:w:set:0:0:wait"), "0", "%s", w.buf);
	tu_proc_continue(&w);
	finish(&w, SHIM, "W");
	cr_expect_eq(wait_entries(), 0, "wait entries left");
	unlink(x);
	remove_wait_dir();
}

/* ---- conflicts = fd inside one process ---------------------------------- */

/* Two descriptions of one file in one thread: b asks for what a holds.
 * Plain POSIX: granted (a process never conflicts with itself). Under
 * conflicts = fd the thread would wait for itself: EDEADLK, at once. */
Test(deadlock, conflicts_fd_wait_for_own_other_description, .timeout = 20)
{
	const char *w = "lock:b:w:set:0:1:wait";
	char x[64];

	mkfile(x, sizeof(x));
	make_wait_dir();
	for (enum how h = PLAIN; h <= SHIM_FD; h++) {
		struct tu_proc p;

		start(&p, h, x, STEPS("open:a:rw", "open:b:rw",
				      "lock:a:w:set:0:1", w, "ready"));
		ready(&p, h, "P");
		cr_expect_str_eq(res(&p, w), h == SHIM_FD ? "-1 EDEADLK" : "0",
				 "[%s]\n%s", how_name(h), p.buf);
		tu_proc_continue(&p);
		finish(&p, h, "P");
	}
	unlink(x);
	remove_wait_dir();
}

/* ---- what a blocking F_SETLKW costs ----------------------------------- */

static void bench(enum how h, const char *dir, long delay_us, char *out,
		  size_t len)
{
	char rounds[] = "200", delay[32], dirv[96], f[64];
	const char *argv[] = { tu_prog("blockbench"), mkfile(f, sizeof(f)),
			       rounds, delay, NULL };
	/* Without a registry the shim says so once, at level notice. */
	const char *env[] = { dirv, "LOCKSPACE_PRELOAD_LOG_LEVEL=warning",
			      NULL };
	int st;

	snprintf(delay, sizeof(delay), "%ld", delay_us);
	snprintf(dirv, sizeof(dirv), "LOCKSPACE_WAIT_DIR=%s", dir);
	st = tu_run(h != PLAIN, argv, env, out, len);
	cr_expect_eq(st, 0, "blockbench exited with %d", st);
	out[strcspn(out, "\n")] = 0;
	unlink(f);
}

/* The holder unlocks at once, or 1 ms after the waiter called: plain,
 * under the shim with the cycle check, and under the shim with no wait
 * directory (no check). Printed with --verbose; the bound is loose. */
Test(deadlock, cost_of_a_blocking_setlkw, .timeout = 60)
{
	static const long delays[] = { 0, 1000 };
	char out[3][256];

	make_wait_dir();
	for (size_t i = 0; i < 2; i++) {
		bench(PLAIN, wait_dir, delays[i], out[0], sizeof(out[0]));
		bench(SHIM, wait_dir, delays[i], out[1], sizeof(out[1]));
		bench(SHIM, "/proc/no-such-dir", delays[i], out[2],
		      sizeof(out[2]));
		cr_log_info("holder lets go after %ld us: plain %s | shim %s "
			    "| shim without check %s", delays[i], out[0],
			    out[1], out[2]);
		tu_note("blocking F_SETLKW, holder lets go after "
			"%ld us:\n  plain:              %s\n  shim:"
			"               %s\n  shim, no check:     %s\n",
			delays[i], out[0], out[1], out[2]);
		for (int k = 0; k < 3; k++)
			cr_expect(strstr(out[k], "call_us="), "%s", out[k]);
		cr_expect_lt(atof(strstr(out[1], "grant_us=") ?
				  strstr(out[1], "grant_us=") + 9 : "1e9"),
			     20000.0, "release to grant: %s", out[1]);
	}
	cr_expect_eq(wait_entries(), 0, "wait entries left");
	remove_wait_dir();
}
