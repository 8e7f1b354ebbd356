/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/lsbench.c: what the shim costs (issue 7), as ratios measured side
 * by side.
 *
 * The driver runs each workload in child processes, re-executing itself
 * (the binary behind /proc/self/exe) with LD_PRELOAD unset (plain) or set
 * to the shim, alternating A B A B over several rounds so that drift of a
 * noisy VM hits both alike. Each child warms up, times its loop with
 * CLOCK_MONOTONIC and prints one line: ns per op, the loop's total ns, and
 * an extra number some rows need. The driver calibrates the iterations
 * once per workload so a round lasts at least the round time, and prints
 * the median, min and max of each side, the ratio of the medians, and the
 * target next to them. A missed target is reported, never fatal: the exit
 * status is non-zero only when a workload call failed or a child died.
 *
 * Like the test programs, this plays an unmodified program: no header or
 * library of ours.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 16
#define NOTHER 1000	/* row 2: files locked elsewhere in the process */
#define NRANGES 1000	/* row 6: ranges per churn cycle */

/* ---- the children: one workload each ------------------------------------ */

struct child {
	const char *dir;
	long iters;
	long arg;	/* threads (row 8), files (row 7) */
	int ofd;	/* row 4: the bare F_OFD_SETLK competitor */
	int same;	/* row 8: every thread on one file */
	double ns_op;	/* out */
	double total_ns;
	double extra;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	fprintf(stderr, "lsbench child %d: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(err));
	va_end(ap);
	exit(2);
}

static int open_in(const char *dir, const char *name, int flags)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open %s", path);
	return fd;
}

static void setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	if (fcntl(fd, cmd, &fl) < 0)
		die("fcntl(%d, %s, %s %lld+%lld)", fd,
		    cmd == F_SETLK ? "F_SETLK" : "F_OFD_SETLK",
		    type == F_UNLCK ? "unlock" : "lock",
		    (long long)start, (long long)len);
}

/*
 * Every loop runs twice: a warm-up of a tenth of the iterations (at least
 * one), then the timed pass. The body sees the iteration count as n_.
 */
#define TIMED(c, ...)							\
	do {								\
		for (int pass_ = 0; pass_ < 2; pass_++) {		\
			long n_ = pass_ ? (c)->iters :			\
				  ((c)->iters + 9) / 10;		\
			double t0_ = now_ns();				\
			for (long i_ = 0; i_ < n_; i_++) {		\
				__VA_ARGS__;				\
			}						\
			(c)->total_ns = now_ns() - t0_;			\
		}							\
	} while (0)

/* How many files row 2 may lock: each takes a descriptor and, under the
 * shim, an anchor. Under systemd's soft RLIMIT_NOFILE of 1024 (the driver
 * raises it to the hard limit first) that is fewer than NOTHER. */
static int others_allowed(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 ||
	    rl.rlim_cur >= (rlim_t)(2 * NOTHER + 64))
		return NOTHER;
	return rl.rlim_cur > 64 ? (int)(rl.rlim_cur - 64) / 2 : 0;
}

/* Rows 1 and 2: open+close of a file, nothing or NOTHER others locked. */
static void w_openclose(struct child *c, int nlocked)
{
	char path[PATH_MAX], name[32];

	if (nlocked > others_allowed())
		nlocked = others_allowed();
	for (int i = 0; i < nlocked; i++) {
		snprintf(name, sizeof(name), "other.%d", i);
		setlk(open_in(c->dir, name, O_RDWR | O_CREAT), F_SETLK,
		      F_WRLCK, 0, 0);
	}
	snprintf(path, sizeof(path), "%s/oc", c->dir);
	TIMED(c, {
		int fd = open(path, O_RDONLY);

		if (fd < 0)
			die("open %s", path);
		if (close(fd) < 0)
			die("close");
	});
	c->ns_op = c->total_ns / c->iters;
}

/* Row 3: dup+close. */
static void w_dupclose(struct child *c)
{
	int base = open_in(c->dir, "oc", O_RDONLY);

	TIMED(c, {
		int fd = dup(base);

		if (fd < 0)
			die("dup");
		if (close(fd) < 0)
			die("close");
	});
	c->ns_op = c->total_ns / c->iters;
}

/* Row 3: fcntl(F_GETFL). */
static void w_getfl(struct child *c)
{
	int base = open_in(c->dir, "oc", O_RDONLY);

	TIMED(c, {
		if (fcntl(base, F_GETFL) < 0)
			die("fcntl F_GETFL");
	});
	c->ns_op = c->total_ns / c->iters;
}

/* Row 4: write lock + unlock of a whole file locked once before. */
static void w_setlk(struct child *c)
{
	int fd = open_in(c->dir, "lk", O_RDWR);
	int cmd = c->ofd ? F_OFD_SETLK : F_SETLK;

	setlk(fd, cmd, F_WRLCK, 0, 0);
	setlk(fd, cmd, F_UNLCK, 0, 0);
	TIMED(c, {
		setlk(fd, cmd, F_WRLCK, 0, 0);
		setlk(fd, cmd, F_UNLCK, 0, 0);
	});
	c->ns_op = c->total_ns / c->iters;
}

/* Row 5: open, first lock (the shim makes an anchor), close. */
static void w_first(struct child *c)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/first", c->dir);
	TIMED(c, {
		int fd = open(path, O_RDWR);

		if (fd < 0)
			die("open %s", path);
		setlk(fd, F_SETLK, F_WRLCK, 0, 0);
		if (close(fd) < 0)
			die("close");
	});
	c->ns_op = c->total_ns / c->iters;
}

/* Row 6: NRANGES small ranges locked, then unlocked in another order. */
static void w_churn(struct child *c)
{
	static off_t start[NRANGES], len[NRANGES];
	static int order[NRANGES];
	int fd = open_in(c->dir, "churn", O_RDWR);
	unsigned seed = 7;

	for (int i = 0; i < NRANGES; i++) {
		start[i] = rand_r(&seed) % (1 << 20);
		len[i] = 1 + rand_r(&seed) % 64;
		order[i] = i;
	}
	for (int i = NRANGES - 1; i > 0; i--) {
		int j = rand_r(&seed) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	TIMED(c, {
		for (int k = 0; k < NRANGES; k++)
			setlk(fd, F_SETLK, F_WRLCK, start[k], len[k]);
		for (int k = 0; k < NRANGES; k++)
			setlk(fd, F_SETLK, F_UNLCK, start[order[k]],
			      len[order[k]]);
	});
	c->ns_op = c->total_ns / c->iters / (2 * NRANGES);
}

static long vm_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		die("fopen /proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Row 7: lock c->arg files, each through its own open descriptor. The
 * loop runs once; the extra number is the VmRSS growth per file. */
static void w_scale(struct child *c)
{
	long n = c->arg;
	int *fds = calloc(n, sizeof(*fds));
	char name[32];
	long rss0, rss1;
	double t0;

	if (!fds)
		die("calloc");
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "s.%ld", i);
		fds[i] = open_in(c->dir, name, O_RDWR | O_CREAT);
	}
	rss0 = vm_rss_kb();
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		setlk(fds[i], F_SETLK, F_WRLCK, 0, 0);
	c->total_ns = now_ns() - t0;
	rss1 = vm_rss_kb();
	c->ns_op = c->total_ns / n;
	c->extra = (rss1 - rss0) * 1024.0 / n;
}

/* Row 8: c->arg threads lock and unlock, each its own file (or one). */
struct thr {
	struct child *c;
	pthread_barrier_t *bar;
	int fd;
	double t0, t1;
};

static void *thr_run(void *arg)
{
	struct thr *t = arg;

	pthread_barrier_wait(t->bar);
	t->t0 = now_ns();
	for (long i = 0; i < t->c->iters; i++) {
		setlk(t->fd, F_SETLK, F_WRLCK, 0, 0);
		setlk(t->fd, F_SETLK, F_UNLCK, 0, 0);
	}
	t->t1 = now_ns();
	return NULL;
}

static void w_threads(struct child *c)
{
	int n = (int)c->arg;
	pthread_t tid[64];
	struct thr t[64];
	pthread_barrier_t bar;
	char name[32];
	double t0, t1;

	if (n < 1 || n > 64) {
		errno = EINVAL;
		die("threads %d", n);
	}
	pthread_barrier_init(&bar, NULL, n + 1);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "t.%d", c->same ? 0 : i);
		t[i].c = c;
		t[i].bar = &bar;
		t[i].fd = open_in(c->dir, name, O_RDWR);
		/* warm-up: the holder and the anchor exist before timing */
		setlk(t[i].fd, F_SETLK, F_WRLCK, 0, 0);
		setlk(t[i].fd, F_SETLK, F_UNLCK, 0, 0);
	}
	for (int i = 0; i < n; i++) {
		errno = pthread_create(&tid[i], NULL, thr_run, &t[i]);
		if (errno)
			die("pthread_create");
	}
	/* The clock is read by the workers: on 2 cores with 8 of them, the
	 * main thread may wake from the barrier long after they started. */
	pthread_barrier_wait(&bar);
	for (int i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	t0 = t[0].t0;
	t1 = t[0].t1;
	for (int i = 1; i < n; i++) {
		t0 = t[i].t0 < t0 ? t[i].t0 : t0;
		t1 = t[i].t1 > t1 ? t[i].t1 : t1;
	}
	c->total_ns = t1 - t0;
	c->ns_op = c->total_ns / ((double)c->iters * n);
}

/* Row 9: close() of a descriptor that holds no lock. The descriptor is
 * made with the raw dup syscall, which no interposer sees, so only
 * close() differs between plain and shim. */
static void w_close(struct child *c)
{
	int base = open_in(c->dir, "oc", O_RDONLY);

	TIMED(c, {
		int fd = (int)syscall(SYS_dup, base);

		if (fd < 0)
			die("dup syscall");
		if (close(fd) < 0)
			die("close");
	});
	c->ns_op = c->total_ns / c->iters;
}

/* ---- rows 10-14: what users feel (issue 24) ------------------------------ */

/* A forked holder of a write lock on byte 0 of path: under the shim it
 * is a shimmed process (the fork keeps the library), its lock an OFD
 * lock on an anchor. Returns its pid; kill it when done. */
static pid_t start_holder(const char *path)
{
	int pfd[2];
	pid_t pid;
	char ch;

	if (pipe(pfd) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd = open(path, O_RDWR);

		if (fd < 0)
			die("open %s", path);
		setlk(fd, F_SETLK, F_WRLCK, 0, 1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(pfd[1]);
	if (read(pfd[0], &ch, 1) != 1)
		die("holder did not lock");
	close(pfd[0]);
	return pid;
}

static void stop_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Row 10: F_GETLK meeting another process's write lock, asked again and
 * again (SQLite's readers while a writer holds RESERVED). arg 0: the
 * asker holds nothing; 1: it holds a read lock elsewhere in the file
 * (the shim answers from its table and anchor). The answer must name
 * the holder. */
static void w_getlk(struct child *c)
{
	char path[PATH_MAX];
	pid_t holder;
	int fd;

	snprintf(path, sizeof(path), "%s/gl", c->dir);
	holder = start_holder(path);
	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open %s", path);
	if (c->arg)
		setlk(fd, F_SETLK, F_RDLCK, 100, 1);
	TIMED(c, {
		struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET,
				   .l_start = 0, .l_len = 1};

		if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_pid != holder) {
			stop_child(holder);
			errno = 0;
			die("F_GETLK named pid %d, the holder is %d",
			    (int)fl.l_pid, (int)holder);
		}
	});
	c->ns_op = c->total_ns / c->iters;
	stop_child(holder);
}

/* How many of the files f.0 .. f.(n-1) the limit lets a child lock:
 * each takes a descriptor and, under the shim, an anchor. */
static long lockable(long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    (long)rl.rlim_cur < 2 * n + 64)
		n = ((long)rl.rlim_cur - 64) / 2;
	return n < 0 ? 0 : n;
}

/* Lock f.0 .. f.(n-1) of dir, whole files, through descriptors that
 * survive exec (open_in's are close-on-exec: row 13 timed an exec that
 * carried nothing until this cleared it). */
static void lock_files(const char *dir, long n)
{
	char name[32];

	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(name, sizeof(name), "f.%ld", i);
		fd = open_in(dir, name, O_RDWR);
		if (fcntl(fd, F_SETFD, 0) < 0)
			die("F_SETFD");
		setlk(fd, F_SETLK, F_WRLCK, 0, 0);
	}
}

/* Row 11: fork (and the child's exit, and the wait) while holding arg
 * locked files. */
static void w_fork(struct child *c)
{
	lock_files(c->dir, lockable(c->arg));
	TIMED(c, {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	});
	c->ns_op = c->total_ns / c->iters;
}

/* Row 12: start a program that takes no lock (/bin/true), and wait. The
 * shim side runs it with LD_PRELOAD inherited. */
static void w_start(struct child *c)
{
	extern char **environ;
	char *argv[] = {"/bin/true", NULL};

	TIMED(c, {
		pid_t pid;
		int st;

		errno = posix_spawn(&pid, "/bin/true", NULL, NULL, argv,
				    environ);
		if (errno)
			die("posix_spawn /bin/true");
		waitpid(pid, &st, 0);
	});
	c->ns_op = c->total_ns / c->iters;
}

/* Row 13: exec of the same program while holding arg locked files (they
 * survive it, and under the shim the hand-over carries them): the child
 * locks, then execs itself iters + iters / 10 times (the tenth first, as
 * the warm-up); the last image prints the line. */
static const char *self_exe = "/proc/self/exe";

static void exec_next(long left, long warm, double t0, const char *dir,
		      long nfiles)
{
	char a[5][32], *argv[16];
	int n = 0;

	snprintf(a[0], 32, "%ld", left);
	snprintf(a[1], 32, "%ld", warm);
	snprintf(a[2], 32, "%.0f", t0);
	snprintf(a[3], 32, "%ld", nfiles);
	argv[n++] = "lsbench";
	argv[n++] = "--exec-chain";
	argv[n++] = a[0];
	argv[n++] = a[1];
	argv[n++] = a[2];
	argv[n++] = a[3];
	argv[n++] = (char *)dir;
	argv[n] = NULL;
	execv(self_exe, argv);
	die("exec %s", self_exe);
}

static void w_exec(struct child *c)
{
	long n = lockable(c->arg), warm = (c->iters + 9) / 10;

	lock_files(c->dir, n);
	fflush(stdout);
	exec_next(c->iters + warm, c->iters, 0, c->dir, n);
}

/* One step of the chain: "--exec-chain LEFT ITERS T0 NFILES DIR". */
static int exec_chain(char **argv)
{
	long left = atol(argv[0]), iters = atol(argv[1]), n = atol(argv[3]);
	double t0 = atof(argv[2]);

	if (left == iters)
		t0 = now_ns(); /* the warm-up is over */
	if (--left > 0)
		exec_next(left, iters, t0, argv[4], n);
	printf("%.3f %.0f %.3f\n", (now_ns() - t0) / iters, now_ns() - t0,
	       (double)n);
	return 0;
}

/* Row 14: F_SETLKW granted when another process lets go: the time from
 * the holder's unlock to the waiter's grant, averaged (ns_op; the loop
 * itself is paced by the holder, 200 us a round). */
static void w_grant(struct child *c)
{
	char path[PATH_MAX];
	volatile double *released;
	double sum = 0;
	int go[2], ack[2];
	pid_t pid;
	int fd;

	snprintf(path, sizeof(path), "%s/gr", c->dir);
	released = mmap(NULL, sizeof(*released), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (released == MAP_FAILED || pipe(go) < 0 || pipe(ack) < 0)
		die("mmap/pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int hfd = open(path, O_RDWR);
		char ch;

		/* "g": let go in 200 us (the waiter blocks meanwhile);
		 * "d": the waiter is done, lock again; each answered "l". */
		setlk(hfd, F_SETLK, F_WRLCK, 0, 1);
		if (write(ack[1], "l", 1) != 1)
			_exit(2);
		while (read(go[0], &ch, 1) == 1) {
			struct timespec d = {0, 200000};

			if (ch == 'g') {
				nanosleep(&d, NULL);
				*released = now_ns();
				setlk(hfd, F_SETLK, F_UNLCK, 0, 1);
				continue;
			}
			setlk(hfd, F_SETLK, F_WRLCK, 0, 1);
			if (write(ack[1], "l", 1) != 1)
				_exit(2);
		}
		_exit(0);
	}
	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open %s", path);
	TIMED(c, {
		char ch;

		if (read(ack[0], &ch, 1) != 1 || write(go[1], "g", 1) != 1)
			die("holder");
		setlk(fd, F_SETLKW, F_WRLCK, 0, 1);
		if (pass_)
			sum += now_ns() - *released;
		setlk(fd, F_SETLK, F_UNLCK, 0, 1);
		if (write(go[1], "d", 1) != 1)
			die("holder");
	});
	c->ns_op = sum / c->iters;
	close(go[1]);
	stop_child(pid);
}

/* ---- rows 15-16: backend = posix's deferred closes (issue 20) ------------- */

/* Row 15: lock, open and close another descriptor of the file, unlock:
 * SQLite's reader that opens the database again inside a transaction.
 * Plain, the close drops the lock; the anchor keeps it and the close is
 * a close; posix keeps the descriptor until the unlock, which closes it
 * for real. */
static void w_deferred(struct child *c)
{
	char path[PATH_MAX];
	int fd = open_in(c->dir, "dc", O_RDWR);

	snprintf(path, sizeof(path), "%s/dc", c->dir);
	TIMED(c, {
		int b;

		setlk(fd, F_SETLK, F_WRLCK, 0, 0);
		b = open(path, O_RDONLY);
		if (b < 0)
			die("open %s", path);
		if (close(b) < 0)
			die("close");
		setlk(fd, F_SETLK, F_UNLCK, 0, 0);
	});
	c->ns_op = c->total_ns / c->iters;
}

/* Row 16: close() of a descriptor that holds no lock while the process
 * holds a lock on another file: under backend = posix every such close
 * asks which file it names (it may be the locked one's). */
static void w_close_held(struct child *c)
{
	int base = open_in(c->dir, "oc", O_RDONLY);
	int held = open_in(c->dir, "ch", O_RDWR);

	setlk(held, F_SETLK, F_WRLCK, 0, 0);
	TIMED(c, {
		int fd = (int)syscall(SYS_dup, base);

		if (fd < 0)
			die("dup syscall");
		if (close(fd) < 0)
			die("close");
	});
	c->ns_op = c->total_ns / c->iters;
}

/* ---- the workloads, as the driver sees them ------------------------------ */

/* K_BACKENDS: plain, the shim with the anchor and with backend = posix,
 * the posix line below the anchor's. */
enum kind { K_RATIO, K_OFD, K_SCALE, K_THREADS, K_PERF, K_BACKENDS };

struct work {
	int row;
	const char *name;
	void (*fn)(struct child *c);
	enum kind kind;
	long arg;
	int same;
	double target;		/* max shim/plain (K_OFD: shim/ofd), 0: none */
	const char *tnote;	/* how the target reads in the table */
};

static void w_open0(struct child *c) { w_openclose(c, 0); }
static void w_openN(struct child *c) { w_openclose(c, NOTHER); }

static const struct work works[] = {
	{ 1, "open+close, no locks in the process", w_open0, K_RATIO,
	  0, 0, 1.02, "<=1.02" },
	{ 2, "open+close, 1000 other files locked", w_openN, K_RATIO,
	  0, 0, 1.05, "<=1.05" },
	{ 3, "dup+close", w_dupclose, K_RATIO, 0, 0, 1.02, "<=1.02" },
	{ 3, "fcntl(F_GETFL)", w_getfl, K_RATIO, 0, 0, 1.02, "<=1.02" },
	{ 4, "F_SETLK wrlck+unlck, anchor open", w_setlk, K_OFD,
	  0, 0, 1.3, "<=1.3x OFD" },
	{ 5, "open+first lock (new anchor)+close", w_first, K_BACKENDS,
	  0, 0, 4.0, "<=4" },
	{ 6, "churn: 1000 ranges lock+unlock, /call", w_churn, K_RATIO,
	  0, 0, 0, "report" },
	{ 7, "scale: lock N files, /lock", w_scale, K_SCALE,
	  0, 0, 200, "<=200 B/file" },
	{ 8, "threads: own file each, /pair", w_threads, K_THREADS,
	  1, 0, 0, "report" },
	{ 8, "threads: own file each, /pair", w_threads, K_THREADS,
	  2, 0, 0, "report" },
	{ 8, "threads: own file each, /pair", w_threads, K_THREADS,
	  4, 0, 0, "report" },
	{ 8, "threads: own file each, /pair", w_threads, K_THREADS,
	  8, 0, 0, "report" },
	{ 8, "threads: one file", w_threads, K_THREADS,
	  4, 1, 0, "report (conflicts=process)" },
	{ 9, "close() of an unlocked fd (raw dup)", w_close, K_PERF,
	  0, 0, 0, "report" },
	{ 10, "F_GETLK names a shimmed holder, again", w_getlk, K_RATIO,
	  0, 0, 0, "report" },
	{ 10, "  the same, asker holds a lock there", w_getlk, K_RATIO,
	  1, 0, 0, "report" },
	{ 11, "fork+exit+wait, no lock held", w_fork, K_RATIO,
	  0, 0, 1.05, "<=1.05" },
	{ 11, "fork+exit+wait, 1 file locked", w_fork, K_RATIO,
	  1, 0, 1.1, "<=1.1" },
	{ 11, "fork+exit+wait, 100 files locked", w_fork, K_RATIO,
	  100, 0, 1.1, "<=1.1" },
	{ 11, "fork+exit+wait, 5000 files locked", w_fork, K_RATIO,
	  5000, 0, 1.3, "<=1.3" },
	{ 12, "start /bin/true (posix_spawn+wait)", w_start, K_RATIO,
	  0, 0, 1.1, "<=1.1" },
	{ 13, "exec holding 100 locked files", w_exec, K_RATIO,
	  100, 0, 1.5, "<=1.5" },
	{ 13, "exec holding 5000 locked files", w_exec, K_RATIO,
	  5000, 0, 0, "report" },
	{ 14, "F_SETLKW: unlock to grant, ns", w_grant, K_RATIO,
	  0, 0, 0, "report (<=20 us)" },
	{ 15, "lock, open+close 2nd fd, unlock", w_deferred, K_BACKENDS,
	  0, 0, 0, "report" },
	{ 16, "close() unlocked fd, other file locked", w_close_held,
	  K_BACKENDS, 0, 0, 0, "report" },
};
#define NWORKS ((int)(sizeof(works) / sizeof(works[0])))

static int child_main(int w, struct child *c, int timeout)
{
	if (w < 0 || w >= NWORKS) {
		fprintf(stderr, "lsbench: no workload %d\n", w);
		return 2;
	}
	alarm(timeout); /* a hung lock call ends as SIGALRM, reported */
	works[w].fn(c);
	printf("%.3f %.0f %.3f\n", c->ns_op, c->total_ns, c->extra);
	fflush(stdout);
	return 0;
}

/* ---- the driver -------------------------------------------------------- */

static char self[PATH_MAX];
static const char *shim;
static char dir[64];
static int quick, big, rounds, timeout, only;
static double round_ns;
static int failed;

/* V_POSIX: the shim with backend = posix (issue 20). */
enum { V_PLAIN, V_SHIM, V_OFD, V_POSIX, NVAR };
static const char *const vname[NVAR] = { "plain", "shim", "ofd", "posix" };

struct series {
	int n;
	double ns[MAX_ROUNDS];
	double extra[MAX_ROUNDS];
	char err[96];
};

/*
 * Run one child: argv after the binary, LD_PRELOAD set for the shim.
 * With perf, the child runs under perf stat and out[0] gets the
 * instructions it counted. Returns 0, or -1 with why in err.
 */
static int run(char *const *args, int v, const char *perf_out, double out[3],
	       char *err, size_t errlen)
{
	char *argv[32], line[256] = "";
	int p[2], st, n = 0, k;
	ssize_t r;
	pid_t pid;

	if (perf_out) {
		argv[n++] = "perf";
		argv[n++] = "stat";
		argv[n++] = "-e";
		argv[n++] = "instructions";
		argv[n++] = "-x,";
		argv[n++] = "-o";
		argv[n++] = (char *)perf_out;
		argv[n++] = "--";
	}
	argv[n++] = self;
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		if (v == V_SHIM || v == V_POSIX) {
			setenv("LD_PRELOAD", shim, 1);
			setenv("LOCKSPACE_PRELOAD_MODE", "protect", 1);
			setenv("LOCKSPACE_PRELOAD_CONFLICTS", "process", 1);
			setenv("LOCKSPACE_PRELOAD_BACKEND",
			       v == V_POSIX ? "posix" : "anchor", 1);
		} else {
			unsetenv("LD_PRELOAD");
		}
		execvp(argv[0], argv);
		fprintf(stderr, "lsbench: exec %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(p[1]);
	k = 0;
	while (k < (int)sizeof(line) - 1 &&
	       (r = read(p[0], line + k, sizeof(line) - 1 - k)) > 0)
		k += r;
	line[k] = 0;
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st)) {
		snprintf(err, errlen, "%s child killed by %s", vname[v],
			 WTERMSIG(st) == SIGALRM ? "SIGALRM (hung)" :
			 strsignal(WTERMSIG(st)));
		return -1;
	}
	if (WEXITSTATUS(st)) {
		snprintf(err, errlen, "%s child exit %d", vname[v],
			 WEXITSTATUS(st));
		return -1;
	}
	if (sscanf(line, "%lf %lf %lf", &out[0], &out[1], &out[2]) != 3) {
		snprintf(err, errlen, "%s child: no result", vname[v]);
		return -1;
	}
	if (perf_out) {
		FILE *f = fopen(perf_out, "r");
		char pl[256];
		double ins = -1;

		while (f && fgets(pl, sizeof(pl), f))
			if (strstr(pl, ",instructions") &&
			    sscanf(pl, "%lf,", &ins) == 1)
				break;
		if (f)
			fclose(f);
		if (ins < 0) {
			snprintf(err, errlen, "perf: no count");
			return -1;
		}
		out[0] = ins;
	}
	return 0;
}

/* The arguments of workload w's child. */
static void child_args(char **a, char buf[4][32], int w, long iters, int v)
{
	int n = 0;

	snprintf(buf[0], 32, "%d", w);
	snprintf(buf[1], 32, "%ld", iters);
	snprintf(buf[2], 32, "%ld", works[w].arg);
	snprintf(buf[3], 32, "%d", timeout);
	a[n++] = "--work";
	a[n++] = buf[0];
	a[n++] = "--iters";
	a[n++] = buf[1];
	a[n++] = "--arg";
	a[n++] = buf[2];
	a[n++] = "--timeout";
	a[n++] = buf[3];
	a[n++] = "--dir";
	a[n++] = dir;
	if (v == V_OFD)
		a[n++] = "--ofd";
	a[n] = NULL;
}

static int run_work(int w, long iters, int v, long arg, double out[3],
		    char *err, size_t errlen)
{
	char *a[16], buf[4][32];

	child_args(a, buf, w, iters, v);
	if (arg)
		snprintf(buf[2], 32, "%ld", arg);
	return run(a, v, NULL, out, err, errlen);
}

/* Iterations that make a plain round last round_ns (0 on error). */
static long calibrate(int w, char *err, size_t errlen)
{
	long iters = w >= 0 && works[w].fn == w_churn ? 1 : 100;
	double out[3];

	for (;;) {
		if (run_work(w, iters, V_PLAIN, 0, out, err, errlen) < 0)
			return 0;
		if (out[1] >= round_ns / 8 || iters > (1L << 40))
			break;
		iters *= 8;
	}
	iters = (long)(iters * round_ns / (out[1] > 1 ? out[1] : 1)) + 1;
	return iters;
}

static void add(struct series *s, const double out[3])
{
	if (s->n < MAX_ROUNDS) {
		s->ns[s->n] = out[0];
		s->extra[s->n] = out[2];
		s->n++;
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n, double *mn, double *mx)
{
	double s[MAX_ROUNDS];

	if (n <= 0)
		return 0;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_d);
	if (mn)
		*mn = s[0];
	if (mx)
		*mx = s[n - 1];
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* "1234 [1200-1300]" */
static const char *fmt_series(char *buf, size_t len, const struct series *s)
{
	double mn, mx, med;

	if (s->err[0])
		return "error";
	med = median(s->ns, s->n, &mn, &mx);
	if (med >= 100)
		snprintf(buf, len, "%.0f [%.0f-%.0f]", med, mn, mx);
	else
		snprintf(buf, len, "%.1f [%.1f-%.1f]", med, mn, mx);
	return buf;
}

static void print_head(void)
{
	printf("\n%-3s %-38s %-22s %-22s %7s  %s\n", "row", "workload",
	       "plain ns/op [min-max]", "shim ns/op [min-max]", "ratio",
	       "target");
}

static void print_err(const struct series *s)
{
	if (s->err[0]) {
		printf("    error: %s\n", s->err);
		failed = 1;
	}
}

/* One line: plain, shim, ratio, target, note. */
static double print_pair(int row, const char *name, const struct series *p,
			 const struct series *s, double target,
			 const char *tnote, const char *note)
{
	char b1[48], b2[48], r[16] = "-", t[48];
	double ratio = 0;

	if (!p->err[0] && !s->err[0]) {
		ratio = median(s->ns, s->n, NULL, NULL) /
			median(p->ns, p->n, NULL, NULL);
		snprintf(r, sizeof(r), "%.3f", ratio);
	}
	if (target > 0 && ratio > 0)
		snprintf(t, sizeof(t), "%s %s", tnote,
			 ratio <= target ? "ok" : "MISSED");
	else
		snprintf(t, sizeof(t), "%s", tnote);
	printf("%-3d %-38s %-22s %-22s %7s  %s%s%s\n", row, name,
	       fmt_series(b1, sizeof(b1), p), fmt_series(b2, sizeof(b2), s),
	       r, t, note ? "  " : "", note ? note : "");
	print_err(p);
	print_err(s);
	return ratio;
}

/* Rows 1-6, 8 and the timing of row 9: rounds of A B (C ...), the
 * variants of mask (1 << V_*), sv indexed by variant. */
static void bench_variants(int w, unsigned mask, struct series *sv)
{
	char err[96] = "";
	double out[3];
	long iters;

	memset(sv, 0, NVAR * sizeof(*sv));
	iters = calibrate(w, err, sizeof(err));
	if (!iters) {
		for (int v = 0; v < NVAR; v++)
			snprintf(sv[v].err, sizeof(sv[v].err), "%s", err);
		return;
	}
	for (int r = 0; r < rounds; r++) {
		for (int v = 0; v < NVAR; v++) {
			if (!(mask & (1u << v)) || sv[v].err[0])
				continue;
			if (run_work(w, iters, v, 0, out, sv[v].err,
				     sizeof(sv[v].err)) == 0)
				add(&sv[v], out);
		}
	}
}

static void bench_rounds(int w, int nvar, struct series *sv)
{
	bench_variants(w, (1u << nvar) - 1, sv);
}

/* The line of backend = posix below the anchor's. */
static void print_posix(int row, const struct series *sv, double target,
			const char *tnote)
{
	print_pair(row, "  the same, backend = posix", &sv[V_PLAIN],
		   &sv[V_POSIX], target, tnote, NULL);
}

static int perf_ok;

/* Does `perf stat -e instructions` count here? (VMs often lack the PMU.) */
static int perf_probe(void)
{
	char path[128], line[256];
	int ok = 0, st;
	FILE *f;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/perf.probe", dir);
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		dup2(nul, 1);
		dup2(nul, 2);
		execlp("perf", "perf", "stat", "-e", "instructions", "-x,",
		       "-o", path, "--", "true", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st))
		return 0;
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, ",instructions") && line[0] >= '0' &&
		    line[0] <= '9')
			ok = 1;
	if (f)
		fclose(f);
	unlink(path);
	return ok;
}

/*
 * Row 9 with perf: instructions of a child that runs K and one that runs
 * 2K iterations; the difference over K is the cost of one iteration, with
 * the start-up of the process (and of the shim) cancelled out.
 */
static void bench_perf(int w, struct series *sv)
{
	char *a[16], buf[4][32], path[128];
	long k = quick ? 100000 : 1000000;
	double o1[3], o2[3];

	memset(sv, 0, 2 * sizeof(*sv));
	snprintf(path, sizeof(path), "%s/perf.out", dir);
	for (int r = 0; r < rounds; r++) {
		for (int v = 0; v < 2; v++) {
			struct series *s = &sv[v];

			if (s->err[0])
				continue;
			child_args(a, buf, w, k, v);
			if (run(a, v, path, o1, s->err, sizeof(s->err)))
				continue;
			child_args(a, buf, w, 2 * k, v);
			if (run(a, v, path, o2, s->err, sizeof(s->err)))
				continue;
			/* the warm-up pass runs a tenth more */
			o1[0] = (o2[0] - o1[0]) / (k * 1.1);
			add(s, o1);
		}
	}
	unlink(path);
}

static long nofile_hard;

/* Descriptors for n files: the program's own, plus one anchor each. */
static long files_allowed(long want)
{
	struct rlimit rl;
	long need = 2 * want + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if ((long)rl.rlim_max < need) {
		struct rlimit nr = { need, need };

		/* privileged: raise the hard limit for the children too */
		if (setrlimit(RLIMIT_NOFILE, &nr) == 0)
			rl = nr;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	nofile_hard = (long)rl.rlim_max;
	return want < (nofile_hard - 64) / 2 ? want : (nofile_hard - 64) / 2;
}

static void bench_scale(int w)
{
	long want[3] = { 10000, 100000, 1000000 };
	int nn = big ? 3 : 2, nr = quick ? 2 : 3;
	long done = 0;
	double prev_ns = 0, pred;

	if (quick) {
		want[0] = 1000;
		nn = 1;
	}
	for (int i = 0; i < nn; i++) {
		long n = files_allowed(want[i]);
		struct series sv[2];
		double out[3], mp, ms;
		char name[64], note[128];

		if (n <= done) {
			printf("%-3d %-38s (%ld files: RLIMIT_NOFILE %ld "
			       "allows %ld, measured above)\n", 7, "scale",
			       want[i], nofile_hard, n);
			continue;
		}
		/* the cost per lock may grow with n: extrapolate it as
		 * linear in n from the size before, and keep the run short */
		pred = prev_ns * n / 1e9 * n / (done ? done : 1);
		if (pred > 120) {
			printf("%-3d %-38s (%ld files: skipped, about %.0f s "
			       "per run from the size before)\n", 7, "scale",
			       n, pred);
			continue;
		}
		done = n;
		memset(sv, 0, sizeof(sv));
		for (int r = 0; r < (pred > 10 || n >= 1000000 ? 1 : nr); r++)
			for (int v = 0; v < 2; v++)
				if (!sv[v].err[0] &&
				    run_work(w, 1, v, n, out, sv[v].err,
					     sizeof(sv[v].err)) == 0)
					add(&sv[v], out);
		snprintf(name, sizeof(name), "scale: lock %ld files, /lock", n);
		mp = median(sv[0].extra, sv[0].n, NULL, NULL);
		ms = median(sv[1].extra, sv[1].n, NULL, NULL);
		if (sv[0].err[0] || sv[1].err[0])
			snprintf(note, sizeof(note), "memory: error");
		else
			snprintf(note, sizeof(note),
				 "RSS/file plain %.0f B, shim %.0f B: "
				 "%.0f B/file %s", mp, ms, ms - mp,
				 ms - mp <= works[w].target ? "ok" : "MISSED");
		print_pair(7, name, &sv[0], &sv[1], 0, works[w].tnote, note);
		prev_ns = median(sv[1].ns, sv[1].n, NULL, NULL);
	}
}

static void rm_dir(void)
{
	DIR *d;
	struct dirent *e;
	int dfd;

	if (!dir[0])
		return;
	d = opendir(dir);
	if (d) {
		dfd = dirfd(d);
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				unlinkat(dfd, e->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
	dir[0] = 0;
}

static void on_signal(int sig)
{
	rm_dir();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void print_machine(void)
{
	struct utsname u;
	struct rlimit rl = { 0, 0 };
	char line[256], model[128] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && p) {
			snprintf(model, sizeof(model), "%s", p + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	uname(&u);
	printf("lsbench: machine: nproc %ld, %s %s %s, CPU %s\n",
	       sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release,
	       u.machine, model);
	printf("lsbench: shim %s\n", shim);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (others_allowed() < NOTHER)
		printf("lsbench: RLIMIT_NOFILE %ld: row 2 locks %d other "
		       "files, not %d\n", (long)rl.rlim_cur, others_allowed(),
		       NOTHER);
	printf("lsbench: %d rounds of >= %.2f s per side, plain and shim "
	       "alternating; files in %s%s\n", rounds, round_ns / 1e9, dir,
	       quick ? " (--quick)" : "");
}

static void create(const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "lsbench\n", 8) != 8) {
		fprintf(stderr, "lsbench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

static int driver(void)
{
	struct series sv[NVAR], t1[NVAR];
	ssize_t n;
	char name[32];

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		perror("lsbench: /proc/self/exe");
		return 1;
	}
	self[n] = 0;
	if (access(shim, R_OK) < 0) {
		fprintf(stderr, "lsbench: %s: %s\n", shim, strerror(errno));
		return 1;
	}
	snprintf(dir, sizeof(dir), "/dev/shm/lsbench.XXXXXX");
	if (access("/dev/shm", W_OK) < 0)
		snprintf(dir, sizeof(dir), "/tmp/lsbench.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("lsbench: mkdtemp");
		return 1;
	}
	atexit(rm_dir);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	create("oc");
	create("lk");
	create("first");
	create("churn");
	create("gl");
	create("gr");
	create("dc");
	create("ch");
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "t.%d", i);
		create(name);
	}
	for (int i = 0; i < (quick ? 100 : 5000); i++) {
		snprintf(name, sizeof(name), "f.%d", i);
		create(name);
	}
	perf_ok = perf_probe();
	print_machine();
	print_head();
	memset(t1, 0, sizeof(t1));
	for (int w = 0; w < NWORKS; w++) {
		const struct work *k = &works[w];
		char label[64], note[160];

		if (only && k->row != only)
			continue;
		if (quick && k->arg >= 5000)
			continue; /* minutes of forks and execs */
		fflush(stdout);
		switch (k->kind) {
		case K_RATIO:
			bench_rounds(w, 2, sv);
			print_pair(k->row, k->name, &sv[0], &sv[1], k->target,
				   k->tnote, NULL);
			break;
		case K_BACKENDS:
			bench_variants(w, 1u << V_PLAIN | 1u << V_SHIM |
				       1u << V_POSIX, sv);
			print_pair(k->row, k->name, &sv[V_PLAIN], &sv[V_SHIM],
				   k->target, k->tnote, NULL);
			print_posix(k->row, sv, k->target, k->tnote);
			break;
		case K_OFD: {
			char b[48];
			double ofd, shm;

			bench_variants(w, 1u << V_PLAIN | 1u << V_SHIM |
				       1u << V_OFD | 1u << V_POSIX, sv);
			print_pair(k->row, k->name, &sv[0], &sv[1], 0,
				   "vs plain: report", NULL);
			note[0] = 0;
			if (!sv[1].err[0] && !sv[2].err[0]) {
				shm = median(sv[1].ns, sv[1].n, NULL, NULL);
				ofd = median(sv[2].ns, sv[2].n, NULL, NULL);
				snprintf(note, sizeof(note),
					 "shim/ofd %.3f  %s %s", shm / ofd,
					 k->tnote, shm / ofd <= k->target ?
					 "ok" : "MISSED");
			}
			printf("%-3s %-38s %-22s %-22s %7s  %s\n", "",
			       "  bare F_OFD_SETLK pair (plain)",
			       fmt_series(b, sizeof(b), &sv[2]), "", "",
			       note);
			print_err(&sv[2]);
			print_posix(k->row, sv, 0, "vs plain: report");
			break;
		}
		case K_SCALE:
			bench_scale(w);
			break;
		case K_THREADS: {
			double p, s;

			bench_rounds(w, 2, sv);
			if (k->arg == 1 && !k->same)
				memcpy(t1, sv, sizeof(t1));
			note[0] = 0;
			if (!sv[0].err[0] && !sv[1].err[0] &&
			    !t1[0].err[0] && !t1[1].err[0] && t1[0].n) {
				p = median(t1[0].ns, t1[0].n, NULL, NULL) /
				    median(sv[0].ns, sv[0].n, NULL, NULL);
				s = median(t1[1].ns, t1[1].n, NULL, NULL) /
				    median(sv[1].ns, sv[1].n, NULL, NULL);
				snprintf(note, sizeof(note),
					 "throughput vs 1 thread: "
					 "plain %.2fx, shim %.2fx", p, s);
			}
			snprintf(label, sizeof(label), "threads: %ld %s",
				 k->arg, k->same ? "on one file, /pair" :
				 "x own file, /pair");
			print_pair(k->row, label, &sv[0], &sv[1], 0,
				   k->tnote, note);
			break;
		}
		case K_PERF:
			bench_rounds(w, 2, sv);
			print_pair(k->row, k->name, &sv[0], &sv[1], 0,
				   "report", NULL);
			if (!perf_ok) {
				printf("%-3s %-38s perf not available "
				       "(perf stat -e instructions does not "
				       "count here)\n", "", "  instructions "
				       "per close()");
				break;
			}
			bench_perf(w, sv);
			print_pair(k->row, "  instructions/iter (perf stat)",
				   &sv[0], &sv[1], 0, "report", NULL);
			if (!sv[0].err[0] && !sv[1].err[0])
				printf("%-3s %-38s shim adds %.1f "
				       "instructions per close()\n", "", "",
				       median(sv[1].ns, sv[1].n, NULL, NULL) -
				       median(sv[0].ns, sv[0].n, NULL, NULL));
			break;
		}
	}
	fflush(stdout);
	if (failed)
		fprintf(stderr, "lsbench: a workload failed (see \"error\" "
			"above)\n");
	return failed ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: lsbench --shim PATH [--quick] [--big] "
		"[--only ROW]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct child c;
	int w = -1;

	memset(&c, 0, sizeof(c));
	if (argc == 7 && !strcmp(argv[1], "--exec-chain"))
		return exec_chain(argv + 2);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--quick")) {
			quick = 1;
		} else if (!strcmp(a, "--big")) {
			big = 1;
		} else if (!strcmp(a, "--ofd")) {
			c.ofd = 1;
		} else if (!v) {
			usage();
		} else if (!strcmp(a, "--shim")) {
			shim = v, i++;
		} else if (!strcmp(a, "--only")) {
			only = atoi(v), i++;
		} else if (!strcmp(a, "--work")) {
			w = atoi(v), i++;
		} else if (!strcmp(a, "--iters")) {
			c.iters = atol(v), i++;
		} else if (!strcmp(a, "--arg")) {
			c.arg = atol(v), i++;
		} else if (!strcmp(a, "--timeout")) {
			timeout = atoi(v), i++;
		} else if (!strcmp(a, "--dir")) {
			c.dir = v, i++;
		} else {
			usage();
		}
	}
	if (w >= 0) {
		if (!c.dir || c.iters < 1)
			usage();
		c.same = works[w < NWORKS ? w : 0].same;
		return child_main(w, &c, timeout > 0 ? timeout : 60);
	}
	if (!shim)
		usage();
	rounds = quick ? 3 : 7;
	round_ns = quick ? 0.02e9 : 0.2e9;
	timeout = quick ? 15 : 90;
	/* the children inherit it: up to the hard limit (systemd's soft
	 * limit is 1024) */
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	return driver();
}
