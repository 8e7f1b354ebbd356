/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/util.h: helpers shared by the test files. */
#ifndef LOCKSPACE_TESTS_UTIL_H
#define LOCKSPACE_TESTS_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include <fcntl.h>

/* ---- the scripts' vocabulary, shared by the integration suites ---------- */
#define U F_UNLCK
#define R F_RDLCK
#define W F_WRLCK

/* A NULL-terminated list of a program's steps. */
#define STEPS(...) ((const char *const[]){ __VA_ARGS__, NULL })
/* What the probes must see: the array and its count, for tu_script_*. */
#define EXPECT(...)                                                    \
	((const struct tu_expect[]){ __VA_ARGS__ }),                   \
		(int)(sizeof((const struct tu_expect[]){ __VA_ARGS__ }) / \
		      sizeof(struct tu_expect))
#define NO_EXPECT NULL, 0

/* The runs of a program: without the shim, under it (backend = anchor,
 * the default), and under it with backend = posix (issue 20). A "shim"
 * argument of the helpers below takes these; TU_POSIX adds
 * LOCKSPACE_PRELOAD_BACKEND=posix to the program's environment, after
 * the env given. */
enum { TU_PLAIN = 0, TU_SHIM = 1, TU_POSIX = 2, TU_RUNS = 3 };

/* "plain", "shim" or "posix", for messages. */
static inline const char *how(int shim)
{
	return shim == TU_POSIX ? "posix" : shim ? "shim" : "plain";
}

/* One lock line of /proc/locks. end is -1 for EOF. */
struct kernel_lock {
	char kind[16]; /* POSIX, OFDLCK, FLOCK */
	char type[16]; /* READ, WRITE */
	pid_t pid;
	int64_t start, end;
};

/* A fresh temporary file of size bytes; its path is written to path.
 * Removed when the test's process exits, as tu_mkdtemp()'s. */
int tu_tmpfile(char *path, size_t len, off_t size);
/* mkdtemp(), and the directory with all in it removed when the test's
 * process exits (also after a skip, which runs no .fini). */
char *tu_mkdtemp(char *tmpl);
/* rm -rf path, without a shell: 0 when it is gone. */
int tu_rm_rf(const char *path);
/* Locks of /proc/locks on the file of fd (skipping waiters "->"), sorted by
 * start; returns the count, at most max. */
int tu_kernel_locks(int fd, struct kernel_lock *out, int max);
/* k[0..n) as text, for a message: "POSIX WRITE pid 12 0-9; ..." (end -1:
 * to EOF). A thread's buffer, overwritten by the next call. */
const char *tu_kernel_locks_str(const struct kernel_lock *k, int n);
/* The same from /proc/self/fdinfo/fd: the locks taken through fd's open
 * file description, read atomically (/proc/locks is not). */
int tu_fd_locks(int fd, struct kernel_lock *out, int max);
/* From a forked child, with the raw syscall (no preload in the way), ask
 * F_GETLK for a write lock over [start, start + len); returns the l_type
 * the child saw and fills pid when non-NULL. */
int tu_probe(const char *path, off_t start, off_t len, pid_t *pid);
/* A note for whoever reads the test log (figures a test measured): to
 * $LOCKSPACE_TEST_LOG, where make check also sends the programs'
 * stderr, else to stderr. */
void tu_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Path of a built test program, and the preload line to use. */
const char *tu_prog(const char *name);
const char *tu_preload(void);
/* The width of off_t in the programs of tu_prog(): 32 for i386 programs
 * built without _FILE_OFFSET_BITS=64 (make check's 32-bit pass says so
 * in LOCKSPACE_TEST_PROGS_OFF_BITS), else 64. */
int tu_prog_off_bits(void);
/* Whether the program at path is of the preload library's ELF class (a
 * 64-bit interpreter cannot load the 32-bit shim of the 32-bit pass). */
int tu_preload_fits(const char *path);
/* EI_CLASS of the ELF file at path (ELFCLASS32, ELFCLASS64), or -1. */
int tu_elf_class(const char *path);
/* Run argv (argv[0] a tu_prog path) with or without the shim; returns the
 * exit status (or 128 + signal) and captures stdout into out. */
int tu_run(int preload, const char *const *argv, const char *const *env,
	   char *out, size_t outlen);


/* A forked child of the test that holds a lock (raw syscall, so POSIX and
 * no preload) on [start, start + len) of path until tu_unhold(); the test
 * process itself cannot hold one: any close of the file it makes (e.g. in
 * tu_kernel_locks) would drop it. Returns the child's pid or -1. */
pid_t tu_hold(const char *path, short type, off_t start, off_t len,
	      int *release);
void tu_unhold(pid_t pid, int release);

/* An interactive run of a test program: its stdin and stdout are pipes to
 * the test. The program prints lines; tu_proc_ready() reads up to the next
 * line "ready" and tu_proc_continue() lets it go on. */
struct tu_proc {
	pid_t pid;
	int in, out;	/* our ends: its stdin, its stdout */
	size_t len;	/* bytes of out[] */
	size_t seen;	/* out[] up to here was searched for "ready" */
	char buf[32768];
};

/* Start argv with or without the shim (env as in tu_run); 0 or -1. */
int tu_proc_start(struct tu_proc *p, int preload, const char *const *argv,
		  const char *const *env);
/* Wait up to timeout_ms for the next "ready" line; 0, or -1 on EOF or
 * timeout. */
int tu_proc_ready(struct tu_proc *p, int timeout_ms);
/* Send the line that lets the program go on past "ready". */
int tu_proc_continue(struct tu_proc *p);
/* Close its stdin, read the rest of its output, wait up to timeout_ms for
 * it to exit (then SIGKILL); returns the exit status or 128 + signal. */
int tu_proc_finish(struct tu_proc *p, int timeout_ms);
/* The text after "STEP = " on the line of the output that starts with
 * "STEP = ", or NULL; copied into a thread-local buffer. */
const char *tu_proc_result(const struct tu_proc *p, const char *step);

/* A scripted run both ways: at each "ready" line of the program (and
 * after it exited, ready == the number of "ready" steps) a probe from
 * another process over [start, start + len) of the probed file must see
 * l_type plain (without the shim) or shim (with it). */
struct tu_expect {
	int ready;
	off_t start, len;
	int plain, shim; /* shim: both backends, or BACKENDS(a, p) */
};
/* The shim column when the backends differ: a under backend = anchor, p
 * under backend = posix. */
#define BACKENDS(a, p) ((a) | (((p) + 1) << 8))

/* Called at each "ready" point, after the probes. */
typedef void (*tu_ready_fn)(int shim, int ready, struct tu_proc *p,
			    void *arg);

/* Run prog PATH STEPS... once, with (shim 1) or without the shim and env
 * added to its environment, probing probe_path (path when NULL) as ex
 * says (no PATH when NULL; no STEPS: one "ready"); checks with cr_expect, fails the test when a "ready" does not
 * come. The output stays in *p. Returns the exit status. */
int tu_script_run(int shim, const char *prog, const char *path,
		  const char *probe_path, const char *const *steps,
		  const char *const *env, const struct tu_expect *ex, int nex,
		  tu_ready_fn fn, void *arg, struct tu_proc *p);

/* How many of the files DIR/0 .. DIR/n-1 another process (a forked child,
 * raw syscalls) sees write-locked over [start, start + len). */
int tu_probe_count(const char *dir, int n, off_t start, off_t len);

/* ---- a lockprog script run both ways (tests/progs/lockprog.c) ---------- */
/* The runs of the last tu_script_both(): [0] plain, [1] the shim; [2]
 * backend = posix, for the suites that run it (test_protect.c). */
extern struct tu_proc tu_out[TU_RUNS];
/* A fresh temporary file of size bytes; its path (static storage). */
char *tu_mkfile(off_t size);
/* lockprog with steps on path, plain then under the shim (with env);
 * each run must exit 0. */
void tu_script_both(const char *path, const char *const *env,
		    const char *const *steps, const struct tu_expect *ex,
		    int nex, tu_ready_fn fn, void *arg);
/* The same for another program of tests/progs, probing probe_path (path
 * when NULL). */
void tu_script_both_prog(const char *prog, const char *path,
			 const char *probe_path, const char *const *env,
			 const char *const *steps, const struct tu_expect *ex,
			 int nex, tu_ready_fn fn, void *arg);
/* tu_script_both() with a third run under backend = posix ([2]), which
 * tu_expect_res*() then hold to the shim's result too. */
void tu_script_all(const char *path, const char *const *env,
		   const char *const *steps, const struct tu_expect *ex,
		   int nex, tu_ready_fn fn, void *arg);
/* What a step printed in run shim ("(no output)" if nothing). */
const char *tu_res(int shim, const char *step);
/* The step printed plain without the shim and shim with it. */
void tu_expect_res2(const char *step, const char *plain, const char *shim);
void tu_expect_res(const char *step, const char *want);

#endif
