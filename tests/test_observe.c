/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_observe.c: mode = observe and the shim's events (issue 5).
 *
 * lockprog (tests/progs/) runs with LOCKSPACE_PRELOAD_LOG pointing at a
 * fresh file; the tests read the logfmt lines back and check each field.
 * Under observe the kernel locks are plain POSIX locks: a probe from
 * another process sees a lock lost exactly where it is lost without the
 * shim, and the program sees the same results. Protect mode only says at
 * level info what it prevented.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util.h"

/* A sanitizer runtime preloaded before the shim intercepts the calls
 * first: the caller (and the top of a backtrace) is then the runtime. */
static int sanitized(void)
{
	return strstr(tu_preload(), "libtsan") || strstr(tu_preload(), "libasan");
}

#define READY_MS 10000
#define FINISH_MS 10000
#define FILE_SIZE 1000
#define ANY_FD (-2)

#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* What a probe from another process must see at one "ready" point (the
 * number of "ready" steps: after the program exited). */
struct want {
	int ready;
	off_t start, len;
	int type;
};

#define WANTS(...)                                                     \
	((const struct want[]){ __VA_ARGS__ }),                        \
		(int)(sizeof((const struct want[]){ __VA_ARGS__ }) /    \
		      sizeof(struct want))
#define NO_WANTS NULL, 0

/* One run of lockprog: its output, its pid and the log it wrote. */
struct run {
	struct tu_proc p;
	pid_t pid;
	int status;
	char log[64];
	char text[32768];
	int nready_log[8];	/* events logged by each "ready" point */
};

static struct run runs[2];

static char *mkfile(void)
{
	static char path[64];
	int fd = tu_tmpfile(path, sizeof(path), FILE_SIZE);

	cr_assert(fd >= 0, "tmpfile: %s", strerror(errno));
	close(fd);
	return path;
}

static void read_log(struct run *r)
{
	int fd = open(r->log, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, got;

	r->text[0] = 0;
	if (fd < 0)
		return;
	while ((got = read(fd, r->text + n, sizeof(r->text) - 1 - n)) > 0)
		n += got;
	r->text[n] = 0;
	close(fd);
}

/* The number of lines of text that are event ev. */
static int count_events(const char *text, const char *ev)
{
	char key[64];
	int n = 0;

	snprintf(key, sizeof(key), "event=%s ", ev);
	for (const char *l = text; l && *l; l = strchr(l, '\n')) {
		if (*l == '\n')
			l++;
		n += !strncmp(l, key, strlen(key));
	}
	return n;
}

/* The idx-th line of event ev, copied into line, or NULL. */
static char *event_line(const char *text, const char *ev, int idx,
			char *line, size_t len)
{
	char key[64];

	snprintf(key, sizeof(key), "event=%s ", ev);
	for (const char *l = text; l && *l; l = strchr(l, '\n')) {
		if (*l == '\n')
			l++;
		if (strncmp(l, key, strlen(key)) || idx--)
			continue;
		size_t n = strcspn(l, "\n");

		if (n >= len)
			n = len - 1;
		memcpy(line, l, n);
		line[n] = 0;
		return line;
	}
	return NULL;
}

/* The value of key in a logfmt line (unquoted values only). */
static const char *field(const char *line, const char *key)
{
	static __thread char val[2048];
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), " %s=", key);
	p = line ? strstr(line, k) : NULL;
	if (!p)
		return "(none)";
	p += strlen(k);
	snprintf(val, sizeof(val), "%.*s", (int)strcspn(p, " "), p);
	return val;
}

/* The value of key in a logfmt line, unquoted ("\"" and "\\\\" undone). */
static const char *qfield(const char *line, const char *key)
{
	static __thread char val[4096];
	const char *p = line;
	char k[64];
	size_t n = 0;

	snprintf(k, sizeof(k), " %s=", key);
	while (p && (p = strstr(p, k)) != NULL) {
		/* not inside an earlier quoted value */
		int q = 0;

		for (const char *c = line; c < p; c++) {
			if (*c == '\\' && q)
				c++;
			else if (*c == '"')
				q = !q;
		}
		if (!q)
			break;
		p++;
	}
	if (!p)
		return "(none)";
	p += strlen(k);
	if (*p != '"')
		return field(line, key);
	for (p++; *p && *p != '"' && n + 1 < sizeof(val); p++) {
		if (*p == '\\' && p[1])
			p++;
		val[n++] = *p;
	}
	val[n] = 0;
	return val;
}

/* The GNU build-id of the ELF file at path, in hex ("" if none); a
 * 64-bit or a 32-bit one (make check's 32-bit pass). */
static const char *build_id_of(const char *path)
{
	static __thread char hex[129];
	static char buf[1 << 16];
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	const Elf64_Ehdr *eh = (const void *)buf;
	const Elf32_Ehdr *eh32 = (const void *)buf;
	int c32 = n > EI_CLASS && buf[EI_CLASS] == ELFCLASS32;
	size_t phoff, phnum, phsz;

	hex[0] = 0;
	if (f)
		fclose(f);
	if (n < sizeof(*eh))
		return hex;
	phoff = c32 ? eh32->e_phoff : eh->e_phoff;
	phnum = c32 ? eh32->e_phnum : eh->e_phnum;
	phsz = c32 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
	if (phoff + phnum * phsz > n)
		return hex;
	for (size_t i = 0; i < phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(buf + phoff + i * phsz);
		const Elf32_Phdr *ph32 = (const void *)ph;
		size_t off = c32 ? ph32->p_offset : ph->p_offset;
		size_t end = off + (c32 ? ph32->p_filesz : ph->p_filesz);
		size_t a = (c32 ? ph32->p_align : ph->p_align) == 8 ? 8 : 4;

		if ((c32 ? ph32->p_type : ph->p_type) != PT_NOTE || end > n)
			continue;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			const Elf64_Nhdr *nh = (const void *)(buf + off);
			size_t ns = (nh->n_namesz + a - 1) & ~(a - 1);
			size_t ds = (nh->n_descsz + a - 1) & ~(a - 1);

			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4) {
				const unsigned char *d = (const void *)(
					buf + off + sizeof(*nh) + ns);

				for (size_t j = 0; j < nh->n_descsz && j < 64; j++)
					snprintf(hex + 2 * j, 3, "%02x", d[j]);
				return hex;
			}
			off += sizeof(*nh) + ns + ds;
		}
	}
	return hex;
}

/* The call site "/full/path/lockprog+0xOFF (BuildId: ...)", of the
 * program that ran, with its own build-id. */
static void expect_caller_in(const char *caller, const char *prog)
{
	char exe[PATH_MAX], want[PATH_MAX + 200];

	cr_assert(realpath(prog, exe), "%s", prog);
	snprintf(want, sizeof(want), "%s+0x", exe);
	cr_expect(!strncmp(caller, want, strlen(want)),
		  "caller should name %s: %s", want, caller);
	snprintf(want, sizeof(want), " (BuildId: %s)", build_id_of(exe));
	cr_expect(strlen(want) > 12 && strstr(caller, want),
		  "caller should have %s: %s", want, caller);
}

/*
 * Run lockprog PATH STEPS with the shim in mode (NULL: without the shim),
 * logging to a fresh file, env added; probe path at each "ready" as wants
 * says. The result stays in runs[mode != NULL].
 */
static struct run *run(const char *mode, const char *path,
		       const char *const *steps, const char *const *env,
		       const struct want *w, int nw)
{
	struct run *r = &runs[mode != NULL];
	const char *argv[64], *envp[16];
	char modev[64], logv[96];
	int n = 0, ne = 0, nready = 0, fd;

	memset(r, 0, sizeof(*r));
	snprintf(r->log, sizeof(r->log), "/tmp/lockspace-obslog-XXXXXX");
	fd = mkstemp(r->log);
	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	argv[n++] = tu_prog("lockprog");
	argv[n++] = path;
	for (int i = 0; steps[i] && n < 63; i++) {
		argv[n++] = steps[i];
		nready += !strcmp(steps[i], "ready");
	}
	argv[n] = NULL;
	snprintf(modev, sizeof(modev), "LOCKSPACE_PRELOAD_MODE=%s",
		 mode ? mode : "off");
	snprintf(logv, sizeof(logv), "LOCKSPACE_PRELOAD_LOG=%s", r->log);
	envp[ne++] = modev;
	envp[ne++] = logv;
	for (int i = 0; env && env[i] && ne < 15; i++)
		envp[ne++] = env[i];
	envp[ne] = NULL;
	cr_assert(tu_proc_start(&r->p, mode != NULL, argv, envp) == 0,
		  "spawn lockprog");
	r->pid = r->p.pid;
	for (int k = 0; k < nready; k++) {
		if (tu_proc_ready(&r->p, READY_MS) < 0) {
			int st = tu_proc_finish(&r->p, 0);

			cr_assert_fail("[%s] no ready %d (status %d):\n%s",
				       mode ? mode : "plain", k, st, r->p.buf);
		}
		for (int i = 0; i < nw; i++) {
			int got;

			if (w[i].ready != k)
				continue;
			got = tu_probe(path, w[i].start, w[i].len, NULL);
			cr_expect_eq(got, w[i].type,
				     "[%s] ready %d, bytes %lld+%lld: type %d, "
				     "want %d\n%s", mode ? mode : "plain", k,
				     (long long)w[i].start,
				     (long long)w[i].len, got, w[i].type,
				     r->p.buf);
		}
		read_log(r);
		if (k < 8)
			r->nready_log[k] = count_events(r->text, "lock-loss") +
					   count_events(r->text,
							"lock-loss-unseen");
		tu_proc_continue(&r->p);
	}
	r->status = tu_proc_finish(&r->p, FINISH_MS);
	cr_expect_eq(r->status, 0, "[%s] lockprog exited with %d:\n%s",
		     mode ? mode : "plain", r->status, r->p.buf);
	read_log(r);
	unlink(r->log);
	return r;
}

/* The number a step printed (a descriptor, for "open:..."). */
static int num(const struct run *r, const char *step)
{
	const char *v = tu_proc_result(&r->p, step);

	cr_assert(v, "no result for %s:\n%s", step, r->p.buf);
	return atoi(v);
}

/*
 * The log holds exactly one lock-loss event, and its fields say: closing
 * fd (ANY_FD: some number), func, the holder fds, the lost ranges, the
 * file's path and dev:ino, this process and thread (tid == pid unless
 * other_tid), and a caller inside lockprog.
 */
static void expect_loss(const struct run *r, const char *path, int fd,
			const char *func, const char *holders,
			const char *lost, int other_tid)
{
	char line[4096], want[64];
	struct stat st;

	cr_assert(stat(path, &st) == 0);
	cr_assert_eq(count_events(r->text, "lock-loss"), 1,
		     "want one lock-loss event, log:\n%s\noutput:\n%s",
		     r->text, r->p.buf);
	event_line(r->text, "lock-loss", 0, line, sizeof(line));
	cr_expect_str_eq(field(line, "func"), func, "%s", line);
	if (fd == ANY_FD) {
		cr_expect(atoi(field(line, "fd")) > 2, "%s", line);
	} else {
		snprintf(want, sizeof(want), "%d", fd);
		cr_expect_str_eq(field(line, "fd"), want, "%s", line);
	}
	cr_expect_str_eq(field(line, "holder-fds"), holders, "%s", line);
	cr_expect_str_eq(field(line, "lost"), lost, "%s", line);
	cr_expect_str_eq(field(line, "path"), path, "%s", line);
	cr_expect_str_eq(field(line, "level"), "warning", "%s", line);
	snprintf(want, sizeof(want), "%u:%u", major(st.st_dev),
		 minor(st.st_dev));
	cr_expect_str_eq(field(line, "dev"), want, "%s", line);
	snprintf(want, sizeof(want), "%lu", (unsigned long)st.st_ino);
	cr_expect_str_eq(field(line, "ino"), want, "%s", line);
	snprintf(want, sizeof(want), "%d", (int)r->pid);
	cr_expect_str_eq(field(line, "pid"), want, "%s", line);
	if (other_tid)
		cr_expect(atoi(field(line, "tid")) > 0 &&
			  strcmp(field(line, "tid"), want),
			  "want another thread's tid: %s", line);
	else
		cr_expect_str_eq(field(line, "tid"), want, "%s", line);
	if (!sanitized())
		expect_caller_in(qfield(line, "caller"), tu_prog("lockprog"));
	cr_expect_str_eq(field(line, "comm"), "lockprog", "%s", line);
	{
		char exe[PATH_MAX];

		cr_assert(realpath(tu_prog("lockprog"), exe));
		cr_expect_str_eq(qfield(line, "exe"), exe, "%s", line);
	}
	cr_expect(strstr(line, " ts="), "%s", line);
	cr_expect_eq(count_events(r->text, "lock-loss-unseen"), 0, "%s",
		     r->text);
}

/* ---- observe changes nothing ----------------------------------------- */

/* The same lock sequence, with its errnos, plain and observed; the close
 * of another descriptor loses the lock in both (probed from outside), and
 * another process's F_GETLK names the program's pid in both. */
Test(observe, changes_nothing_the_program_sees, .timeout = 30)
{
	const char *const *steps = STEPS(
		"open:a:rw", "open:b:r", "lock:a:w:set:0:10",
		"lock:a:r:set:20:100", "getlk:a:w:set:0:0", "lock:b:w:set:0:1",
		"lock:a:w:set:-5:1", "lock:a:w:set:900:10", "lockf:a:tlock:0",
		"getlk:b:r:set:900:1", "lock:a:u:set:5:1", "ready",
		"close:b", "ready", "lock:a:w:set:0:1", "ready",
		"close:a", "ready");
	char *path = mkfile();
	int release;
	pid_t h = tu_hold(path, F_WRLCK, 900, 10, &release);
	char plain[sizeof(runs[0].p.buf)];
	pid_t pid;

	cr_assert(h > 0);
	for (int obs = 0; obs <= 1; obs++) {
		struct run *r = run(obs ? "observe" : NULL, path, steps, NULL,
				    WANTS({ 0, 0, 5, W }, { 0, 5, 1, U },
					  { 0, 6, 4, W }, { 0, 20, 1, R },
					  { 0, 119, 1, R }, { 0, 120, 1, U },
					  { 1, 0, 200, U }, { 2, 0, 1, W },
					  { 2, 1, 199, U }, { 3, 0, 200, U }));

		cr_expect_str_eq(tu_proc_result(&r->p, "lock:b:w:set:0:1"),
				 "-1 EBADF");
		cr_expect_str_eq(tu_proc_result(&r->p, "lock:a:w:set:-5:1"),
				 "-1 EINVAL");
		cr_expect_str_eq(tu_proc_result(&r->p, "lock:a:w:set:900:10"),
				 "-1 EAGAIN");
		cr_expect_str_eq(tu_proc_result(&r->p, "lockf:a:tlock:0"),
				 "-1 EAGAIN");
		if (!obs)
			snprintf(plain, sizeof(plain), "%s", r->p.buf);
		else
			cr_expect_str_eq(r->p.buf, plain,
					 "observe output differs from plain");
	}
	/* The kernel lock is the program's own POSIX lock. */
	{
		const char *const *s2 = STEPS("open:a:rw", "lock:a:w:set:0:1",
					      "ready");
		struct tu_proc *p = &runs[1].p;
		const char *argv[8] = { tu_prog("lockprog"), path, s2[0],
					s2[1], s2[2], NULL };

		cr_assert(tu_proc_start(p, 1, argv,
					ENV("LOCKSPACE_PRELOAD_MODE=observe"))
			  == 0);
		cr_assert(tu_proc_ready(p, READY_MS) == 0, "%s", p->buf);
		cr_expect_eq(tu_probe(path, 0, 1, &pid), W);
		cr_expect_eq(pid, p->pid, "F_GETLK pid %d, want %d",
			     (int)pid, (int)p->pid);
		tu_proc_continue(p);
		tu_proc_finish(p, FINISH_MS);
	}
	tu_unhold(h, release);
	unlink(path);
}

/* ---- one lock-loss event per interposed close ------------------------ */

/* Lock W 0-9 through a, then the close step loses it. The probe after it
 * sees it lost (observe is plain POSIX). */
static struct run *loss_run(const char *path, const char *const *steps)
{
	return run("observe", path, steps, NULL,
		   WANTS({ 0, 0, 10, W }, { 1, 0, 10, U }));
}

Test(observe, close_of_other_fd_in_a_thread, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = loss_run(path, STEPS("open:a:rw", "lock:a:w:set:0:10",
					     "open:b:r", "ready", "t:close:b",
					     "ready"));

	expect_loss(r, path, num(r, "open:b:r"), "close", "3",
		    "fd3:W:0-9", 1);
	unlink(path);
}

Test(observe, fclose, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = loss_run(path, STEPS("open:a:rw", "lock:a:w:set:0:10",
					     "ready", "fclose", "ready"));

	expect_loss(r, path, ANY_FD, "fclose", "3", "fd3:W:0-9", 0);
	unlink(path);
}

Test(observe, freopen, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = loss_run(path, STEPS("open:a:rw", "lock:a:w:set:0:10",
					     "ready", "freopen", "ready"));

	cr_expect_str_eq(tu_proc_result(&r->p, "freopen"), "0", "%s",
			 r->p.buf);
	expect_loss(r, path, ANY_FD, "freopen", "3", "fd3:W:0-9", 0);
	unlink(path);
}

Test(observe, closedir, .timeout = 30)
{
	char dir[] = "/tmp/lockspace-obsdir-XXXXXX";
	struct run *r;

	cr_assert(tu_mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	r = run("observe", dir,
		STEPS("open:a:r", "lock:a:r:set:0:0", "ready", "closedir",
		      "ready"),
		NULL, WANTS({ 0, 0, 0, R }, { 1, 0, 0, U }));
	cr_expect_str_eq(tu_proc_result(&r->p, "closedir"), "0");
	expect_loss(r, dir, ANY_FD, "closedir", "3", "fd3:R:0-EOF", 0);
	rmdir(dir);
}

Test(observe, dup2_over_other_fd, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = loss_run(path, STEPS("open:a:rw", "lock:a:w:set:0:10",
					     "open:b:r", "open:n:r:/dev/null",
					     "ready", "dup2:n:b", "ready"));

	expect_loss(r, path, num(r, "open:b:r"), "dup2", "3", "fd3:W:0-9",
		    0);
	unlink(path);
}

Test(observe, dup3_over_other_fd, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = loss_run(path, STEPS("open:a:rw", "lock:a:w:set:0:10",
					     "open:b:r", "open:n:r:/dev/null",
					     "ready", "dup3:n:b", "ready"));

	expect_loss(r, path, num(r, "open:b:r"), "dup3", "3", "fd3:W:0-9",
		    0);
	unlink(path);
}

/* b took a lock of its own (a tracked descriptor); closing it drops a's
 * range too, and only a's is a loss: b's goes with its last descriptor. */
Test(observe, close_range_of_tracked_fd, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = loss_run(path, STEPS("open:a:rw", "lock:a:w:set:0:10",
					     "open:b:r", "lock:b:r:set:50:1",
					     "ready", "close_range:b",
					     "ready"));

	expect_loss(r, path, num(r, "open:b:r"), "close_range", "3",
		    "fd3:W:0-9", 0);
	unlink(path);
}

Test(observe, closefrom_of_tracked_fd, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = loss_run(path, STEPS("open:a:rw", "lock:a:w:set:0:10",
					     "open:b:r", "lock:b:r:set:50:1",
					     "ready", "closefrom:b",
					     "ready"));

	expect_loss(r, path, num(r, "open:b:r"), "closefrom", "3",
		    "fd3:W:0-9", 0);
	unlink(path);
}

/* b never took a lock: the shim does not track it, as with a daemon
 * that closes every descriptor at start. close() of such a descriptor is
 * reported (close_of_other_fd_in_a_thread); close_range() must be too. */
Test(observe, close_range_of_untracked_fd, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = loss_run(path, STEPS("open:a:rw", "lock:a:w:set:0:10",
					     "open:b:r", "ready",
					     "close_range:b", "ready"));

	expect_loss(r, path, num(r, "open:b:r"), "close_range", "3",
		    "fd3:W:0-9", 0);
	unlink(path);
}

/* Several ranges of two types, each named with its holder. */
Test(observe, lost_ranges_and_types, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = run("observe", path,
			    STEPS("open:a:rw", "lock:a:w:set:0:10",
				  "lock:a:r:set:20:0", "lock:a:u:set:5:2",
				  "ready", "open:b:r", "close:b", "ready"),
			    NULL,
			    WANTS({ 0, 0, 5, W }, { 0, 20, 1, R },
				  { 1, 0, 0, U }));

	expect_loss(r, path, 4, "close", "3",
		    "fd3:W:0-4,fd3:W:7-9,fd3:R:20-EOF", 0);
	unlink(path);
}

/* ---- the expected releases are no loss ------------------------------- */

Test(observe, last_close_of_locking_fd_is_no_loss, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = run("observe", path,
			    STEPS("open:a:rw", "lock:a:w:set:0:10", "ready",
				  "close:a", "ready"),
			    NULL, WANTS({ 0, 0, 10, W }, { 1, 0, 10, U }));

	cr_expect_eq(count_events(r->text, "lock-loss"), 0, "%s", r->text);
	cr_expect_eq(count_events(r->text, "lock-loss-unseen"), 0, "%s",
		     r->text);
	unlink(path);
}

/* Plain POSIX drops the lock at the close of either dup: a loss, once. */
Test(observe, close_of_one_of_two_dups_is_a_loss, .timeout = 30)
{
	char *path = mkfile();
	struct run *r = run("observe", path,
			    STEPS("open:a:rw", "lock:a:w:set:0:10",
				  "dup:b:a", "ready", "close:b", "ready",
				  "close:a"),
			    NULL, WANTS({ 0, 0, 10, W }, { 1, 0, 10, U }));
	char line[4096], lost[32];
	const char *h;

	/* Either number of the description may stand for the holder. */
	event_line(r->text, "lock-loss", 0, line, sizeof(line));
	h = !strcmp(field(line, "holder-fds"), "4") ? "4" : "3";
	snprintf(lost, sizeof(lost), "fd%s:W:0-9", h);
	expect_loss(r, path, num(r, "dup:b:a"), "close", h, lost, 0);
	unlink(path);
}

/* ---- closes inside libc ---------------------------------------------- */

Test(observe, getpwnam_loss_unseen_at_next_lock_and_at_exit, .timeout = 30)
{
	char line[4096], want[32];
	struct run *r;

	if (access("/etc/passwd", R_OK) < 0)
		cr_skip_test("/etc/passwd is not readable");
	r = run("observe", "/etc/passwd",
		STEPS("open:a:r", "lock:a:r:set:0:0", "ready",
		      "getpwnam:root", "ready", "lock:a:r:set:0:0", "ready",
		      "getpwnam:root"),
		NULL, WANTS({ 0, 0, 0, R }, { 1, 0, 0, U }, { 2, 0, 0, R }));
	/* Nothing at the getpwnam itself; one at the next lock call. */
	cr_expect_eq(r->nready_log[1], 0, "%s", r->text);
	cr_expect_eq(r->nready_log[2], 1, "%s", r->text);
	cr_expect_eq(count_events(r->text, "lock-loss-unseen"), 2,
		     "one at the next lock, one at exit:\n%s", r->text);
	cr_expect_eq(count_events(r->text, "lock-loss"), 0, "%s", r->text);
	snprintf(want, sizeof(want), "%d", (int)r->pid);
	for (int i = 0; i < 2; i++) {
		cr_assert(event_line(r->text, "lock-loss-unseen", i, line,
				     sizeof(line)));
		cr_expect_str_eq(field(line, "path"), "/etc/passwd", "%s",
				 line);
		cr_expect_str_eq(field(line, "fd"), "-", "%s", line);
		cr_expect_str_eq(field(line, "func"), "unseen", "%s", line);
		cr_expect_str_eq(field(line, "holder-fds"), "3", "%s", line);
		cr_expect_str_eq(field(line, "lost"), "fd3:R:0-EOF", "%s",
				 line);
		cr_expect_str_eq(field(line, "caller"), "-", "%s", line);
		cr_expect_str_eq(field(line, "pid"), want, "%s", line);
	}
}

/* ---- protect mode, levels, backtrace, summary ------------------------ */

Test(observe, protect_says_prevented_at_info_only, .timeout = 30)
{
	const char *const *steps = STEPS("open:a:rw", "lock:a:w:set:0:10",
					 "open:b:r", "ready", "close:b",
					 "ready");
	char *path = mkfile();
	char line[4096];
	struct run *r;

	r = run("protect", path, steps, ENV("LOCKSPACE_PRELOAD_LOG_LEVEL=info"),
		WANTS({ 0, 0, 10, W }, { 1, 0, 10, W }));
	cr_expect_eq(count_events(r->text, "lock-loss"), 0, "%s", r->text);
	cr_expect_eq(count_events(r->text, "lock-loss-prevented"), 1, "%s",
		     r->text);
	cr_assert(event_line(r->text, "lock-loss-prevented", 0, line,
			     sizeof(line)));
	cr_expect_str_eq(field(line, "level"), "info", "%s", line);
	cr_expect_str_eq(field(line, "func"), "close", "%s", line);
	cr_expect_str_eq(field(line, "lost"), "fd3:W:0-9", "%s", line);
	if (!sanitized())
		expect_caller_in(qfield(line, "caller"), tu_prog("lockprog"));

	r = run("protect", path, steps, NULL,
		WANTS({ 0, 0, 10, W }, { 1, 0, 10, W }));
	cr_expect_str_eq(r->text, "", "nothing at the default level");
	unlink(path);
}

Test(observe, backtrace_on_adds_backtrace, .timeout = 30)
{
	const char *const *steps = STEPS("open:a:rw", "lock:a:w:set:0:10",
					 "open:b:r", "ready", "close:b",
					 "ready");
	char *path = mkfile();
	char line[4096];
	struct run *r;

	r = run("observe", path, steps, ENV("LOCKSPACE_PRELOAD_BACKTRACE=on"),
		WANTS({ 1, 0, 10, U }));
	cr_assert(event_line(r->text, "lock-loss", 0, line, sizeof(line)),
		  "%s", r->text);
	cr_expect(strlen(qfield(line, "backtrace")) > 1 &&
		  strcmp(qfield(line, "backtrace"), "(none)"), "%s", line);
	if (!sanitized()) {
		/* Innermost first, each frame as the caller is written. */
		expect_caller_in(qfield(line, "backtrace"),
				 tu_prog("lockprog"));
		cr_expect(strstr(qfield(line, "backtrace"), " < /"),
			  "frames with full paths: %s", line);
		cr_expect(strstr(qfield(line, "backtrace"), "libc.so.6+0x"),
			  "the backtrace should reach libc: %s", line);
	}

	r = run("observe", path, steps, NULL, WANTS({ 1, 0, 10, U }));
	cr_assert(event_line(r->text, "lock-loss", 0, line, sizeof(line)));
	cr_expect(!strstr(line, "backtrace="), "%s", line);
	unlink(path);
}

/* Two files locked at once (peak 2), three lock calls, one loss. */
static void expect_summary(const char *mode, const char *const *env,
			   const char *counters)
{
	char *path = mkfile(), path2[64], open2[96], line[4096];
	struct run *r;
	int fd = tu_tmpfile(path2, sizeof(path2), FILE_SIZE);

	cr_assert(fd >= 0);
	close(fd);
	snprintf(open2, sizeof(open2), "open:c:rw:%s", path2);
	r = run(mode, path,
		STEPS("open:a:rw", "lock:a:w:set:0:10", "lock:a:r:set:20:1",
		      open2, "lock:c:w:set:0:0", "open:b:r", "close:b",
		      "close:c"),
		env, NO_WANTS);
	cr_expect_eq(count_events(r->text, "summary"), 1, "%s", r->text);
	cr_assert(event_line(r->text, "summary", 0, line, sizeof(line)));
	cr_expect(strstr(line, counters), "summary: %s\nwant: %s", line,
		  counters);
	unlink(path);
	unlink(path2);
}

Test(observe, summary_counts_in_observe, .timeout = 30)
{
	expect_summary("observe", ENV("LOCKSPACE_PRELOAD_REPORT=1"),
		       " mode=observe locks=3 files=2 peak_held=2 "
		       "prevented=0 observed=1 fallbacks=0");
}

Test(observe, summary_counts_in_protect, .timeout = 30)
{
	expect_summary("protect", ENV("LOCKSPACE_PRELOAD_REPORT=1"),
		       " mode=protect locks=3 files=2 peak_held=2 "
		       "prevented=1 observed=0 fallbacks=0");
}

Test(observe, summary_at_info_level_and_not_by_default, .timeout = 30)
{
	char *path = mkfile();
	struct run *r;

	expect_summary("observe", ENV("LOCKSPACE_PRELOAD_LOG_LEVEL=info"),
		       " mode=observe locks=3 ");
	r = run("observe", path, STEPS("open:a:rw", "lock:a:w:set:0:1"), NULL,
		NO_WANTS);
	cr_expect_eq(count_events(r->text, "summary"), 0, "%s", r->text);
	unlink(path);
}

/* ---- the table follows the kernel ------------------------------------ */

/* After a loss the table forgets the ranges as the kernel did: another
 * close is no second loss; a new lock and its loss are. */
Test(observe, table_follows_the_kernel_after_a_loss, .timeout = 30)
{
	char *path = mkfile();
	char line[4096];
	struct run *r;

	r = run("observe", path,
		STEPS("open:a:rw", "lock:a:w:set:0:10", "open:b:r", "close:b",
		      "ready", "open:c:r", "close:c", "ready",
		      "lock:a:r:set:100:5", "ready", "open:d:r", "close:d",
		      "ready"),
		NULL,
		WANTS({ 0, 0, 0, U }, { 1, 0, 0, U }, { 2, 100, 5, R },
		      { 3, 0, 0, U }));
	cr_expect_eq(r->nready_log[0], 1, "%s", r->text);
	cr_expect_eq(r->nready_log[1], 1, "%s", r->text);
	cr_expect_eq(r->nready_log[2], 1, "%s", r->text);
	cr_expect_eq(count_events(r->text, "lock-loss"), 2, "%s", r->text);
	cr_expect_eq(count_events(r->text, "lock-loss-unseen"), 0, "%s",
		     r->text);
	cr_assert(event_line(r->text, "lock-loss", 1, line, sizeof(line)));
	cr_expect_str_eq(field(line, "lost"), "fd3:R:100-104", "%s", line);
	cr_expect_str_eq(field(line, "fd"), "4", "%s", line);
	unlink(path);
}

/* ---- which program, and an interpreter's frames ----------------------- */

/* Every line names the program (comm, exe), the summary too. */
Test(observe, every_event_names_the_program, .timeout = 30)
{
	char *path = mkfile(), line[4096], exe[PATH_MAX];
	struct run *r = run("observe", path,
			    STEPS("open:a:rw", "lock:a:w:set:0:10", "open:b:r",
				  "close:b"),
			    ENV("LOCKSPACE_PRELOAD_REPORT=1"), NO_WANTS);
	int n = 0;

	cr_assert(realpath(tu_prog("lockprog"), exe));
	for (const char *l = r->text; *l; n++) {
		size_t len = strcspn(l, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)len, l);
		cr_expect_str_eq(field(line, "comm"), "lockprog", "%s", line);
		cr_expect_str_eq(qfield(line, "exe"), exe, "%s", line);
		l += len + (l[len] == '\n');
	}
	cr_expect_eq(n, 2, "a loss and the summary:\n%s", r->text);
	unlink(path);
}

/* A Python program that loses a lock: the native caller is the
 * interpreter, named with its full path and build-id; py-caller names
 * the script's line, py-backtrace its frames (backtrace = on). */
Test(observe, python_frames_name_the_script_line, .timeout = 30)
{
	static const char script[] =
		"import fcntl, os, sys\n"          /* 1 */
		"path = sys.argv[1]\n"             /* 2 */
		"def peek():\n"                    /* 3 */
		"    fd = os.open(path, os.O_RDONLY)\n"
		"    os.close(fd)\n"               /* 5: the loss */
		"fd = os.open(path, os.O_RDWR)\n"
		"fcntl.lockf(fd, fcntl.LOCK_EX)\n"
		"peek()\n";                        /* 8 */
	const char *py = "/usr/bin/python3";
	char *path = mkfile(), spath[64], log[64], logv[96], text[32768];
	char line[8192], want[256], exe[PATH_MAX];
	const char *argv[] = { py, spath, path, NULL };
	const char *env[] = { "LOCKSPACE_PRELOAD_MODE=observe", logv,
			      "LOCKSPACE_PRELOAD_BACKTRACE=on", NULL };
	int fd;
	FILE *f;
	size_t n;

	if (access(py, X_OK) < 0)
		cr_skip_test("no %s", py);
	if (!tu_preload_fits(py))
		cr_skip_test("%s cannot load %s", py, tu_preload());
	snprintf(spath, sizeof(spath), "/tmp/lockspace-py-XXXXXX");
	fd = mkstemp(spath);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, script, sizeof(script) - 1),
		     (ssize_t)sizeof(script) - 1);
	close(fd);
	snprintf(log, sizeof(log), "/tmp/lockspace-pylog-XXXXXX");
	fd = mkstemp(log);
	cr_assert(fd >= 0);
	close(fd);
	snprintf(logv, sizeof(logv), "LOCKSPACE_PRELOAD_LOG=%s", log);
	cr_assert_eq(tu_run(1, argv, env, NULL, 0), 0);
	f = fopen(log, "r");
	cr_assert(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	cr_assert_eq(count_events(text, "lock-loss"), 1, "%s", text);
	event_line(text, "lock-loss", 0, line, sizeof(line));
	snprintf(want, sizeof(want), "%s:5 (peek)", spath);
	cr_expect_str_eq(qfield(line, "py-caller"), want, "%s", line);
	snprintf(want, sizeof(want), "%s:5 (peek) < %s:8 (<module>)", spath,
		 spath);
	cr_expect_str_eq(qfield(line, "py-backtrace"), want, "%s", line);
	cr_assert(realpath(py, exe));
	cr_expect_str_eq(qfield(line, "exe"), exe, "%s", line);
	if (!sanitized())
		expect_caller_in(qfield(line, "caller"), py);
	unlink(log);
	unlink(spath);
	unlink(path);
}
