/* tests/test_edges.c: every way a process forks, execs or loses a
 * descriptor, and cancellation (issue 16).
 *
 * Each test runs an unmodified program (tests/progs/) four times:
 * plain, under the shim, under the shim with conflicts = fd, and under
 * the shim with backend = posix (issue 20); another
 * process judges the locks (tu_probe at each "ready", or a probe the
 * program forks), and the program's results must be what plain glibc
 * gives.
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

#define FILE_SIZE 1000

/* The runs: plain, shim, shim with conflicts = fd, shim with backend =
 * posix (which expects ex[].shim, or its posix half: BACKENDS). */
enum { PLAIN, SHIM, SHIM_FD, POSIX, NRUNS };
static const char *const run_name[NRUNS] = { "plain", "shim",
					     "shim, conflicts=fd", "posix" };
static struct tu_proc out[NRUNS];

/* Run prog PATH STEPS... every way, probing probe_path (path when
 * NULL) as ex says (the shim runs expect ex[].shim), with env added;
 * each must exit 0. */
static void three_ways_probe(const char *prog, const char *path,
			     const char *probe_path,
			     const char *const *steps,
			     const char *const *env,
			     const struct tu_expect *ex, int nex)
{
	for (int run = 0; run < NRUNS; run++) {
		const char *e[8];
		int n = 0, st;

		for (int i = 0; env && env[i] && n < 6; i++)
			e[n++] = env[i];
		if (run == SHIM_FD)
			e[n++] = "LOCKSPACE_PRELOAD_CONFLICTS=fd";
		e[n] = NULL;
		st = tu_script_run(run == POSIX ? TU_POSIX : run != PLAIN,
				   prog, path, probe_path, steps, e, ex, nex,
				   NULL, NULL, &out[run]);
		cr_expect_eq(st, 0, "[%s] %s exited with %d; output:\n%s",
			     run_name[run], prog, st, out[run].buf);
	}
}

static void three_ways(const char *prog, const char *path,
		       const char *const *steps, const char *const *env,
		       const struct tu_expect *ex, int nex)
{
	three_ways_probe(prog, path, NULL, steps, env, ex, nex);
}

/* What step printed in a run. */
static const char *res(int run, const char *step)
{
	const char *r = tu_proc_result(&out[run], step);

	return r ? r : "(no output)";
}

/* Every run printed want for step. */
static void expect_all(const char *step, const char *want)
{
	for (int run = 0; run < NRUNS; run++)
		cr_expect_str_eq(res(run, step), want,
				 "[%s] %s = %s, want %s; output:\n%s",
				 run_name[run], step, res(run, step), want,
				 out[run].buf);
}

/* ---- cancellation ----------------------------------------------------------- */

/* Four threads wait in F_SETLKW for another process's lock, and each
 * that gets it cancels the other three: a cancellation that arrives as
 * a grant comes must not unwind from inside the deadlock registry with
 * its mutex held (every later wait of the process hung: 4 of 4 runs). */
Test(edges, threads_cancelling_each_other_in_setlkw_never_hang,
     .timeout = 90)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("cancelprog", path, STEPS("mutual", "40"), NULL,
		   EXPECT({ 0, 0, 0, U, U }));
	expect_all("mutual", "40");
	unlink(path);
}

/* A thread that disabled cancellation waits in F_SETLKW (under
 * conflicts = fd, for another thread's holder) and is cancelled while it
 * waits: it gets the lock when the holder lets go, and the cancellation
 * is acted on only where the thread enables it again. */
Test(edges, setlkw_respects_a_disabled_cancel_state, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("cancelprog", path, STEPS("disabled"), NULL, NO_EXPECT);
	expect_all("disabled", "0 canceled-after");
	unlink(path);
}

/* ---- fork and clone ---------------------------------------------------------
 * A child has copies of the anchors until it closes them (fork: in its
 * atfork handler; a raw fork: never, here until sleeper_end), and the
 * anchor's open file description lives while it has: a close of the
 * anchor in the parent drops nothing then. The parent must unlock. */

/* The last close of a locked file releases it at once, seen by another
 * description of the file right after the close: after a fork (49 of 50
 * probes saw the lock held) and while a raw fork child keeps copies of
 * every descriptor (every time). */
Test(edges, close_after_fork_releases_at_once, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("forkclose:50", "open:a:rw", "lock:a:w:set:0:0",
			 "sleeper", "close:a", "probe:0:0", "ready",
			 "sleeper_end"),
		   NULL, EXPECT({ 0, 0, 0, U, U }));
	expect_all("forkclose:50", "0");
	expect_all("probe:0:0", "u");
	unlink(path);
}

/* A read lock becomes a write lock right after a fork (the new anchor's
 * write lock was refused by the old one's read lock, which the child's
 * copy kept: 50 of 50), and while a raw fork child keeps copies. */
Test(edges, upgrade_after_fork_is_granted, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("forkupgrade:50", "open:a:rw", "lock:a:r:set:0:0",
			 "sleeper", "lock:a:w:set:0:0", "ready",
			 "sleeper_end", "close:a", "ready"),
		   NULL, EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, U }));
	expect_all("forkupgrade:50", "0");
	expect_all("lock:a:w:set:0:0", "0");
	unlink(path);
}

/* A _Fork() child (no atfork handler) owns none of the parent's locks:
 * its unlock leaves them (it unlocked the parent's anchor). */
Test(edges, _Fork_child_unlock_leaves_parent_lock, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("open:a:rw", "lock:a:w:set:0:0", "_forkunlock:a:0:0",
			 "probe:0:0", "ready", "close:a", "ready"),
		   NULL, EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, U }));
	expect_all("_forkunlock:a:0:0", "0");
	expect_all("probe:0:0", "w");
	unlink(path);
}

/* The same for a clone() child with memory of its own. */
Test(edges, clone_child_unlock_leaves_parent_lock, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("open:a:rw", "lock:a:w:set:0:0", "cloneunlock:a:0:0",
			 "probe:0:0", "ready", "close:a", "ready"),
		   NULL, EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, U }));
	expect_all("cloneunlock:a:0:0", "0");
	expect_all("probe:0:0", "w");
	unlink(path);
}

/* A clone(CLONE_VM | CLONE_VFORK) child runs in our memory with its own
 * descriptors: its close of the locked descriptor emptied the parent's
 * table and left the anchor holding a lock nothing could release. */
Test(edges, clone_vm_child_close_leaves_parent_table, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("open:a:rw", "lock:a:w:set:0:0", "clonevmclose:a",
			 "ready", "open:b:r", "close:b", "ready",
			 "lock:a:u:set:0:0", "ready"),
		   NULL, EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, W },
				{ 2, 0, 0, U, U }));
	expect_all("clonevmclose:a", "0");
	expect_all("lock:a:u:set:0:0", "0");
	unlink(path);
}

/* ---- the hand-over ------------------------------------------------------------
 * A memfd named as the hand-over but sealed without F_SEAL_SHRINK: the
 * new image maps it in place, and another process could shrink it under
 * the mapping (SIGBUS before main). It is not taken for a hand-over: not
 * read, and not closed (it is the program's). The old image holds no
 * lock, so the variable goes over as the program set it. */
Test(edges, handoff_memfd_without_every_seal_is_not_read, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("stderr:/dev/null", "memfd:m:wgS:LSH1 %P 0",
			 "setenv:LOCKSPACE_PRELOAD_HANDOFF:LSH1 memfd %m",
			 "reexec", "getfd:m", "memfd:n:swgS:LSH1 %P 0",
			 "setenv:LOCKSPACE_PRELOAD_HANDOFF:LSH1 memfd %n",
			 "reexec", "getfd:n"),
		   NULL, NO_EXPECT);
	expect_all("getfd:m", "0");
	cr_expect_str_eq(res(PLAIN, "getfd:n"), "0");
	/* fully sealed, it is the shim's: read and closed */
	cr_expect_str_eq(res(SHIM, "getfd:n"), "-1 EBADF", "%s",
			 out[SHIM].buf);
	unlink(path);
}

/* ---- F_OFD_GETLK -------------------------------------------------------------
 * The program asks F_OFD_GETLK about its own POSIX locks: plain, they
 * conflict (another owner) and name the process; under the shim they
 * are the anchor's OFD locks, which the kernel names -1. */
Test(edges, ofd_getlk_sees_own_posix_locks_with_own_pid, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("open:a:rw", "lock:a:w:set:0:100",
			 "lock:a:r:set:200:0", "open:b:r",
			 "ofdgetlk:b:w:set:0:0", "ofdgetlk:b:w:set:150:0",
			 "ofdgetlk:a:r:set:50:10", "ofdgetlk:b:w:set:100:100",
			 "ready"),
		   NULL, EXPECT({ 0, 0, 100, W, W }, { 0, 200, 0, R, R }));
	expect_all("ofdgetlk:b:w:set:0:0", "0 type=w start=0 len=100 pid=self");
	expect_all("ofdgetlk:b:w:set:150:0",
		   "0 type=r start=200 len=0 pid=self");
	expect_all("ofdgetlk:a:r:set:50:10",
		   "0 type=w start=0 len=100 pid=self");
	expect_all("ofdgetlk:b:w:set:100:100",
		   "0 type=u start=100 len=100 pid=0");
	unlink(path);
}

/* ---- descriptors the shim did not see --------------------------------------
 * A descriptor closed past the interposer (syscall(SYS_close), io_uring's
 * IORING_OP_CLOSE) stays tracked; the kernel hands its number out again
 * for another file, and a lock through it was applied to the old file's
 * anchor: fcntl said 0 and nobody held the new file's lock. The new file
 * must be locked, and the old one's lock gone (its last descriptor
 * closed, as plain POSIX says). */
static void reused_number(const char *how_close)
{
	char *path = tu_mkfile(FILE_SIZE), other[64], open_b[96], close_a[32];
	int fd = tu_tmpfile(other, sizeof(other), FILE_SIZE);

	cr_assert(fd >= 0);
	close(fd);
	snprintf(open_b, sizeof(open_b), "open:b:rw:%s", other);
	snprintf(close_a, sizeof(close_a), "%s:a", how_close);
	three_ways_probe("lockprog", path, other,
			 STEPS("open:a:rw", "lock:a:w:set:0:0", close_a,
			       open_b, "lock:b:w:set:0:100", "probe:0:0",
			       "getlk:b:w:set:0:0", "ready",
			       "lock:b:u:set:0:0", "ready"),
			 NULL, EXPECT({ 0, 0, 100, W, W }, { 0, 100, 0, U, U },
				      { 1, 0, 0, U, U }));
	expect_all("lock:b:w:set:0:100", "0");
	expect_all("probe:0:0", "u");
	expect_all("getlk:b:w:set:0:0", "0 type=u start=0 len=0 pid=0");
	/* the number is the one a had */
	for (int run = 0; run < NRUNS; run++)
		cr_expect_str_eq(res(run, open_b), res(run, "open:a:rw"));
	unlink(other);
	unlink(path);
}

Test(edges, lock_through_number_reused_after_raw_close_locks_new_file,
     .timeout = 60)
{
	reused_number("rawclose");
}

Test(edges, lock_through_number_reused_after_io_uring_close_locks_new_file,
     .timeout = 60)
{
	reused_number("ringclose");
}

/* The same number reused before an exec: it must not go to the new image
 * as a descriptor of its holder (the new image refused the whole
 * hand-over, and c's lock stayed on an anchor nothing could unlock). */
Test(edges, exec_after_raw_close_hands_the_other_holders_over, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE), other[64], open_b[96];
	int fd = tu_tmpfile(other, sizeof(other), FILE_SIZE);

	cr_assert(fd >= 0);
	close(fd);
	snprintf(open_b, sizeof(open_b), "open:b:rw:%s", other);
	three_ways("lockprog", path,
		   STEPS("open:a:rw", "lock:a:w:set:0:100", "open:c:rw",
			 "lock:c:w:set:500:10", "rawclose:a", open_b,
			 "reexec", "ready", "lock:c:u:set:0:0", "ready"),
		   NULL, EXPECT({ 0, 0, 100, U, U },
				/* posix: the raw close dropped it too */
				{ 0, 500, 10, U, BACKENDS(W, U) },
				{ 1, 0, 0, U, U }));
	expect_all("lock:c:u:set:0:0", "0");
	unlink(other);
	unlink(path);
}

/* A copy of the locking descriptor's description that the shim never
 * saw made (received over a unix socket, taken with pidfd_getfd), before
 * and after the first lock: the lock lives until the copy closes too, as
 * the contract says (plain POSIX drops it at the first close). */
Test(edges, copy_received_or_taken_keeps_lock_until_it_closes, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("open:a:rw", "scmcopy:b:a", "lock:a:w:set:0:0",
			 "close:a", "ready", "close:b", "ready", "open:a:rw",
			 "lock:a:w:set:0:0", "pidfdcopy:b:a", "close:a",
			 "ready", "close:b", "ready"),
		   NULL, EXPECT({ 0, 0, 0, U, W }, { 1, 0, 0, U, U },
				{ 2, 0, 0, U, W }, { 3, 0, 0, U, U }));
	expect_all("close:a", "0");
	unlink(path);
}

/* ---- at the descriptor limit ------------------------------------------------
 * RLIMIT_NOFILE 64 puts the band's bottom at 56 (band.c): the first
 * anchor takes 56, a number plain POSIX would hand to the program. */

/* F_DUPFD with a minimum inside the band gives the number plain gives:
 * the anchor moves away. The dups keep the lock as dups do. */
Test(edges, dupfd_with_minimum_in_the_band_gives_the_plain_number,
     .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("rlimit:64", "open:a:rw", "lock:a:w:set:0:0",
			 "dupfdmin:b:a:56", "dupfdmin:c:a:56", "ready",
			 "close:b", "close:c", "close:a", "ready"),
		   NULL, EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, U }));
	expect_all("dupfdmin:b:a:56", "56");
	expect_all("dupfdmin:c:a:56", "57");
	unlink(path);
}

/* With every other number taken, dup2 onto the anchor's number succeeds
 * as plain does (it was free there): the file falls back to plain POSIX
 * locks, as DESIGN's budget rule says, and its lock stays held. */
Test(edges, dup2_onto_the_last_numbers_at_the_limit_succeeds, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("stderr:/dev/null", "rlimit:64", "open:a:rw",
			 "lock:a:w:set:0:0", "open:n:r:/dev/null", "fill",
			 "dup2:n:#56", "ready", "unfill", "ready", "close:a",
			 "ready"),
		   NULL, EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, W, W },
				{ 2, 0, 0, U, U }));
	expect_all("dup2:n:#56", "56");
	unlink(path);
}

/* F_SETLKW at the limit, with no number left for the waiter's private
 * dup of the anchor: plain waits for the other process and succeeds;
 * the shim said EMFILE. */
static void release_hold(int shim, int ready, struct tu_proc *p, void *arg)
{
	int *h = arg;

	(void)shim;
	(void)p;
	if (ready == 0)
		tu_unhold(h[0], h[1]);
}

Test(edges, setlkw_at_the_limit_waits_and_succeeds, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);
	int h[2];

	for (int run = 0; run < NRUNS; run++) {
		const char *env[] = { run == SHIM_FD ?
				      "LOCKSPACE_PRELOAD_CONFLICTS=fd" : NULL,
				      NULL };
		int st;

		h[0] = tu_hold(path, F_WRLCK, 0, 10, &h[1]);
		cr_assert(h[0] > 0, "tu_hold");
		st = tu_script_run(run == POSIX ? TU_POSIX : run != PLAIN,
				   "lockprog", path, NULL,
				   STEPS("watchdog:10000", "rlimit:64",
					 "open:a:rw", "lock:a:w:set:100:1",
					 "fill", "bg:lock:a:w:set:0:10:wait",
					 "sleep:200", "ready", "join", "ready",
					 "unfill", "close:a"),
				   env, EXPECT({ 0, 0, 10, W, W },
					       { 1, 0, 10, W, W }),
				   release_hold, h, &out[run]);
		cr_expect_eq(st, 0, "[%s] exit %d:\n%s", run_name[run], st,
			     out[run].buf);
	}
	expect_all("lock:a:w:set:0:10:wait", "0");
	unlink(path);
}

/* ---- exec ---------------------------------------------------------------------
 * A failed exec changes nothing anyone can see: b's own range (b closes
 * on exec) was unlocked before execve and locked again after it failed,
 * and another process trying it all the while (a PATH search of 300
 * directories, ten times) got it. */
#define FAILING_EXECVP "reexec:lockspace-no-such-program:execvp"

Test(edges, failed_execvp_never_lets_a_range_go, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("stderr:/dev/null", "open:a:rw", "lock:a:w:set:0:100",
			 "open:b:rw", "lock:b:w:set:100:50", "cloexec:b:1",
			 "longpath:300", "prober:100:50", FAILING_EXECVP,
			 FAILING_EXECVP, FAILING_EXECVP, FAILING_EXECVP,
			 FAILING_EXECVP, FAILING_EXECVP, FAILING_EXECVP,
			 FAILING_EXECVP, FAILING_EXECVP, FAILING_EXECVP,
			 "probed", "ready", "close:b", "ready"),
		   NULL, EXPECT({ 0, 0, 150, W, W }, { 1, 0, 100, U, W },
				{ 1, 100, 50, U, U }));
	expect_all(FAILING_EXECVP, "-1 ENOENT");
	expect_all("probed", "0");
	unlink(path);
}

/* An exec into an image that does not run the shim: it must find plain
 * POSIX locks on its own descriptors and nothing of ours open. Handed
 * over as before, the anchor was a stray descriptor carrying OFD locks:
 * F_GETLK saw its own read lock as another's (pid -1), an upgrade
 * through F_SETLKW waited on itself for ever, and the locks outlived an
 * unlock. image names the new image ("self": lockprog), noshim whether
 * LD_PRELOAD is dropped from its environment. */
static void exec_image(const char *setup, const char *image, int noshim)
{
	char *path = tu_mkfile(FILE_SIZE), reexec[512];

	snprintf(reexec, sizeof(reexec), "reexec:%s:execv%s", image,
		 noshim ? ":noshim" : "");
	three_ways("lockprog", path,
		   STEPS("open:a:rw", "lock:a:r:set:0:0", "open:x:r:/dev/null",
			 "lock:a:w:set:500:10", setup, reexec, "watchdog:5000",
			 "getlk:a:w:set:0:0", "getlk:a:r:set:500:10", "fds",
			 "ready", "lock:a:w:set:0:0:wait", "ready",
			 "lock:a:u:set:0:0", "ready"),
		   NULL, EXPECT({ 0, 0, 500, R, R }, { 0, 500, 10, W, W },
				{ 0, 510, 0, R, R }, { 1, 0, 0, W, W },
				{ 2, 0, 0, U, U }));
	expect_all("getlk:a:w:set:0:0", "0 type=u start=0 len=0 pid=0");
	expect_all("getlk:a:r:set:500:10", "0 type=u start=500 len=10 pid=0");
	expect_all("lock:a:w:set:0:0:wait", "0");
	expect_all("lock:a:u:set:0:0", "0");
	for (int run = SHIM; run < NRUNS; run++)
		cr_expect_str_eq(res(run, "fds"), res(PLAIN, "fds"),
				 "[%s] descriptors after exec: %s, plain %s",
				 run_name[run], res(run, "fds"),
				 res(PLAIN, "fds"));
	unlink(path);
}

static void exec_without_shim(const char *image, int noshim)
{
	exec_image("pid", image, noshim);
}

Test(edges, exec_with_ld_preload_dropped_sees_plain_posix, .timeout = 60)
{
	exec_without_shim("self", 1);
}

/* The same after a first exec into the shim: the image that adopted the
 * anchors hands them on, or converts them, as the first did. */
Test(edges, second_exec_without_shim_sees_plain_posix, .timeout = 60)
{
	exec_image("reexec:self:execv", "self", 1);
}

/* The anchors an image adopted are close-on-exec again (adopt.c sets it
 * in runs, by close_range): a program that posix_spawn()s (whose exec
 * in the child no interposer sees) starts with the descriptors plain
 * glibc gives it, and no anchor. */
Test(edges, adopted_anchors_reach_no_spawned_program, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("open:a:rw", "lock:a:w:set:0:100", "open:b:r",
			 "lock:a:r:set:200:10", "reexec:self:execv",
			 "spawn:posix_spawn", "fds", "end", "ready"),
		   NULL, EXPECT({ 0, 0, 100, W, W }, { 0, 200, 10, R, R }));
	expect_all("fds", "[ 3 4 ]"); /* the spawned program's */
	unlink(path);
}

Test(edges, exec_of_a_static_binary_sees_plain_posix, .timeout = 60)
{
	exec_without_shim(tu_prog("plainimg-static"), 0);
}

/* A musl binary cannot start with a glibc library preloaded at all
 * (plain either): it runs without LD_PRELOAD. */
Test(edges, exec_of_a_musl_binary_sees_plain_posix, .timeout = 60)
{
	if (access(tu_prog("plainimg-musl"), X_OK))
		cr_skip_test("no %s (musl-tools)", tu_prog("plainimg-musl"));
	exec_without_shim(tu_prog("plainimg-musl"), 1);
}

/* A set-user-ID program (to nobody): the loader ignores LD_PRELOAD. */
Test(edges, exec_of_a_setuid_program_sees_plain_posix, .timeout = 60)
{
	char dir[64] = "/tmp/lockspace-test-XXXXXX", img[128], cmd[512];

	if (geteuid() != 0)
		cr_skip_test("needs root to make a set-user-ID program");
	cr_assert_not_null(tu_mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(img, sizeof(img), "%s/plainimg", dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s && chown 65534:65534 %s && "
		 "chmod 4755 %s", tu_prog("plainimg"), img, img, img);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	exec_without_shim(img, 0);
	unlink(img);
	rmdir(dir);
}

/* The new image runs the shim, but with mode = off or observe, where its
 * lock calls go to the kernel through its descriptors: it takes the
 * hand-over as plain POSIX locks (the anchor's locks met its own). */
Test(edges, exec_into_the_shim_with_mode_off_or_observe_sees_plain_posix,
     .timeout = 60)
{
	exec_image("setenv:LOCKSPACE_PRELOAD_MODE:off", "self", 0);
	exec_image("setenv:LOCKSPACE_PRELOAD_MODE:observe", "self", 0);
}

/* A holder of the file leaves at the exec (its descriptor is
 * close-on-exec): plain POSIX drops every lock of the process on the
 * file at that close, and so does the image without the shim. */
Test(edges, exec_without_shim_drops_a_file_a_holder_leaves, .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE);

	three_ways("lockprog", path,
		   STEPS("open:a:rw", "lock:a:r:set:0:10", "open:b:rw",
			 "lock:b:w:set:500:10", "cloexec:b:1",
			 "reexec:self:execv:noshim", "ready",
			 "lock:a:w:set:0:10", "ready"),
		   NULL, EXPECT({ 0, 0, 0, U, U }, { 1, 0, 10, W, W },
				{ 1, 10, 0, U, U }));
	expect_all("lock:a:w:set:0:10", "0");
	unlink(path);
}

/* The exec into an image without the shim fails (ETXTBSY: the image is
 * open for writing): its locks, made POSIX locks for it, go back on an
 * anchor, and the contract holds again (a close of another descriptor
 * keeps them). */
Test(edges, failed_exec_into_image_without_shim_puts_the_anchor_back,
     .timeout = 60)
{
	char *path = tu_mkfile(FILE_SIZE), img[64], cmd[256], w[96], rx[96];
	int fd = tu_tmpfile(img, sizeof(img), 0);

	cr_assert(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp %s %s && chmod 755 %s",
		 tu_prog("plainimg-static"), img, img);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(w, sizeof(w), "open:w:w:%s", img);
	snprintf(rx, sizeof(rx), "reexec:%s", img);
	three_ways("lockprog", path,
		   STEPS("stderr:/dev/null", "open:a:rw", "lock:a:w:set:0:10",
			 "lock:a:r:set:20:10", w, rx, "ready", "open:b:r",
			 "close:b", "ready", "lock:a:u:set:0:0", "ready"),
		   NULL, EXPECT({ 0, 0, 10, W, W }, { 0, 20, 10, R, R },
				{ 1, 0, 10, U, W }, { 1, 20, 10, U, R },
				{ 2, 0, 0, U, U }));
	expect_all(rx, "-1 ETXTBSY");
	unlink(img);
	unlink(path);
}
