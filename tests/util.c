/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/util.c: helpers shared by the test files. */
#include "util.h"

#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdarg.h>
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

#ifndef BUILD_DIR
#define BUILD_DIR "build"
#endif

/* What a test made in /tmp goes when its process exits: a test that
 * skips (cr_skip_test) or fails an assertion never reaches its suite's
 * .fini, but exit() runs atexit handlers. A child the test forks inherits
 * the list and leaves it alone: only the process that made a path
 * removes it. */
static struct {
	pid_t pid;
	char path[128];
} *made;
static size_t nmade;

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int tu_rm_rf(const char *path)
{
	int r = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);

	return r == 0 || errno == ENOENT ? 0 : -1;
}

static void remove_made(void)
{
	for (size_t i = nmade; i-- > 0;)
		if (made[i].pid == getpid())
			tu_rm_rf(made[i].path);
}

static void remove_at_exit(const char *path)
{
	void *p = realloc(made, (nmade + 1) * sizeof(*made));

	if (!p || strlen(path) >= sizeof(made->path))
		return;
	if (!made)
		atexit(remove_made);
	made = p;
	made[nmade].pid = getpid();
	strcpy(made[nmade++].path, path);
}

char *tu_mkdtemp(char *tmpl)
{
	char *dir = mkdtemp(tmpl);

	if (dir)
		remove_at_exit(dir);
	return dir;
}

int tu_tmpfile(char *path, size_t len, off_t size)
{
	int fd;

	snprintf(path, len, "/tmp/lockspace-test-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	remove_at_exit(path);
	if (size && ftruncate(fd, size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int by_start(const void *a, const void *b)
{
	const struct kernel_lock *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int parse_locks(const char *path, int fd, struct kernel_lock *out,
		       int max);

/* One process's POSIX locks on a file never coincide (the kernel merges
 * or splits them), so an entry met twice was read twice. OFD and flock
 * entries can coincide for real: two descriptions' read locks. */
static int posix_seen(const struct kernel_lock *k, int n, const char *kind,
		      const char *type, int pid, long long start,
		      const char *end)
{
	int64_t e = strcmp(end, "EOF") ? atoll(end) : -1;

	if (strcmp(kind, "POSIX"))
		return 0;
	for (int i = 0; i < n; i++)
		if (!strcmp(k[i].kind, kind) && !strcmp(k[i].type, type) &&
		    k[i].pid == pid && k[i].start == start && k[i].end == e)
			return 1;
	return 0;
}

/* /proc/locks read in pieces can skip or repeat entries while other
 * processes lock (the tests run in parallel). */
int tu_kernel_locks(int fd, struct kernel_lock *out, int max)
{
	struct kernel_lock *prev = calloc((size_t)max + 1, sizeof(*prev));
	int n = parse_locks("/proc/locks", fd, out, max), pn, same = 0;

	/* Three readings in a row that agree: one that skipped an entry
	 * while other processes locked would not be repeated twice more. */
	for (int tries = 0; prev && same < 2 && tries < 50; tries++) {
		memcpy(prev, out, sizeof(*out) * (size_t)(n > 0 ? n : 0));
		pn = n;
		n = parse_locks("/proc/locks", fd, out, max);
		if (n == pn && (n <= 0 ||
				!memcmp(prev, out, sizeof(*out) * (size_t)n)))
			same++;
		else
			same = 0;
	}
	free(prev);
	return n;
}

const char *tu_kernel_locks_str(const struct kernel_lock *k, int n)
{
	static __thread char buf[1024];
	size_t len = 0;

	buf[0] = 0;
	for (int i = 0; i < n && len < sizeof(buf); i++) {
		int w = snprintf(buf + len, sizeof(buf) - len,
				 "%s%s %s pid %d %lld-%lld", i ? "; " : "",
				 k[i].kind, k[i].type, (int)k[i].pid,
				 (long long)k[i].start, (long long)k[i].end);

		if (w < 0)
			break;
		len += (size_t)w;
	}
	return n > 0 ? buf : "none";
}

int tu_fd_locks(int fd, struct kernel_lock *out, int max)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return parse_locks(path, fd, out, max);
}

/* /proc/locks is a seq_file that returns a page per read and restarts
 * from its position: entries can be skipped when other processes lock
 * meanwhile (tests run in parallel). fdinfo lists one file's locks taken
 * through that descriptor, in one page. Opened and closed with the raw
 * syscalls: a close through the shim is not what this is about. */
static int parse_locks(const char *path, int fd, struct kernel_lock *out,
		       int max)
{
	size_t cap = 8 << 20, len = 0;
	struct stat st;
	char *buf, *line, *save = NULL;
	int pfd, n = 0;

	if (fstat(fd, &st) < 0)
		return -1;
	buf = malloc(cap);
	pfd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (!buf || pfd < 0) {
		free(buf);
		return -1;
	}
	for (;;) {
		ssize_t r = read(pfd, buf + len, cap - 1 - len);

		if (r <= 0)
			break;
		len += (size_t)r;
	}
	syscall(SYS_close, pfd);
	buf[len] = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char kind[15], adv[16], type[15], end[32];
		unsigned maj, min;
		unsigned long ino;
		long long start;
		int pid;

		if (strstr(line, "->"))
			continue;
		if (!strncmp(line, "lock:", 5))
			line += 5;
		if (sscanf(line, "%*d: %14s %15s %14s %d %x:%x:%lu %lld %31s",
			   kind, adv, type, &pid, &maj, &min, &ino, &start,
			   end) != 9)
			continue;
		if (ino != st.st_ino || makedev(maj, min) != st.st_dev)
			continue;
		if (n < max && posix_seen(out, n, kind, type, pid, start, end))
			continue; /* the same entry again: read across a change */
		if (n < max) {
			snprintf(out[n].kind, sizeof(out[n].kind), "%s", kind);
			snprintf(out[n].type, sizeof(out[n].type), "%s", type);
			out[n].pid = pid;
			out[n].start = start;
			out[n].end = strcmp(end, "EOF") ? atoll(end) : -1;
		}
		n++;
	}
	free(buf);
	if (n > max)
		n = max;
	qsort(out, n, sizeof(*out), by_start);
	return n;
}

int tu_probe(const char *path, off_t start, off_t len, pid_t *pid)
{
	int pfd[2], status;
	struct flock fl;
	pid_t child;

	if (pipe(pfd) < 0)
		return -1;
	child = fork();
	if (child == 0) {
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = start;
		fl.l_len = len;
		if (fd < 0 || syscall(SYS_fcntl, fd, F_GETLK, &fl) < 0)
			fl.l_type = -1;
		if (write(pfd[1], &fl, sizeof(fl)) != sizeof(fl))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = -1;
	if (read(pfd[0], &fl, sizeof(fl)) != sizeof(fl))
		fl.l_type = -1;
	close(pfd[0]);
	waitpid(child, &status, 0);
	if (pid)
		*pid = fl.l_pid;
	return fl.l_type;
}

const char *tu_prog(const char *name)
{
	static __thread char buf[4096];
	const char *dir = getenv("LOCKSPACE_TEST_PROGS");

	snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : BUILD_DIR "/progs",
		 name);
	return buf;
}

const char *tu_preload(void)
{
	const char *p = getenv("LOCKSPACE_TEST_PRELOAD");

	return p && *p ? p : BUILD_DIR "/liblockspace-preload.so";
}

int tu_prog_off_bits(void)
{
	const char *p = getenv("LOCKSPACE_TEST_PROGS_OFF_BITS");

	return p && atoi(p) == 32 ? 32 : 64;
}

int tu_elf_class(const char *path)
{
	unsigned char id[EI_NIDENT];
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = -1;

	if (fd >= 0) {
		if (read(fd, id, sizeof(id)) == (ssize_t)sizeof(id) &&
		    !memcmp(id, ELFMAG, SELFMAG))
			r = id[EI_CLASS];
		close(fd);
	}
	return r;
}

int tu_preload_fits(const char *path)
{
	const char *p = tu_preload(), *lib = strrchr(p, ' ');

	/* the shim is the last word (a sanitizer's runtime comes first) */
	return tu_elf_class(path) == tu_elf_class(lib ? lib + 1 : p);
}

/* make check sets LOCKSPACE_TEST_LOG: the programs' stderr and the tests'
 * notes go there, so that a passing run prints the runner's lines only.
 * Run by hand, without it, they stay on stderr. -1: stderr. */
static int test_log(void)
{
	const char *p = getenv("LOCKSPACE_TEST_LOG");

	if (!p || !*p)
		return -1;
	return open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* In a child about to exec: its stderr to the test log. */
static void stderr_to_log(void)
{
	int fd = test_log();

	if (fd >= 0 && fd != 2) {
		dup2(fd, 2);
		close(fd);
	}
}

void tu_note(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int fd = test_log(), n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(fd >= 0 ? fd : 2, buf, (size_t)n) < 0)
		n = 0;
	if (fd >= 0)
		close(fd);
}

int tu_run(int preload, const char *const *argv, const char *const *env,
	   char *out, size_t outlen)
{
	int pfd[2], status;
	size_t got = 0;
	pid_t child;

	if (pipe(pfd) < 0)
		return -1;
	child = fork();
	if (child == 0) {
		int i;

		dup2(pfd[1], 1);
		stderr_to_log();
		close_range(3, ~0U, 0);	/* the runner's own (Criterion's) */
		unsetenv("LD_PRELOAD");
		if (preload)
			setenv("LD_PRELOAD", tu_preload(), 1);
		for (i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		if (preload == TU_POSIX)
			putenv("LOCKSPACE_PRELOAD_BACKEND=posix");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r;

		if (!out || got + 1 >= outlen) {
			char sink[256];

			r = read(pfd[0], sink, sizeof(sink));
		} else {
			r = read(pfd[0], out + got, outlen - 1 - got);
			if (r > 0)
				got += (size_t)r;
		}
		if (r > 0 || (r < 0 && errno == EINTR))
			continue;
		break;
	}
	if (out && outlen)
		out[got] = 0;
	close(pfd[0]);
	if (waitpid(child, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

int tu_proc_start(struct tu_proc *p, int preload, const char *const *argv,
		  const char *const *env)
{
	int in[2], out[2];

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	signal(SIGPIPE, SIG_IGN);	/* a dead program: EPIPE, no kill */
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	p->pid = fork();
	if (p->pid == 0) {
		int i;

		dup2(in[0], 0);
		dup2(out[1], 1);
		stderr_to_log();
		close_range(3, ~0U, 0);	/* the runner's own (Criterion's) */
		unsetenv("LD_PRELOAD");
		if (preload)
			setenv("LD_PRELOAD", tu_preload(), 1);
		for (i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		if (preload == TU_POSIX)
			putenv("LOCKSPACE_PRELOAD_BACKEND=posix");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->in = in[1];
	p->out = out[0];
	if (p->pid < 0) {
		close(p->in);
		close(p->out);
		return -1;
	}
	return 0;
}

/* Reads what is there (waiting up to timeout_ms); 1 read, 0 EOF, -1. */
static int proc_read(struct tu_proc *p, int timeout_ms)
{
	struct pollfd pfd = { .fd = p->out, .events = POLLIN };
	ssize_t r;

	if (p->out < 0)
		return 0;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	if (p->len + 1 >= sizeof(p->buf)) {
		char sink[256];

		r = read(p->out, sink, sizeof(sink));
	} else {
		r = read(p->out, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
		if (r > 0)
			p->len += (size_t)r;
		p->buf[p->len] = 0;
	}
	if (r < 0 && errno == EINTR)
		return 1;
	if (r <= 0) {
		close(p->out);
		p->out = -1;
		return 0;
	}
	return 1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int tu_proc_ready(struct tu_proc *p, int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	for (;;) {
		char *r = strstr(p->buf + p->seen, "ready\n");
		long left;

		if (r && (r == p->buf || r[-1] == '\n')) {
			p->seen = (size_t)(r - p->buf) + 6;
			return 0;
		}
		left = end - now_ms();
		if (left <= 0 || proc_read(p, (int)left) <= 0)
			return -1;
	}
}

int tu_proc_continue(struct tu_proc *p)
{
	return write(p->in, "\n", 1) == 1 ? 0 : -1;
}

int tu_proc_finish(struct tu_proc *p, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	int status;
	pid_t r;

	if (p->in >= 0)
		close(p->in);
	p->in = -1;
	while (p->out >= 0 && now_ms() < end)
		if (proc_read(p, (int)(end - now_ms())) < 0)
			break;
	if (p->out >= 0)
		close(p->out);
	p->out = -1;
	if (p->pid <= 0)
		return -1;
	while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 &&
	       now_ms() < end) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (r == 0) {
		kill(p->pid, SIGKILL);
		r = waitpid(p->pid, &status, 0);
	}
	p->pid = -1;
	if (r < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

const char *tu_proc_result(const struct tu_proc *p, const char *step)
{
	static __thread char res[512];
	size_t n = strlen(step);
	const char *l = p->buf;

	while (l && *l) {
		if (!strncmp(l, step, n) && !strncmp(l + n, " = ", 3)) {
			const char *e = strchr(l, '\n');
			size_t len = e ? (size_t)(e - l) - n - 3
				       : strlen(l + n + 3);

			if (len >= sizeof(res))
				len = sizeof(res) - 1;
			memcpy(res, l + n + 3, len);
			res[len] = 0;
			return res;
		}
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return NULL;
}

pid_t tu_hold(const char *path, short type, off_t start, off_t len,
	      int *release)
{
	int up[2], down[2];
	char c = 0;
	pid_t pid;

	if (pipe(up) < 0)
		return -1;
	if (pipe(down) < 0) {
		close(up[0]);
		close(up[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
				    .l_start = start, .l_len = len };
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
				      type == F_WRLCK ? O_RDWR : O_RDONLY);

		close(up[0]);
		close(down[1]);
		if (fd < 0 || syscall(SYS_fcntl, fd, F_SETLK, &fl) < 0)
			_exit(1);
		if (write(up[1], "x", 1) != 1)
			_exit(1);
		while (read(down[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (pid < 0 || read(up[0], &c, 1) != 1) {
		close(up[0]);
		close(down[1]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return -1;
	}
	close(up[0]);
	*release = down[1];
	return pid;
}

void tu_unhold(pid_t pid, int release)
{
	close(release);
	waitpid(pid, NULL, 0);
}

static const char *tn(int t)
{
	return t == F_RDLCK ? "F_RDLCK" : t == F_WRLCK ? "F_WRLCK" :
	       t == F_UNLCK ? "F_UNLCK" : "error";
}

static void check_expect(int shim, int ready, const char *probe_path,
			 const struct tu_expect *ex, int nex,
			 const struct tu_proc *p)
{
	for (int i = 0; i < nex; i++) {
		int want = shim ? ex[i].shim & 0xff : ex[i].plain, got;

		if (shim == TU_POSIX && ex[i].shim >> 8)
			want = (ex[i].shim >> 8) - 1;

		if (ex[i].ready != ready)
			continue;
		got = tu_probe(probe_path, ex[i].start, ex[i].len, NULL);
		cr_expect_eq(got, want,
			     "[%s] at ready %d, bytes %lld+%lld: %s, want %s\n"
			     "program output:\n%s",
			     how(shim), ready,
			     (long long)ex[i].start, (long long)ex[i].len,
			     tn(got), tn(want), p->buf);
	}
}

int tu_script_run(int shim, const char *prog, const char *path,
		  const char *probe_path, const char *const *steps,
		  const char *const *env, const struct tu_expect *ex, int nex,
		  tu_ready_fn fn, void *arg, struct tu_proc *p)
{
	const char *argv[128];
	int n = 0, nready = 0, st;

	argv[n++] = tu_prog(prog);
	if (path)
		argv[n++] = path;
	for (int i = 0; steps && steps[i] && n < 127; i++) {
		argv[n++] = steps[i];
		nready += !strcmp(steps[i], "ready");
	}
	argv[n] = NULL;
	if (!steps)
		nready = 1; /* a program without steps (fdwalk) */
	if (!probe_path)
		probe_path = path;
	cr_assert(tu_proc_start(p, shim, argv, env) == 0, "spawn %s",
		  argv[0]);
	for (int r = 0; r < nready; r++) {
		if (tu_proc_ready(p, 10000) < 0) {
			st = tu_proc_finish(p, 0);	/* kills a hung one */
			cr_assert_fail("[%s] no ready %d from %s (status %d); "
				       "output:\n%s", how(shim),
				       r, prog, st, p->buf);
		}
		check_expect(shim, r, probe_path, ex, nex, p);
		if (fn)
			fn(shim, r, p, arg);
		tu_proc_continue(p);
	}
	st = tu_proc_finish(p, 20000);
	check_expect(shim, nready, probe_path, ex, nex, p);
	return st;
}

int tu_probe_count(const char *dir, int n, off_t start, off_t len)
{
	int pfd[2], status, count = -1;
	pid_t child;

	if (pipe(pfd) < 0)
		return -1;
	child = fork();
	if (child == 0) {
		char path[4096];

		count = 0;
		for (int i = 0; i < n; i++) {
			struct flock fl = { .l_type = F_WRLCK,
					    .l_whence = SEEK_SET,
					    .l_start = start, .l_len = len };
			int fd;

			snprintf(path, sizeof(path), "%s/%d", dir, i);
			fd = (int)syscall(SYS_openat, AT_FDCWD, path,
					  O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			if (syscall(SYS_fcntl, fd, F_GETLK, &fl) == 0 &&
			    fl.l_type == F_WRLCK)
				count++;
			syscall(SYS_close, fd);
		}
		if (write(pfd[1], &count, sizeof(count)) != sizeof(count))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &count, sizeof(count)) != sizeof(count))
		count = -1;
	close(pfd[0]);
	waitpid(child, &status, 0);
	return count;
}

/* ---- a lockprog script run both ways ---------------------------------- */

struct tu_proc tu_out[TU_RUNS];

char *tu_mkfile(off_t size)
{
	static char path[64];
	int fd = tu_tmpfile(path, sizeof(path), size);

	cr_assert(fd >= 0, "tmpfile: %s", strerror(errno));
	close(fd);
	return path;
}

/* How many runs the last tu_script_*() made (2 or TU_RUNS). */
static int last_runs = 2;

static void script_runs(int runs, const char *prog, const char *path,
			const char *probe_path, const char *const *env,
			const char *const *steps, const struct tu_expect *ex,
			int nex, tu_ready_fn fn, void *arg)
{
	last_runs = runs;
	for (int shim = 0; shim < runs; shim++) {
		int st = tu_script_run(shim, prog, path, probe_path, steps,
				       env, ex, nex, fn, arg, &tu_out[shim]);

		cr_expect_eq(st, 0, "[%s] %s exited with %d; output:\n%s",
			     how(shim), prog, st, tu_out[shim].buf);
	}
}

void tu_script_both_prog(const char *prog, const char *path,
			 const char *probe_path, const char *const *env,
			 const char *const *steps, const struct tu_expect *ex,
			 int nex, tu_ready_fn fn, void *arg)
{
	script_runs(2, prog, path, probe_path, env, steps, ex, nex, fn, arg);
}

void tu_script_both(const char *path, const char *const *env,
		    const char *const *steps, const struct tu_expect *ex,
		    int nex, tu_ready_fn fn, void *arg)
{
	tu_script_both_prog("lockprog", path, NULL, env, steps, ex, nex, fn,
			    arg);
}

void tu_script_all(const char *path, const char *const *env,
		   const char *const *steps, const struct tu_expect *ex,
		   int nex, tu_ready_fn fn, void *arg)
{
	script_runs(TU_RUNS, "lockprog", path, NULL, env, steps, ex, nex, fn,
		    arg);
}

const char *tu_res(int shim, const char *step)
{
	const char *r = tu_proc_result(&tu_out[shim], step);

	return r ? r : "(no output)";
}

void tu_expect_res2(const char *step, const char *plain, const char *shim)
{
	cr_expect_str_eq(tu_res(0, step), plain, "[plain] %s: %s, want %s\n%s",
			 step, tu_res(0, step), plain, tu_out[0].buf);
	cr_expect_str_eq(tu_res(1, step), shim, "[shim] %s: %s, want %s\n%s",
			 step, tu_res(1, step), shim, tu_out[1].buf);
	if (last_runs == TU_RUNS)
		cr_expect_str_eq(tu_res(2, step), shim,
				 "[posix] %s: %s, want %s\n%s", step,
				 tu_res(2, step), shim, tu_out[2].buf);
}

void tu_expect_res(const char *step, const char *want)
{
	tu_expect_res2(step, want, want);
}
