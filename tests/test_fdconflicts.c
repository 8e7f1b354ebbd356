/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_fdconflicts.c: conflicts = fd, the seed's "busy" between
 * holders of one process (issue 4, part 2).
 *
 * lockprog runs with LOCKSPACE_PRELOAD_CONFLICTS=fd, without and with the
 * shim. Plain POSIX: a process never conflicts with itself, so every
 * request of another thread through another descriptor is granted. With
 * the shim, a holder (open file description) conflicts with the other
 * holders of the process as if they were other processes; dups share a
 * holder; the kernel still decides between processes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define FILE_SIZE 1000

/* No wait of these tests is longer than a second: a hang is a failure. */
#define WATCHDOG "watchdog:5000"

static const char *const fd_env[] = { "LOCKSPACE_PRELOAD_CONFLICTS=fd",
				      NULL };
/* The runs of lockprog (tests/util.c: plain, anchor, posix), with this
 * suite's environment. */
static void script(const char *path, const char *const *steps,
		   const struct tu_expect *ex, int nex, tu_ready_fn fn,
		   void *arg)
{
	tu_script_all(path, fd_env, steps, ex, nex, fn, arg);
}

/* ---- F_SETLK: busy ------------------------------------------------------- */

/* DESIGN.md, "The problem": thread A locks through fd1, thread B opens
 * fd2 and asks for the same range: plain grants it, the shim says EAGAIN.
 * Ranges that do not overlap, and read locks on both sides, are granted. */
Test(fdconflicts, other_thread_other_fd_setlk_is_eagain, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("t:open:a:rw", "t:lock:a:w:set:0:100", "t:open:b:rw",
		     "t:lock:b:w:set:0:0", "t:lock:b:w:set:500:10",
		     "t:lock:b:r:set:50:10", "ready", "t:lock:a:u:set:0:0",
		     "t:lock:a:r:set:0:100", "t:lock:b:r:set:0:100",
		     "t:lock:b:w:set:0:100", "ready"),
	       EXPECT({ 0, 0, 100, W, W }, { 0, 500, 10, W, W },
		      { 1, 0, 100, W, R }), NULL, NULL);
	tu_expect_res2("lock:b:w:set:0:0", "0", "-1 EAGAIN");
	tu_expect_res("lock:b:w:set:500:10", "0");
	tu_expect_res2("lock:b:r:set:50:10", "0", "-1 EAGAIN");
	tu_expect_res("lock:b:r:set:0:100", "0");
	/* a write lock over a range another holder reads */
	tu_expect_res2("lock:b:w:set:0:100", "0", "-1 EAGAIN");
	unlink(path);
}

/* lockf(F_TLOCK) goes through glibc's internal fcntl: EAGAIN or EACCES. */
Test(fdconflicts, lockf_tlock_is_busy, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);
	const char *r;

	script(path,
	       STEPS("open:a:rw", "t:lock:a:w:set:0:0", "open:b:rw",
		     "lockf:b:tlock:0"),
	       NO_EXPECT, NULL, NULL);
	cr_expect_str_eq(tu_res(0, "lockf:b:tlock:0"), "0");
	r = tu_res(1, "lockf:b:tlock:0");
	cr_expect(!strcmp(r, "-1 EAGAIN") || !strcmp(r, "-1 EACCES"),
		  "[shim] lockf(F_TLOCK): %s", r);
	unlink(path);
}

/* lockf(F_TEST) agrees with F_TLOCK: glibc says "free" for a lock of the
 * caller's own process, which under conflicts = fd another holder of the
 * process is not. */
Test(fdconflicts, lockf_test_says_busy_as_tlock_does, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS("open:a:rw", "t:lock:a:w:set:0:0", "open:b:rw",
		     "lockf:b:test:0"),
	       NO_EXPECT, NULL, NULL);
	tu_expect_res2("lockf:b:test:0", "0", "-1 EACCES");
	unlink(path);
}

/* Descriptors of one open file description are one holder. */
Test(fdconflicts, dups_never_conflict, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS(WATCHDOG, "open:a:rw", "lock:a:w:set:0:0", "dup:c:a",
		     "t:lock:c:w:set:0:0", "dupfd:d:a",
		     "t:lock:d:r:set:0:10:wait", "dupfd:e:a:cloexec",
		     "t:lock:e:w:set:0:0:wait", "open:b:rw",
		     "t:lock:b:w:set:0:0", "ready", "close:a", "close:c",
		     "close:d", "ready", "close:e", "ready"),
	       EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, W }, { 2, 0, 0, U, U }),
	       NULL, NULL);
	tu_expect_res("lock:c:w:set:0:0", "0");
	tu_expect_res("lock:d:r:set:0:10:wait", "0");
	tu_expect_res("lock:e:w:set:0:0:wait", "0");
	tu_expect_res2("lock:b:w:set:0:0", "0", "-1 EAGAIN");
	unlink(path);
}

/* ---- F_GETLK: the other holder is reported with our pid ----------------- */

Test(fdconflicts, getlk_reports_other_holder_with_own_pid, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE), want[96];
	const char *pid;

	script(path,
	       STEPS("open:a:rw", "t:lock:a:w:set:10:20", "open:b:rw",
		     "pid", "getlk:b:w:set:0:0", "getlk:b:r:set:40:10",
		     "getlk:a:w:set:0:0"),
	       NO_EXPECT, NULL, NULL);
	cr_expect_str_eq(tu_res(0, "getlk:b:w:set:0:0"),
			 "0 type=u start=0 len=0 pid=0");
	for (int shim = TU_SHIM; shim < TU_RUNS; shim++) {
		pid = tu_res(shim, "pid");
		snprintf(want, sizeof(want),
			 "0 type=w start=10 len=20 pid=%s", pid);
		cr_expect_str_eq(tu_res(shim, "getlk:b:w:set:0:0"), want,
				 "[%s]", how(shim));
	}
	tu_expect_res("getlk:b:r:set:40:10", "0 type=u start=40 len=10 pid=0");
	/* never the holder's own lock */
	tu_expect_res("getlk:a:w:set:0:0", "0 type=u start=0 len=0 pid=0");
	unlink(path);
}

/* ---- F_SETLKW: waiting for another thread -------------------------------
 * Thread B (a "bg" thread) waits through fd2 while the main thread holds
 * the range through fd1 and lets go after 200 ms. Plain: granted at once. */
static void expect_waited(const char *step)
{
	long plain = atol(tu_res(0, step));

	cr_expect(plain < 100, "[plain] %s waited %ld ms\n%s", step, plain,
		  tu_out[0].buf);
	for (int shim = TU_SHIM; shim < TU_RUNS; shim++) {
		long ms = atol(tu_res(shim, step));

		cr_expect(ms >= 150, "[%s] %s waited %ld ms, want >= 150\n%s",
			  how(shim), step, ms, tu_out[shim].buf);
	}
}

Test(fdconflicts, setlkw_waits_until_other_thread_unlocks, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS(WATCHDOG, "open:a:rw", "lock:a:w:set:0:0", "open:b:rw",
		     "bg:ms:lock:b:w:set:0:0:wait", "sleep:200",
		     "lock:a:u:set:0:0", "join", "ready"),
	       EXPECT({ 0, 0, 0, U, W }), NULL, NULL);
	tu_expect_res("lock:b:w:set:0:0:wait", "0");
	expect_waited("ms:lock:b:w:set:0:0:wait");
	unlink(path);
}

Test(fdconflicts, setlkw_wakes_when_other_thread_closes, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS(WATCHDOG, "open:a:rw", "lock:a:w:set:0:0", "open:b:rw",
		     "bg:ms:lock:b:w:set:0:0:wait", "sleep:200", "close:a",
		     "join", "ready"),
	       EXPECT({ 0, 0, 0, U, W }), NULL, NULL);
	tu_expect_res("lock:b:w:set:0:0:wait", "0");
	expect_waited("ms:lock:b:w:set:0:0:wait");
	unlink(path);
}

/* lockf(F_LOCK) waits the same way. */
Test(fdconflicts, lockf_lock_waits_until_other_thread_unlocks, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS(WATCHDOG, "open:a:rw", "lock:a:w:set:0:0", "open:b:rw",
		     "bg:ms:lockf:b:lock:0", "sleep:200", "lock:a:u:set:0:0",
		     "join", "ready"),
	       EXPECT({ 0, 0, 0, U, W }), NULL, NULL);
	tu_expect_res("lockf:b:lock:0", "0");
	expect_waited("ms:lockf:b:lock:0");
	unlink(path);
}

/* A signal without SA_RESTART ends the in-process wait with EINTR; the
 * other holder's lock stays. The holder is a thread that has ended, so
 * the waiter (the main thread, which gets SIGALRM) is not its owner. */
Test(fdconflicts, setlkw_interrupted_by_signal_is_eintr, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS(WATCHDOG, "open:a:rw", "t:lock:a:w:set:0:0", "open:b:rw",
		     "ms:intr:b:w:0:0:100", "ready"),
	       EXPECT({ 0, 0, 0, W, W }), NULL, NULL);
	tu_expect_res2("intr:b:w:0:0:100", "0", "-1 EINTR");
	cr_expect(atol(tu_res(1, "ms:intr:b:w:0:0:100")) >= 80,
		  "[shim] interrupted after %s ms, want ~100",
		  tu_res(1, "ms:intr:b:w:0:0:100"));
	unlink(path);
}

/* ---- EDEADLK ----------------------------------------------------------- */

/* One thread, two descriptors: it would wait for itself forever. */
Test(fdconflicts, thread_waiting_on_itself_is_edeadlk, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	script(path,
	       STEPS(WATCHDOG, "open:a:rw", "lock:a:w:set:0:0", "open:b:rw",
		     "lock:b:w:set:0:0:wait", "lockf:b:lock:0", "ready"),
	       EXPECT({ 0, 0, 0, W, W }), NULL, NULL);
	tu_expect_res2("lock:b:w:set:0:0:wait", "0", "-1 EDEADLK");
	tu_expect_res2("lockf:b:lock:0", "0", "-1 EDEADLK");
	unlink(path);
}

/* Two threads in a cycle: main holds 100 through b, thread A holds 0
 * through a and waits for 100; main asks for 0. Whichever asks last
 * closes the cycle and gets EDEADLK (then everything is let go). */
Test(fdconflicts, two_threads_in_a_cycle_one_gets_edeadlk, .timeout = 60)
{
	const char *sa = "lock:a:w:set:100:1:wait";
	const char *sm = "lock:b:w:set:0:1:wait";
	char *path = tu_mkfile(FILE_SIZE);
	int n;

	script(path,
	       STEPS(WATCHDOG, "open:a:rw", "open:b:rw", "lock:b:w:set:100:1",
		     "bg:lock:a:w:set:0:1;post:1;lock:a:w:set:100:1:wait;"
		     "lock:a:u:set:0:1", "await:1", "lock:b:w:set:0:1:wait",
		     "lock:b:u:set:0:0", "join"),
	       NO_EXPECT, NULL, NULL);
	n = !strcmp(tu_res(1, sa), "-1 EDEADLK") + !strcmp(tu_res(1, sm),
							  "-1 EDEADLK");
	cr_expect_eq(n, 1, "[shim] %d EDEADLK, want 1:\n%s", n, tu_out[1].buf);
	cr_expect_str_eq(tu_res(0, sa), "0");
	cr_expect_str_eq(tu_res(0, sm), "0");
	unlink(path);
}

/* The same cycle between holders a and b, but the range of a was taken
 * by a thread that has ended: a waits (through thread T) for b, b (the
 * main thread) for a. As between two processes, one must get EDEADLK;
 * nobody can ever let go otherwise. Then a lets go of 0. */
Test(fdconflicts, cycle_through_holder_of_ended_thread_is_edeadlk,
     .timeout = 60)
{
	const char *sa = "lock:a:w:set:100:1:wait";
	const char *sm = "lock:b:w:set:0:1:wait";
	char *path = tu_mkfile(FILE_SIZE);
	int n;

	script(path,
	       STEPS("watchdog:2000", "open:a:rw", "open:b:rw",
		     "lock:b:w:set:100:1", "t:lock:a:w:set:0:1",
		     "bg:lock:a:w:set:100:1:wait;lock:a:u:set:0:1",
		     "lock:b:w:set:0:1:wait", "lock:b:u:set:0:0", "join"),
	       NO_EXPECT, NULL, NULL);
	n = !strcmp(tu_res(1, sa), "-1 EDEADLK") + !strcmp(tu_res(1, sm),
							  "-1 EDEADLK");
	cr_expect_eq(n, 1, "[shim] %d EDEADLK, want 1:\n%s", n, tu_out[1].buf);
	cr_expect_null(tu_proc_result(&tu_out[1], "watchdog"),
		       "[shim] hung:\n%s", tu_out[1].buf);
	unlink(path);
}

/* ---- other processes: still the kernel ---------------------------------- */

static void unhold(int shim, int ready, struct tu_proc *p, void *arg)
{
	int *h = arg;

	(void)shim;
	(void)p;
	if (ready == 0)
		tu_unhold(h[0], h[1]);
}

Test(fdconflicts, other_process_lock_still_blocks, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE), want[96];
	int h[2];

	for (int shim = 0; shim <= 1; shim++) {
		h[0] = tu_hold(path, F_WRLCK, 0, 10, &h[1]);
		cr_assert(h[0] > 0, "tu_hold");
		tu_script_run(shim, "lockprog", path, NULL,
			      STEPS(WATCHDOG, "open:a:rw",
				    "lock:a:w:set:0:10", "lock:a:w:set:20:10",
				    "open:b:rw", "lock:b:r:set:5:1",
				    "lock:b:w:set:20:10", "getlk:b:w:set:0:10",
				    "bg:lock:a:w:set:0:10:wait", "ready",
				    "join", "ready"),
			      fd_env, EXPECT({ 0, 0, 10, W, W },
					     { 1, 0, 10, W, W }),
			      unhold, h, &tu_out[shim]);
		snprintf(want, sizeof(want),
			 "0 type=w start=0 len=10 pid=%d", h[0]);
		cr_expect_str_eq(tu_res(shim, "getlk:b:w:set:0:10"), want,
				 "[%s] %s", how(shim), tu_out[shim].buf);
	}
	tu_expect_res("lock:a:w:set:0:10", "-1 EAGAIN");
	tu_expect_res("lock:a:w:set:20:10", "0");
	tu_expect_res("lock:b:r:set:5:1", "-1 EAGAIN");
	tu_expect_res2("lock:b:w:set:20:10", "0", "-1 EAGAIN");
	tu_expect_res("lock:a:w:set:0:10:wait", "0");
	unlink(path);
}
