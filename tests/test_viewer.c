/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_viewer.c: lockspace-locks, the lslocks of the shim (issue 11).
 *
 * lslocks before util-linux 2.40 shows a lock that a shimmed process holds
 * on its anchor as OFDLCK with pid -1; lockspace-locks names the process,
 * the anchor's descriptor and the path. Holders and waiters are lockprog
 * processes (tests/progs/), with and without the shim; the wait-for
 * cycles and stale entries come from wait files the tests write
 * themselves into a fresh LOCKSPACE_WAIT_DIR.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "util.h"

#define TOOL BUILD_DIR "/lockspace-locks"
#define READY_MS 10000
#define FINISH_MS 10000
#define FILE_SIZE 4096
#define OUT_LEN (1 << 20)
#define MAX_ROWS 4096

static char wait_dir[64];
static char wait_env[128];

static void setup_dir(void)
{
	snprintf(wait_dir, sizeof(wait_dir), "/tmp/lockspace-locks-XXXXXX");
	cr_assert(tu_mkdtemp(wait_dir), "mkdtemp: %s", strerror(errno));
	snprintf(wait_env, sizeof(wait_env), "LOCKSPACE_WAIT_DIR=%s",
		 wait_dir);
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", wait_dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", wait_dir);
}

TestSuite(viewer, .init = setup_dir, .fini = remove_dir, .timeout = 60);

static void make_file(char *path, size_t len)
{
	int fd = tu_tmpfile(path, len, FILE_SIZE);

	cr_assert(fd >= 0, "tmpfile: %s", strerror(errno));
	close(fd);
}

/* Run the tool with args (NULL-terminated) and the wait directory. */
static int run_tool(char *out, const char *a1, const char *a2,
		    const char *a3, const char *a4)
{
	const char *argv[] = { TOOL, a1, a2, a3, a4, NULL };
	const char *env[] = { wait_env, NULL };

	return tu_run(0, argv, env, out, OUT_LEN);
}

/* A lockprog that opens path and takes one lock (mode w|r, "wait" for
 * F_SETLKW), then stays until its stdin closes. With wait, no "ready" is
 * waited for: the program blocks. */
static void hold(struct tu_proc *p, int shim, const char *path, char mode,
		 long start, long len, int wait)
{
	char lock[96];
	const char *argv[] = { tu_prog("lockprog"), path, "watchdog:30000",
			       "open:a:rw", lock, "ready", NULL };
	const char *env[] = { wait_env, NULL };

	snprintf(lock, sizeof(lock), "lock:a:%c:set:%ld:%ld%s", mode, start,
		 len, wait ? ":wait" : "");
	cr_assert(tu_proc_start(p, shim, argv, env) == 0, "spawn lockprog");
	if (!wait)
		cr_assert(tu_proc_ready(p, READY_MS) == 0,
			  "lockprog did not lock: %s", p->buf);
}


/* A wait file as the shim writes it: pid waits for [start, end] of path.
 * In our user's directory of the registry (common/waitfile.h). */
static void write_wait(pid_t pid, unsigned long long st, const char *path,
		       long start, long end, char type)
{
	char file[128];
	struct stat sb;
	FILE *f;

	cr_assert(stat(path, &sb) == 0);
	snprintf(file, sizeof(file), "%s/%u", wait_dir, (unsigned)geteuid());
	cr_assert(mkdir(file, 0700) == 0 || errno == EEXIST);
	snprintf(file, sizeof(file), "%s/%u/%d", wait_dir, (unsigned)geteuid(),
		 (int)pid);
	f = fopen(file, "w");
	cr_assert(f);
	fprintf(f, "lockspace-wait 1 %llu\n%d %d %u:%u:%lu %ld %ld %c\n", st,
		(int)pid, (int)pid, major(sb.st_dev), minor(sb.st_dev),
		(unsigned long)sb.st_ino, start, end, type);
	fclose(f);
}

/* ---- the text table ------------------------------------------------- */

/* The line of out whose second column is pid and seventh is start (the
 * default columns: COMMAND PID TYPE SIZE MODE M START END HOLDER-FD VIA
 * BLOCKER WAITERS PATH); its whitespace-separated fields go to f. The
 * columns after END may be empty: f[8] is the first of them that is
 * there, f[9] VIA (the field that names one), f[11] PATH (the last). */
static int find_line(const char *out, pid_t pid, long start, char f[16][256])
{
	const char *l = out;

	while (l && *l) {
		const char *e = strchr(l, '\n');
		char line[1024];
		size_t len = e ? (size_t)(e - l) : strlen(l);
		int n = 0;

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, l, len);
		line[len] = 0;
		for (char *s, *t = strtok_r(line, " ", &s); t && n < 15;
		     t = strtok_r(NULL, " ", &s))
			snprintf(f[n++], 256, "%s", t);
		if (n >= 10 && atoi(f[1]) == pid && atol(f[6]) == start) {
			for (int i = 8; i < n; i++)
				if (!strcmp(f[i], "anchor") ||
				    !strcmp(f[i], "posix") ||
				    !strcmp(f[i], "ofd"))
					memmove(f[9], f[i], 256);
			memmove(f[11], f[n - 1], 256);
			return n;
		}
		l = e ? e + 1 : NULL;
	}
	return 0;
}

/* ---- a tiny JSON reader: enough for {"locks": [{...}, ...]} ---------- */

struct jrow {
	char command[64], type[16], size[16], mode[16], via[16], m[8];
	char path[512];
	char fds[64];  /* holder-fd, "3,4" */
	long pid, blocker, holder_fd; /* null: 0; holder-fd: the first, -1 */
	long waiters;
	long long start, end;
};

struct jp {
	const char *s;
	int ok;
};

static void jws(struct jp *j)
{
	while (isspace((unsigned char)*j->s))
		j->s++;
}

static int jstr(struct jp *j, char *buf, size_t len)
{
	size_t n = 0;

	jws(j);
	if (*j->s != '"')
		return j->ok = 0;
	for (j->s++; *j->s && *j->s != '"'; j->s++) {
		char c = *j->s;

		if (c == '\\') {
			c = *++j->s;
			if (c == 'u') {
				c = '?';
				j->s += 4;
			} else if (c == 'n') {
				c = '\n';
			}
		}
		if (n + 1 < len)
			buf[n++] = c;
	}
	if (len)
		buf[n] = 0;
	if (*j->s != '"')
		return j->ok = 0;
	j->s++;
	return 1;
}

/* A scalar; its text to buf (strings unquoted), NULL kept as "null". */
static int jscalar(struct jp *j, char *buf, size_t len)
{
	size_t n = 0;

	jws(j);
	if (*j->s == '"')
		return jstr(j, buf, len);
	while (*j->s && (isalnum((unsigned char)*j->s) || *j->s == '-' ||
			 *j->s == '.' || *j->s == '+'))
		if (n + 1 < len)
			buf[n++] = *j->s++;
		else
			j->s++;
	buf[n] = 0;
	if (!n || (!isdigit((unsigned char)buf[0]) && buf[0] != '-' &&
		   strcmp(buf, "null") && strcmp(buf, "true") &&
		   strcmp(buf, "false")))
		return j->ok = 0;
	return 1;
}

static int jlit(struct jp *j, char c)
{
	jws(j);
	if (*j->s != c)
		return j->ok = 0;
	j->s++;
	return 1;
}

static void cp(char *d, size_t len, const char *s)
{
	size_t n = strnlen(s, len - 1);

	memcpy(d, s, n);
	d[n] = 0;
}

static long jnum(const char *v, long null)
{
	return strcmp(v, "null") ? atol(v) : null;
}

/* An array of numbers, as "3,4" in buf. */
static int jarray(struct jp *j, char *buf, size_t len)
{
	size_t n = 0;
	char v[32];

	if (!jlit(j, '['))
		return 0;
	buf[0] = 0;
	jws(j);
	while (*j->s && *j->s != ']') {
		if (!jscalar(j, v, sizeof(v)))
			return 0;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "",
				      v);
		jws(j);
		if (*j->s == ',')
			j->s++;
		jws(j);
	}
	return jlit(j, ']');
}

/* Parse a whole --json listing; returns the rows (at most max) or -1. */
static int parse_json(const char *text, struct jrow *rows, int max)
{
	struct jp j = { text, 1 };
	char key[64], val[512];
	int n = 0;

	if (!jlit(&j, '{') || !jstr(&j, key, sizeof(key)) ||
	    strcmp(key, "locks") || !jlit(&j, ':') || !jlit(&j, '['))
		return -1;
	jws(&j);
	if (*j.s == ']')
		goto end;
	do {
		struct jrow r = { .holder_fd = -1 };
		int keys = 0;

		if (!jlit(&j, '{'))
			return -1;
		do {
			if (!jstr(&j, key, sizeof(key)) || !jlit(&j, ':'))
				return -1;
			jws(&j);
			if (*j.s == '[' ? !jarray(&j, val, sizeof(val))
					: !jscalar(&j, val, sizeof(val)))
				return -1;
			keys++;
			if (!strcmp(key, "command"))
				cp(r.command, sizeof(r.command), val);
			else if (!strcmp(key, "pid"))
				r.pid = atol(val);
			else if (!strcmp(key, "type"))
				cp(r.type, sizeof(r.type), val);
			else if (!strcmp(key, "size"))
				cp(r.size, sizeof(r.size), val);
			else if (!strcmp(key, "mode"))
				cp(r.mode, sizeof(r.mode), val);
			else if (!strcmp(key, "start"))
				r.start = atoll(val);
			else if (!strcmp(key, "end"))
				r.end = atoll(val);
			else if (!strcmp(key, "path"))
				cp(r.path, sizeof(r.path), val);
			else if (!strcmp(key, "blocker"))
				r.blocker = jnum(val, 0);
			else if (!strcmp(key, "holder-fd")) {
				cp(r.fds, sizeof(r.fds), val);
				r.holder_fd = val[0] ? atol(val) : -1;
			} else if (!strcmp(key, "m"))
				cp(r.m, sizeof(r.m), val);
			else if (!strcmp(key, "waiters"))
				r.waiters = jnum(val, -1);
			else if (!strcmp(key, "via"))
				cp(r.via, sizeof(r.via), val);
			else
				keys--;
			jws(&j);
		} while (*j.s == ',' && j.s++);
		if (!jlit(&j, '}') || keys != 13)
			return -1;
		if (n < max)
			rows[n++] = r;
		jws(&j);
	} while (*j.s == ',' && j.s++);
end:
	if (!jlit(&j, ']') || !jlit(&j, '}'))
		return -1;
	jws(&j);
	return j.ok && !*j.s ? n : -1;
}

static const struct jrow *jfind(const struct jrow *rows, int n, long pid,
				long long start)
{
	for (int i = 0; i < n; i++)
		if (rows[i].pid == pid && rows[i].start == start)
			return &rows[i];
	return NULL;
}

/* Does /proc/PID/fdinfo/FD list a lock of this kind? */
static int fdinfo_has(pid_t pid, long fd, const char *kind)
{
	char path[64], buf[4096];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%ld", (int)pid, fd);
	f = open(path, O_RDONLY);
	if (f < 0)
		return 0;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, kind) != NULL;
}

/* ---- the tests -------------------------------------------------------- */

/* The kernel names the shimmed holder -1; the tool names it, its anchor
 * and the path, next to a plain POSIX holder of another range. */
Test(viewer, shimmed_and_plain_holders_listed)
{
	static char out[OUT_LEN];
	struct kernel_lock kl[8];
	struct tu_proc a, b;
	char path[64], f[16][256];
	int fd, n;

	make_file(path, sizeof(path));
	hold(&a, 1, path, 'w', 0, 100, 0);
	hold(&b, 0, path, 'r', 200, 100, 0);

	/* What lslocks 2.38 sees: an OFD lock of nobody. */
	fd = open(path, O_RDONLY);
	n = tu_kernel_locks(fd, kl, 8);
	close(fd);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(kl[0].kind, "OFDLCK");
	cr_expect_eq(kl[0].pid, -1);
	cr_expect_str_eq(kl[1].kind, "POSIX");
	cr_expect_eq(kl[1].pid, b.pid);

	cr_assert_eq(run_tool(out, "--path", path, NULL, NULL), 0);
	cr_assert(!strncmp(out, "COMMAND ", 8), "header: %s", out);
	cr_assert(strstr(out, " END HOLDER-FD VIA    BLOCKER WAITERS PATH\n"),
		  "the columns, PATH last: %s", out);
	cr_assert(find_line(out, a.pid, 0, f), "no line for %d:\n%s", a.pid,
		  out);
	cr_expect_str_eq(f[0], "lockprog");
	cr_expect_str_eq(f[2], "OFDLCK");
	cr_expect_str_eq(f[3], "4K");
	cr_expect_str_eq(f[4], "WRITE");
	cr_expect_str_eq(f[5], "0");
	cr_expect_str_eq(f[7], "99");
	/* The program's own descriptor, not the anchor's. */
	cr_expect_str_eq(f[8], "3", "%s", out);
	cr_expect_str_eq(f[9], "anchor", "%s", out);
	cr_expect_str_eq(f[11], path);
	cr_assert(find_line(out, b.pid, 200, f), "no line for %d:\n%s", b.pid,
		  out);
	cr_expect_str_eq(f[0], "lockprog");
	cr_expect_str_eq(f[2], "POSIX");
	cr_expect_str_eq(f[4], "READ");
	cr_expect_str_eq(f[7], "299");
	cr_expect_str_eq(f[8], "3", "%s", out);
	cr_expect_str_eq(f[9], "posix", "%s", out);
	cr_expect_str_eq(f[11], path);

	/* --pid keeps one process's locks, --noheadings drops the header. */
	cr_assert_eq(run_tool(out, "--noheadings", "--pid", "", NULL), 2,
		     "empty pid refused");
	{
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)b.pid);
		cr_assert_eq(run_tool(out, "-n", "--pid", pid, NULL), 0);
	}
	cr_expect(strncmp(out, "COMMAND", 7), "%s", out);
	cr_expect(find_line(out, b.pid, 200, f), "%s", out);
	cr_expect(!find_line(out, a.pid, 0, f), "%s", out);

	tu_proc_finish(&a, FINISH_MS);
	tu_proc_finish(&b, FINISH_MS);
	unlink(path);
}

/* --json has the shape of lslocks --json and parses back; the holder
 * descriptors are the ones fdinfo lists the locks on. */
Test(viewer, json_parses_back)
{
	static char out[OUT_LEN];
	static struct jrow rows[MAX_ROWS];
	const struct jrow *r;
	struct tu_proc a, b;
	char path[64];
	int n;

	make_file(path, sizeof(path));
	hold(&a, 1, path, 'w', 10, 0, 0); /* to EOF */
	hold(&b, 0, path, 'r', 0, 5, 0);
	cr_assert_eq(run_tool(out, "--json", "--path", path, NULL), 0);
	n = parse_json(out, rows, MAX_ROWS);
	cr_assert_eq(n, 2, "parsed %d rows of:\n%s", n, out);

	r = jfind(rows, n, a.pid, 10);
	cr_assert(r, "%s", out);
	cr_expect_str_eq(r->command, "lockprog");
	cr_expect_str_eq(r->type, "OFDLCK");
	cr_expect_str_eq(r->mode, "WRITE");
	cr_expect_eq(r->end, 0, "EOF is 0, as in lslocks");
	cr_expect_str_eq(r->m, "false");
	cr_expect_str_eq(r->path, path);
	cr_expect_str_eq(r->size, "4K");
	cr_expect_str_eq(r->via, "anchor");
	cr_expect_eq(r->blocker, 0);
	cr_expect_eq(r->waiters, 0);
	/* The program's descriptor, which fdinfo shows without the lock
	 * (the anchor carries it). */
	cr_expect_str_eq(r->fds, "3", "%s", out);
	cr_expect(!fdinfo_has(a.pid, 3, "OFDLCK"), "fd 3 carries no lock");

	r = jfind(rows, n, b.pid, 0);
	cr_assert(r, "%s", out);
	cr_expect_str_eq(r->type, "POSIX");
	cr_expect_str_eq(r->mode, "READ");
	cr_expect_eq(r->end, 4);
	cr_expect_str_eq(r->via, "posix");
	cr_expect(r->holder_fd > 2 && fdinfo_has(b.pid, r->holder_fd,
						 "POSIX"),
		  "posix fd %ld", r->holder_fd);

	tu_proc_finish(&a, FINISH_MS);
	tu_proc_finish(&b, FINISH_MS);
	unlink(path);
}

/* Two waiters behind one plain holder: a shimmed one, whose kernel wait is
 * an OFD request with pid -1 (named through its wait file), and a plain
 * one. Both show the holder as BLOCKER; --waits shows the chains. */
Test(viewer, waiters_shown_with_blocker)
{
	static char out[OUT_LEN];
	static struct jrow rows[MAX_ROWS];
	const struct jrow *s = NULL, *p = NULL;
	struct tu_proc h, ws, wp;
	char path[64], pat[80], pid[16];
	int n = 0;

	make_file(path, sizeof(path));
	hold(&h, 0, path, 'w', 0, 100, 0);
	hold(&ws, 1, path, 'w', 0, 100, 1);
	hold(&wp, 0, path, 'w', 50, 100, 1);
	for (int i = 0; i < 500 && !(s && p); i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		cr_assert_eq(run_tool(out, "--json", "--path", path, NULL), 0);
		n = parse_json(out, rows, MAX_ROWS);
		cr_assert(n >= 0, "bad json:\n%s", out);
		s = jfind(rows, n, ws.pid, 0);
		p = jfind(rows, n, wp.pid, 50);
		if (s && strcmp(s->mode, "WRITE*"))
			s = NULL;
		if (!(s && p))
			nanosleep(&ts, NULL);
	}
	cr_assert(s && p, "waiters not seen:\n%s", out);
	cr_expect_eq(s->blocker, h.pid, "%s", out);
	cr_expect_str_eq(s->via, "anchor");
	cr_expect_str_eq(s->type, "OFDLCK");
	cr_expect_str_eq(s->path, path);
	cr_expect_str_eq(p->mode, "WRITE*");
	cr_expect_eq(p->blocker, h.pid, "%s", out);
	cr_expect_str_eq(p->via, "posix");
	/* A waiter's own descriptor, not the shim's anchor or its dup. */
	cr_expect_str_eq(s->fds, "3", "%s", out);
	cr_expect_str_eq(p->fds, "3", "%s", out);
	cr_expect(jfind(rows, n, h.pid, 0), "%s", out);
	cr_expect_eq(jfind(rows, n, h.pid, 0)->waiters, 2, "%s", out);

	/* Other programs of the machine may wait too: only h's chains. */
	snprintf(pid, sizeof(pid), "%d", (int)h.pid);
	cr_assert_eq(run_tool(out, "--waits", "--pid", pid, NULL), 0);
	snprintf(pat, sizeof(pat), "chain: %d -> %d\n", (int)ws.pid,
		 (int)h.pid);
	cr_expect(strstr(out, pat), "no '%s' in:\n%s", pat, out);
	snprintf(pat, sizeof(pat), "chain: %d -> %d\n", (int)wp.pid,
		 (int)h.pid);
	cr_expect(strstr(out, pat), "no '%s' in:\n%s", pat, out);
	cr_expect(!strstr(out, "cycle"), "%s", out);

	tu_proc_finish(&h, FINISH_MS);
	tu_proc_finish(&ws, FINISH_MS);
	tu_proc_finish(&wp, FINISH_MS);
	unlink(path);
}

/* A holds f1 and (its wait file says) waits for f2, which B holds; B
 * waits for f1: --waits shows the cycle, once, and the listing shows each
 * as the other's waiter. */
Test(viewer, waits_shows_cycle)
{
	static char out[OUT_LEN];
	static struct jrow rows[MAX_ROWS];
	const struct jrow *r;
	struct tu_proc a, b;
	char f1[64], f2[64], pat[96], pid[16];
	int n;

	make_file(f1, sizeof(f1));
	make_file(f2, sizeof(f2));
	hold(&a, 0, f1, 'w', 0, 10, 0);
	hold(&b, 1, f2, 'w', 0, 10, 0);
	write_wait(a.pid, pf_start_time(a.pid), f2, 0, 9, 'W');
	write_wait(b.pid, pf_start_time(b.pid), f1, 5, -1, 'R');

	snprintf(pid, sizeof(pid), "%d", (int)a.pid);
	cr_assert_eq(run_tool(out, "--waits", "--pid", pid, NULL), 0);
	snprintf(pat, sizeof(pat), "cycle: %d -> %d -> %d\n",
		 (int)(a.pid < b.pid ? a.pid : b.pid),
		 (int)(a.pid < b.pid ? b.pid : a.pid),
		 (int)(a.pid < b.pid ? a.pid : b.pid));
	cr_expect(strstr(out, pat), "no '%s' in:\n%s", pat, out);
	cr_expect(!strstr(strstr(out, "cycle:") + 1, "cycle:"),
		  "cycle printed twice:\n%s", out);
	cr_expect(strstr(out, "(fd "), "holder fds named:\n%s", out);
	cr_expect(!strstr(out, "stale"), "%s", out);

	cr_assert_eq(run_tool(out, "--waits", "--json", "--pid", pid), 0);
	cr_expect(strstr(out, "\"cycle\": true"), "%s", out);

	cr_assert_eq(run_tool(out, "--json", NULL, NULL, NULL), 0);
	n = parse_json(out, rows, MAX_ROWS);
	cr_assert(n >= 4, "%d rows:\n%s", n, out);
	r = jfind(rows, n, a.pid, 0);
	while (r && strcmp(r->mode, "WRITE*"))
		r = jfind(r + 1, n - (int)(r + 1 - rows), a.pid, 0);
	cr_assert(r, "a as a waiter:\n%s", out);
	cr_expect_eq(r->blocker, b.pid);
	cr_expect_str_eq(r->path, f2);
	r = jfind(rows, n, b.pid, 5);
	cr_assert(r, "b as a waiter:\n%s", out);
	cr_expect_str_eq(r->mode, "READ*");
	cr_expect_eq(r->end, 0); /* EOF, as lslocks */
	cr_expect_eq(r->blocker, a.pid);

	tu_proc_finish(&a, FINISH_MS);
	tu_proc_finish(&b, FINISH_MS);
	unlink(f1);
	unlink(f2);
}

/* Wait files of a process that is gone, and of a live pid whose start time
 * differs (the pid was reused), count for nothing: no row, no chain; the
 * --waits output names them stale. */
Test(viewer, stale_wait_entries_ignored)
{
	static char out[OUT_LEN];
	static struct jrow rows[MAX_ROWS];
	struct tu_proc h;
	char path[64], pat[128];
	pid_t dead;
	int n, st, bad;

	make_file(path, sizeof(path));
	hold(&h, 1, path, 'w', 0, 10, 0);
	dead = fork();
	if (dead == 0)
		_exit(0);
	cr_assert(waitpid(dead, &st, 0) == dead);
	write_wait(dead, 12345, path, 0, 9, 'W');
	write_wait(getpid(), pf_start_time(getpid()) + 1, path, 0, 9, 'W');

	cr_assert_eq(run_tool(out, "--json", NULL, NULL, NULL), 0);
	n = parse_json(out, rows, MAX_ROWS);
	cr_assert(n >= 1, "%s", out);
	/* One assertion, not one per row: Criterion's runner can deadlock
	 * on a burst of messages from one test (Snaipe/Criterion#82). */
	bad = 0;
	for (int i = 0; i < n; i++)
		bad += rows[i].pid == dead || rows[i].pid == getpid();
	cr_expect_eq(bad, 0, "%s", out);
	cr_assert_eq(run_tool(out, "--waits", NULL, NULL, NULL), 0);
	snprintf(pat, sizeof(pat), " %d ", (int)dead);
	cr_expect(!strstr(out, pat), "%s", out);
	snprintf(pat, sizeof(pat), " %d ", (int)getpid());
	cr_expect(!strstr(out, pat), "%s", out);
	snprintf(pat, sizeof(pat), "stale: %s/%u/%d (pid %d: not running)",
		 wait_dir, (unsigned)geteuid(), (int)dead, (int)dead);
	cr_expect(strstr(out, pat), "no '%s' in:\n%s", pat, out);
	snprintf(pat, sizeof(pat), "stale: %s/%u/%d (pid %d: another process",
		 wait_dir, (unsigned)geteuid(), (int)getpid(), (int)getpid());
	cr_expect(strstr(out, pat), "no '%s' in:\n%s", pat, out);

	tu_proc_finish(&h, FINISH_MS);
	unlink(path);
}

Test(viewer, version_help_and_bad_options)
{
	static char out[OUT_LEN];

	cr_expect_eq(run_tool(out, "--version", NULL, NULL, NULL), 0);
	cr_expect_str_eq(out, "lockspace-locks 0.1.0\n");
	cr_expect_eq(run_tool(out, "--help", NULL, NULL, NULL), 0);
	cr_expect(strstr(out, "--waits") && strstr(out, "--json") &&
		  strstr(out, "--output") && strstr(out, "--list-columns"),
		  "%s", out);
	cr_expect_eq(run_tool(out, "--bogus", NULL, NULL, NULL), 2);
	cr_expect_eq(run_tool(out, "--pid", "x", NULL, NULL), 2);
	cr_expect_eq(run_tool(out, "extra", NULL, NULL, NULL), 2);
}

/* A dup of the locking descriptor holds the lock too: HOLDER-FD names
 * both; ANCHOR-FD the shim's own, which fdinfo shows with the lock. */
Test(viewer, holder_fds_are_the_programs)
{
	static char out[OUT_LEN];
	static struct jrow rows[MAX_ROWS];
	const char *argv[] = { tu_prog("lockprog"), NULL, "watchdog:30000",
			       "open:a:rw", "lock:a:w:set:0:10", "dup:c:a",
			       "ready", NULL };
	const char *env[] = { wait_env, NULL };
	const struct jrow *r;
	struct tu_proc a;
	char path[64], line[64];
	int n;

	make_file(path, sizeof(path));
	argv[1] = path;
	cr_assert(tu_proc_start(&a, 1, argv, env) == 0);
	cr_assert(tu_proc_ready(&a, READY_MS) == 0, "%s", a.buf);
	cr_assert_eq(run_tool(out, "-J", "-P", path, NULL), 0);
	n = parse_json(out, rows, MAX_ROWS);
	r = jfind(rows, n, a.pid, 0);
	cr_assert(r, "%s", out);
	cr_expect_str_eq(r->fds, "3,4", "%s", out);
	cr_assert_eq(run_tool(out, "-n", "-r", "-o", "ANCHOR-FD"), 0);
	cr_assert_eq(run_tool(out, "-nr", "-oPID,ANCHOR-FD", "-P", path), 0);
	snprintf(line, sizeof(line), "%d ", (int)a.pid);
	cr_assert(!strncmp(out, line, strlen(line)), "%s", out);
	cr_expect(fdinfo_has(a.pid, atol(out + strlen(line)), "OFDLCK"),
		  "anchor %s", out);
	tu_proc_finish(&a, FINISH_MS);
	unlink(path);
}

/* lslocks's options: -o (and +LIST), -r, -n, -b, -u, --output-all,
 * --list-columns (-H), -J with -r refused. */
Test(viewer, lslocks_options)
{
	static char out[OUT_LEN];
	struct tu_proc b;
	char path[64], want[256];

	make_file(path, sizeof(path));
	hold(&b, 0, path, 'r', 0, 5, 0);
	cr_assert_eq(run_tool(out, "-r", "-o", "PID,SIZE,END,PATH", "-P"), 2,
		     "-P needs its argument");
	{
		const char *argv[] = { TOOL, "-r", "-b", "-o",
				       "pid,size,start,end,path", "-P", path,
				       NULL };
		const char *env[] = { wait_env, NULL };

		cr_assert_eq(tu_run(0, argv, env, out, OUT_LEN), 0);
	}
	snprintf(want, sizeof(want), "PID SIZE START END PATH\n%d 4096 0 4 %s\n",
		 (int)b.pid, path);
	cr_expect_str_eq(out, want);
	{
		const char *argv[] = { TOOL, "-n", "-o", "+INODE,TID", "-P",
				       path, NULL };
		const char *env[] = { wait_env, NULL };

		cr_assert_eq(tu_run(0, argv, env, out, OUT_LEN), 0);
		cr_expect(strncmp(out, "COMMAND", 7) && strstr(out, path),
			  "%s", out);
	}
	cr_assert_eq(run_tool(out, "--output-all", "-u", "-P", path), 0);
	cr_expect(strstr(out, "INODE MAJ:MIN") && strstr(out, "ANCHOR-FD"),
		  "%s", out);
	cr_assert_eq(run_tool(out, "--list-columns", NULL, NULL, NULL), 0);
	cr_expect(strstr(out, "HOLDER-FD") && strstr(out, "BLOCKER") &&
		  strstr(out, "MAJ:MIN"), "%s", out);
	cr_assert_eq(run_tool(out, "-H", "-J", NULL, NULL), 0);
	cr_expect(strstr(out, "\"lockspace-locks-columns\""), "%s", out);
	cr_expect_eq(run_tool(out, "-J", "-r", NULL, NULL), 2);
	cr_expect_eq(run_tool(out, "-o", "NOSUCH", NULL, NULL), 2);
	tu_proc_finish(&b, FINISH_MS);
	unlink(path);
}

/* The same locks as lslocks -J sees them, key by key: a plain POSIX lock
 * is the same object, with our keys added; the shimmed lock, which
 * lslocks 2.38 shows with pid -1, is named. (python3 compares.) */
Test(viewer, same_json_as_lslocks)
{
	static char out[OUT_LEN];
	struct tu_proc a, b;
	char path[64], script[2048];

	if (access("/usr/bin/lslocks", X_OK) < 0)
		cr_skip_test("no lslocks");
	make_file(path, sizeof(path));
	hold(&a, 1, path, 'w', 0, 100, 0);
	hold(&b, 0, path, 'r', 200, 0, 0);
	snprintf(script, sizeof(script),
		 "import json, subprocess, sys\n"
		 "def rows(cmd):\n"
		 "    d = json.loads(subprocess.run(cmd, capture_output=True,\n"
		 "                   check=True, env={'LOCKSPACE_WAIT_DIR':\n"
		 "                   '%s'}).stdout)\n"
		 "    return d['locks']\n"
		 "# /proc/locks read in pages may repeat a line that moved\n"
		 "ls = [dict(t) for t in {tuple(r.items()) for r in\n"
		 "      rows(['lslocks', '-J']) if r['pid'] == %d}]\n"
		 "us = [r for r in rows(['%s', '-J']) if r['path'] == '%s']\n"
		 "assert len(ls) == 1, ls\n"
		 "mine = [r for r in us if r['pid'] == %d]\n"
		 "assert len(mine) == 1, us\n"
		 "for k, v in ls[0].items():\n"
		 "    assert mine[0][k] == v, (k, v, mine[0][k])\n"
		 "assert set(mine[0]) - set(ls[0]) == {'holder-fd', 'via',\n"
		 "       'blocker', 'waiters'}, mine[0]\n"
		 "sh = [r for r in us if r['pid'] == %d]\n"
		 "assert len(sh) == 1 and sh[0]['type'] == 'OFDLCK' and\\\n"
		 "       sh[0]['via'] == 'anchor' and sh[0]['end'] == 99 and\\\n"
		 "       sh[0]['holder-fd'] == [3] and sh[0]['m'] is False, sh\n"
		 "print('same')\n",
		 wait_dir, (int)b.pid, TOOL, path, (int)b.pid, (int)a.pid);
	{
		const char *argv[] = { "/usr/bin/python3", "-c", script,
				       NULL };

		cr_expect_eq(tu_run(0, argv, NULL, out, OUT_LEN), 0, "%s",
			     out);
		cr_expect_str_eq(out, "same\n");
	}
	tu_proc_finish(&a, FINISH_MS);
	tu_proc_finish(&b, FINISH_MS);
	unlink(path);
}
