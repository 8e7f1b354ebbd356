/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_config_run.c: lockspace-preload.conf, the environment, the log
 * and lockspace-run, seen from an unmodified program (tests/progs/cfgprog)
 * run under the shim. cfgprog prints "ok" and exits 7 whatever happens:
 * a broken configuration must never change that. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

struct run {
	int status;
	char out[8192];
	char err[8192];
};

/* Reads both pipes to their end into r. */
static void drain(int o, int e, struct run *r)
{
	size_t no = 0, ne = 0;
	int open_o = 1, open_e = 1;

	while (open_o || open_e) {
		fd_set set;
		ssize_t n;

		FD_ZERO(&set);
		if (open_o)
			FD_SET(o, &set);
		if (open_e)
			FD_SET(e, &set);
		if (select((o > e ? o : e) + 1, &set, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (open_o && FD_ISSET(o, &set)) {
			n = read(o, r->out + no, sizeof(r->out) - 1 - no);
			if (n <= 0)
				open_o = 0;
			else
				no += (size_t)n;
		}
		if (open_e && FD_ISSET(e, &set)) {
			n = read(e, r->err + ne, sizeof(r->err) - 1 - ne);
			if (n <= 0)
				open_e = 0;
			else
				ne += (size_t)n;
		}
	}
	r->out[no] = 0;
	r->err[ne] = 0;
}

/* Run argv with a clean environment: PATH, LD_PRELOAD (the shim, when
 * preload), then env. Nothing of the runner's LOCKSPACE_* leaks in. */
static void run(struct run *r, int preload, const char *const *argv,
		const char *const *env)
{
	int po[2], pe[2], status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pe), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char pre[4096];
		const char *envp[64];
		int n = 0;

		dup2(po[1], 1);
		dup2(pe[1], 2);
		close_range(3, ~0U, 0);
		envp[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
		if (preload) {
			snprintf(pre, sizeof(pre), "LD_PRELOAD=%s",
				 tu_preload());
			envp[n++] = pre;
		}
		for (int i = 0; env && env[i] && n < 63; i++)
			envp[n++] = env[i];
		envp[n] = NULL;
		execve(argv[0], (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	drain(po[0], pe[0], r);
	close(po[0]);
	close(pe[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status)
				      : 128 + WTERMSIG(status);
}

static int count_lines(const char *s, const char *prefix)
{
	int n = 0;

	for (const char *l = s; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l)
		n += !strncmp(l, prefix, strlen(prefix));
	return n;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lockspace-cfg-XXXXXX");
	cr_assert_not_null(tu_mkdtemp(dir));
}

TestSuite(config_run, .init = mkdir_tmp, .timeout = 30);

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static const char *path_in(const char *name)
{
	static __thread char buf[64][256]; /* a ring: enough for one test */
	static __thread int i;

	i = (i + 1) % 64;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static const char *envvar(const char *name, const char *value)
{
	static __thread char buf[32][4200];
	static __thread int i;

	i = (i + 1) % 32;
	snprintf(buf[i], sizeof(buf[i]), "%s=%s", name, value);
	return buf[i];
}

/* Under conf, cfgprog still locks, prints ok, exits 7, and stderr holds
 * exactly one line: the config-error naming the file and line. */
static void assert_one_error(const char *conf, unsigned line,
			     const char *reason)
{
	const char *argv[] = {tu_prog("cfgprog"), "lock:", NULL, NULL};
	const char *env[] = {envvar("LOCKSPACE_PRELOAD_CONF", conf), NULL};
	char lockarg[300], want[400];
	struct run r;

	snprintf(lockarg, sizeof(lockarg), "lock:%s", path_in("data"));
	argv[1] = lockarg;
	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7, "status %d, stderr %s", r.status, r.err);
	cr_assert(strstr(r.out, "lock = 0\n") && strstr(r.out, "ok\n"), "%s",
		  r.out);
	cr_assert_eq(lines(r.err), 1, "stderr: %s", r.err);
	cr_assert_eq(count_lines(r.err, "event=config-error "), 1, "%s",
		     r.err);
	snprintf(want, sizeof(want), " file=%s line=%u reason=", conf, line);
	cr_assert(strstr(r.err, want), "%s lacks %s", r.err, want);
	cr_assert(strstr(r.err, reason), "%s lacks %s", r.err, reason);
}

static void bad_text(const char *text, size_t len, unsigned line,
		     const char *reason)
{
	const char *conf = path_in("bad.conf");

	write_file(conf, text, len);
	assert_one_error(conf, line, reason);
}

Test(config_run, unknown_key)
{
	static const char t[] = "mode = observe\n# c\nspeed = fast\n";

	bad_text(t, sizeof(t) - 1, 3, "unknown key");
}

Test(config_run, bad_value)
{
	static const char t[] = "mode = fast\n";

	bad_text(t, sizeof(t) - 1, 1, "bad value");
}

Test(config_run, unterminated_section)
{
	static const char t[] = "\n\n[/srv/*\nmode = off\n";

	bad_text(t, sizeof(t) - 1, 3, "unterminated section");
}

Test(config_run, global_key_in_section)
{
	static const char t[] = "[/srv/*]\nlog = syslog\n";

	bad_text(t, sizeof(t) - 1, 2, "is global");
}

Test(config_run, overlong_line)
{
	static char t[5000];

	memset(t, '#', sizeof(t));
	t[sizeof(t) - 1] = '\n';
	bad_text(t, sizeof(t), 1, "line longer than 4096");
}

Test(config_run, binary_garbage)
{
	static const char t[] = "mode = off\n\0\0\0\x01\x02garbage";

	bad_text(t, sizeof(t) - 1, 2, "NUL byte");
}

Test(config_run, larger_than_one_mib)
{
	size_t len = (1 << 20) + 10;
	char *t = malloc(len);

	cr_assert_not_null(t);
	memset(t, '\n', len);
	bad_text(t, len, 0, "larger than");
	free(t);
}

Test(config_run, missing_file)
{
	assert_one_error(path_in("nonexistent.conf"), 0, "No such file");
}

Test(config_run, directory_in_its_place)
{
	assert_one_error(dir, 0, "is a directory");
}

Test(config_run, fifo_in_its_place)
{
	const char *fifo = path_in("fifo.conf");

	cr_assert_eq(mkfifo(fifo, 0600), 0);
	assert_one_error(fifo, 0, "not a regular file");
}

/* A file that opens and then fails to read: root reads any file, so
 * chmod 000 cannot say it; /proc/self/mem answers EIO at offset 0. */
Test(config_run, unreadable_file)
{
	if (geteuid() != 0) {
		const char *conf = path_in("unreadable.conf");

		write_file(conf, "mode = off\n", 11);
		cr_assert_eq(chmod(conf, 0), 0);
		assert_one_error(conf, 0, "cannot open");
	}
	assert_one_error("/proc/self/mem", 0, "cannot read");
}

static void read_log(const char *log, char *buf, size_t len)
{
	int fd = open(log, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0, "%s: %s", log, strerror(errno));
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
}

/* A bad line is skipped and the rest applies: the file's log and mode
 * (the error goes to that log). A bad mode is observe, never protect. */
Test(config_run, broken_line_skipped_the_rest_applies)
{
	const char *conf = path_in("half.conf");
	const char *log = path_in("half.log");
	char text[512], buf[8192];
	const char *argv[] = {tu_prog("cfgprog"), NULL};
	const char *env[] = {envvar("LOCKSPACE_PRELOAD_CONF", conf),
			     "LOCKSPACE_PRELOAD_REPORT=1", NULL};
	struct run r;

	snprintf(text, sizeof(text), "mode = observe\nlog = %s\nbogus\n"
		 "speed = fast\n", log);
	write_file(conf, text, strlen(text));
	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7);
	cr_assert_str_eq(r.err, "");
	read_log(log, buf, sizeof(buf));
	cr_assert_eq(count_lines(buf, "event=config-error "), 2, "%s", buf);
	cr_assert(strstr(buf, " line=3 reason=\"expected"), "%s", buf);
	cr_assert(strstr(buf, " line=4 reason=\"unknown key"), "%s", buf);
	cr_assert(strstr(buf, "event=summary ") &&
		  strstr(buf, " mode=observe "), "%s", buf);

	write_file(conf, "mode = obsrve\n", 14);
	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7);
	cr_assert_eq(count_lines(r.err, "event=config-error "), 1, "%s",
		     r.err);
	cr_assert(strstr(r.err, " mode=observe "), "%s", r.err);

	/* The same in the environment. */
	{
		const char *e2[] = {"LOCKSPACE_PRELOAD_MODE=obsrve",
				    "LOCKSPACE_PRELOAD_REPORT=1", NULL};

		run(&r, 1, argv, e2);
		cr_assert_eq(r.status, 7);
		cr_assert(strstr(r.err, " variable=LOCKSPACE_PRELOAD_MODE "),
			  "%s", r.err);
		cr_assert(strstr(r.err, " mode=observe "), "%s", r.err);
	}
}

/* A file that cannot be used at all: the defaults with mode = observe. */
Test(config_run, unusable_file_is_observe)
{
	const char *argv[] = {tu_prog("cfgprog"), NULL};
	const char *env[] = {envvar("LOCKSPACE_PRELOAD_CONF", dir),
			     "LOCKSPACE_PRELOAD_REPORT=1", NULL};
	struct run r;

	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7);
	cr_assert(strstr(r.err, "reason=\"is a directory: the defaults with "
			 "mode = observe\""), "%s", r.err);
	cr_assert(strstr(r.err, " mode=observe "), "%s", r.err);
}

/* ... while the environment still applies over the file. */
Test(config_run, env_overrides_apply_over_a_broken_file)
{
	const char *conf = path_in("broken.conf");
	const char *log = path_in("env.log");
	const char *argv[] = {tu_prog("cfgprog"), NULL};
	const char *env[] = {envvar("LOCKSPACE_PRELOAD_CONF", conf),
			     envvar("LOCKSPACE_PRELOAD_LOG", log),
			     "LOCKSPACE_PRELOAD_MODE=observe",
			     "LOCKSPACE_PRELOAD_LOG_LEVEL=info", NULL};
	char text[8192];
	struct run r;
	FILE *f;
	size_t n;

	write_file(conf, "[x\n", 3);
	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7);
	cr_assert_str_eq(r.err, "");
	f = fopen(log, "r");
	cr_assert_not_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	cr_assert_eq(count_lines(text, "event=config-error "), 1, "%s", text);
	cr_assert(strstr(text, "reason=\"unterminated section"), "%s", text);
	cr_assert_eq(count_lines(text, "event=summary "), 1, "%s", text);
	cr_assert(strstr(text, " mode=observe "), "%s", text);
}

static void conflicts_under(const char *const *env, const char *want)
{
	const char *data = path_in("locked.db");
	char a1[300], a2[300], w[64];
	const char *argv[] = {tu_prog("cfgprog"), a1, a2, NULL};
	struct run r;

	snprintf(a1, sizeof(a1), "lock:%s", data);
	snprintf(a2, sizeof(a2), "lock2:%s", data);
	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7, "%s", r.err);
	snprintf(w, sizeof(w), "lock2 = %s\n", want);
	cr_assert(strstr(r.out, w), "want %s got %s (stderr %s)", w, r.out,
		  r.err);
	cr_assert_str_eq(r.err, "");
}

Test(config_run, conflicts_from_env_file_and_sections)
{
	const char *conf = path_in("c.conf");
	char text[512];
	const char *none[] = {NULL};
	const char *by_env[] = {"LOCKSPACE_PRELOAD_CONFLICTS=fd", NULL};
	const char *by_file[] = {envvar("LOCKSPACE_PRELOAD_CONF", conf), NULL};
	const char *env_beats_section[] = {
		envvar("LOCKSPACE_PRELOAD_CONF", conf),
		"LOCKSPACE_PRELOAD_CONFLICTS=process", NULL};

	conflicts_under(none, "0");
	conflicts_under(by_env, "-1 EAGAIN");
	write_file(conf, "conflicts = fd\n", 15);
	conflicts_under(by_file, "-1 EAGAIN");
	/* first match wins: locked.db is under the first section */
	snprintf(text, sizeof(text),
		 "[%s/locked*]\nconflicts = fd\n[%s/*]\nconflicts = process\n",
		 dir, dir);
	write_file(conf, text, strlen(text));
	conflicts_under(by_file, "-1 EAGAIN");
	snprintf(text, sizeof(text),
		 "[%s/*]\nconflicts = process\n[%s/locked*]\nconflicts = fd\n",
		 dir, dir);
	write_file(conf, text, strlen(text));
	conflicts_under(by_file, "0");
	snprintf(text, sizeof(text), "[%s/*]\nconflicts = fd\n", dir);
	write_file(conf, text, strlen(text));
	conflicts_under(env_beats_section, "0");
}

/* Each variable, one by one, and a bad value of each: one error naming the
 * variable, and the program runs on. */
Test(config_run, every_env_override)
{
	const char *log = path_in("ov.log");
	const char *argv[] = {tu_prog("cfgprog"), NULL};
	static const char *const vars[] = {
		"LOCKSPACE_PRELOAD_MODE", "LOCKSPACE_PRELOAD_CONFLICTS",
		"LOCKSPACE_PRELOAD_BACKEND", "LOCKSPACE_PRELOAD_LOG",
		"LOCKSPACE_PRELOAD_LOG_LEVEL", "LOCKSPACE_PRELOAD_BACKTRACE"};
	struct run r;

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *env[] = {envvar(vars[i], "bogus"), NULL};
		char want[128];

		run(&r, 1, argv, env);
		cr_assert_eq(r.status, 7);
		cr_assert_eq(lines(r.err), 1, "%s", r.err);
		snprintf(want, sizeof(want), "event=config-error ");
		cr_assert(!strncmp(r.err, want, strlen(want)), "%s", r.err);
		snprintf(want, sizeof(want), " variable=%s reason=", vars[i]);
		cr_assert(strstr(r.err, want), "%s", r.err);
	}
	{
		const char *env[] = {"LOCKSPACE_PRELOAD_MODE=off",
				     "LOCKSPACE_PRELOAD_LOG_LEVEL=info",
				     "LOCKSPACE_PRELOAD_BACKEND=anchor",
				     "LOCKSPACE_PRELOAD_BACKTRACE=on", NULL};

		run(&r, 1, argv, env);
		cr_assert_eq(r.status, 7);
		cr_assert_eq(count_lines(r.err, "event=summary "), 1, "%s",
			     r.err);
		cr_assert(strstr(r.err, " mode=off "), "%s", r.err);
	}
	{
		const char *env[] = {envvar("LOCKSPACE_PRELOAD_LOG", log),
				     "LOCKSPACE_PRELOAD_REPORT=1", NULL};

		run(&r, 1, argv, env);
		cr_assert_eq(r.status, 7);
		cr_assert_str_eq(r.err, "");
		cr_assert_eq(access(log, F_OK), 0);
	}
	{
		/* notice: no summary without --report */
		run(&r, 1, argv, NULL);
		cr_assert_str_eq(r.err, "");
	}
}


Test(config_run, log_file_is_0600_appended_logfmt)
{
	const char *log = path_in("app.log");
	const char *conf = path_in("log.conf");
	const char *argv[] = {tu_prog("cfgprog"), NULL};
	const char *env[] = {envvar("LOCKSPACE_PRELOAD_CONF", conf), NULL};
	char text[PATH_MAX + 64], buf[8192];
	struct stat st;
	regex_t re;
	struct run r;

	write_file(log, "before\n", 7);
	cr_assert_eq(chmod(log, 0644), 0);
	unlink(log);
	snprintf(text, sizeof(text), "log = %s\nlog-level = info\n", log);
	write_file(conf, text, strlen(text));
	umask(022);
	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7);
	cr_assert_str_eq(r.err, "");
	cr_assert_eq(stat(log, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	run(&r, 1, argv, env);
	read_log(log, buf, sizeof(buf));
	cr_assert_eq(count_lines(buf, "event=summary "), 2, "%s", buf);
	cr_assert_eq(lines(buf), 2, "%s", buf);
	cr_assert_eq(regcomp(&re,
			     "^event=summary ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T"
			     "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
			     "pid=[0-9]+ tid=[0-9]+ level=info comm=cfgprog "
			     "exe=/[^ ]*/cfgprog mode=protect "
			     "locks=[0-9]+ files=[0-9]+ peak_held=[0-9]+ "
			     "prevented=[0-9]+ observed=[0-9]+ "
			     "fallbacks=[0-9]+$",
			     REG_EXTENDED | REG_NEWLINE),
		     0);
	cr_assert_eq(regexec(&re, buf, 0, NULL, 0), 0, "%s", buf);
	regfree(&re);
	/* O_NOFOLLOW: a symlink in its place is refused, stderr says so */
	unlink(log);
	cr_assert_eq(symlink(path_in("elsewhere"), log), 0);
	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7);
	cr_assert_eq(access(path_in("elsewhere"), F_OK), -1);
	cr_assert_eq(count_lines(r.err, "event=log-error "), 1, "%s", r.err);
	cr_assert(strstr(r.err, "fallback=stderr"), "%s", r.err);
	cr_assert_eq(count_lines(r.err, "event=summary "), 1, "%s", r.err);
}

/* A daemon closes every descriptor it finds, past the interposer, and
 * opens files of its own at those numbers: the shim must not write into
 * them, and reopens its log. */
Test(config_run, log_file_closed_by_the_program_is_reopened)
{
	const char *log = path_in("d.log");
	const char *other = path_in("daemon-own.txt");
	char steal[600], buf[8192];
	const char *argv[] = {tu_prog("cfgprog"), steal, NULL};
	const char *env[] = {envvar("LOCKSPACE_PRELOAD_LOG", log),
			     "LOCKSPACE_PRELOAD_REPORT=1", NULL};
	struct run r;

	snprintf(steal, sizeof(steal), "steal:%s:%s", log, other);
	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7, "%s", r.err);
	cr_assert(strstr(r.out, "stolen = 1\n"), "%s", r.out);
	read_log(other, buf, sizeof(buf));
	cr_assert_str_eq(buf, "", "the shim wrote into the program's file");
	read_log(log, buf, sizeof(buf));
	cr_assert_eq(count_lines(buf, "event=summary "), 1, "%s", buf);
}

/* The program never meets the log's descriptor: close() of it is EBADF,
 * as for a free number. */
Test(config_run, log_descriptor_is_hidden)
{
	const char *log = path_in("h.log");
	const char *argv[] = {"/bin/sh", "-c",
			      "for f in /proc/$$/fd/*; do "
			      "[ \"$(readlink $f)\" = \"$LOG\" ] && "
			      "echo found ${f##*/}; done; exit 7", NULL};
	const char *env[] = {envvar("LOCKSPACE_PRELOAD_LOG", log),
			     envvar("LOG", log), NULL};
	struct run r;
	int fd;

	run(&r, 1, argv, env);
	cr_assert_eq(r.status, 7);
	/* /bin/sh has it open, on a high number */
	cr_assert(sscanf(r.out, "found %d", &fd) == 1, "%s", r.out);
	cr_assert_gt(fd, 9, "log on fd %d", fd);
}

static const char *run_script(void)
{
	static char path[4096];
	const char *cands[] = {"/../shim/lockspace-run",
			       "/../../shim/lockspace-run",
			       "/../../../shim/lockspace-run"};

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", BUILD_DIR, cands[i]);
		if (access(path, X_OK) == 0)
			return path;
	}
	cr_skip_test("shim/lockspace-run not found from %s", BUILD_DIR);
	return NULL;
}

/* The shim line for lockspace-run: the sanitizer builds preload their
 * runtime first, which lockspace-run cannot know about. */
static const char *run_lib(void)
{
	const char *p = tu_preload();

	if (strchr(p, ' '))
		cr_skip_test("a sanitizer build (%s): lockspace-run would "
			     "preload the shim before the sanitizer runtime",
			     p);
	return envvar("LOCKSPACE_PRELOAD_LIBRARY", p);
}

Test(config_run, lockspace_run_keeps_an_existing_preload)
{
	const char *argv[] = {run_script(), "--", tu_prog("cfgprog"),
			      "env:LD_PRELOAD", NULL};
	const char *env[] = {run_lib(), "LD_PRELOAD=libm.so.6", NULL};
	char want[4200];
	struct run r;

	run(&r, 0, argv, env);
	cr_assert_eq(r.status, 7, "%s", r.err);
	snprintf(want, sizeof(want), "LD_PRELOAD = %s libm.so.6\n",
		 tu_preload());
	cr_assert(strstr(r.out, want), "want %s got %s", want, r.out);
	cr_assert_str_eq(r.err, "");
}

Test(config_run, lockspace_run_passes_the_exit_status)
{
	const char *env[] = {run_lib(), NULL};
	const char *a0[] = {run_script(), tu_prog("cfgprog"), "exit:0", NULL};
	const char *a42[] = {run_script(), "--observe", tu_prog("cfgprog"),
			     "exit:42", NULL};
	const char *sig[] = {run_script(), "/bin/sh", "-c", "kill -TERM $$",
			     NULL};
	const char *missing[] = {run_script(), path_in("no-such-command"),
				 NULL};
	struct run r;

	run(&r, 0, a0, env);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run(&r, 0, a42, env);
	cr_assert_eq(r.status, 42, "%s", r.err);
	run(&r, 0, sig, env);
	cr_assert_eq(r.status, 128 + SIGTERM, "%s", r.err);
	run(&r, 0, missing, env);
	cr_assert_eq(r.status, 127, "%s", r.err);
}

Test(config_run, lockspace_run_options)
{
	const char *env[] = {run_lib(), NULL};
	const char *log = path_in("run.log");
	const char *conf = path_in("run.conf");
	const char *help[] = {run_script(), "--help", NULL};
	const char *version[] = {run_script(), "--version", NULL};
	const char *unknown[] = {run_script(), "--frobnicate", "true", NULL};
	const char *noarg[] = {run_script(), "--log", NULL};
	const char *nocmd[] = {run_script(), "--observe", NULL};
	const char *badc[] = {run_script(), "--conflicts", "thread", "true",
			      NULL};
	const char *all[] = {run_script(), "--observe", "--conflicts=fd",
			     "--config", conf, "--log", log,
			     tu_prog("cfgprog"),
			     "env:LOCKSPACE_PRELOAD_MODE",
			     "env:LOCKSPACE_PRELOAD_CONFLICTS",
			     "env:LOCKSPACE_PRELOAD_CONF",
			     "env:LOCKSPACE_PRELOAD_LOG", NULL};
	char want[600];
	struct run r;

	run(&r, 0, help, env);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "Usage: lockspace-run"), "%s", r.out);
	run(&r, 0, version, env);
	cr_assert_eq(r.status, 0);
	cr_assert(!strncmp(r.out, "lockspace-run (lockspace-preload) ", 34),
		  "%s", r.out);
	run(&r, 0, unknown, env);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "unknown option '--frobnicate'"), "%s", r.err);
	run(&r, 0, noarg, env);
	cr_assert_eq(r.status, 2);
	run(&r, 0, nocmd, env);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "missing COMMAND"), "%s", r.err);
	run(&r, 0, badc, env);
	cr_assert_eq(r.status, 2);
	write_file(conf, "log-level = warning\n", 20);
	run(&r, 0, all, env);
	cr_assert_eq(r.status, 7, "%s", r.err);
	cr_assert(strstr(r.out, "LOCKSPACE_PRELOAD_MODE = observe\n"), "%s",
		  r.out);
	cr_assert(strstr(r.out, "LOCKSPACE_PRELOAD_CONFLICTS = fd\n"), "%s",
		  r.out);
	snprintf(want, sizeof(want), "LOCKSPACE_PRELOAD_CONF = %s\n", conf);
	cr_assert(strstr(r.out, want), "%s", r.out);
	snprintf(want, sizeof(want), "LOCKSPACE_PRELOAD_LOG = %s\n", log);
	cr_assert(strstr(r.out, want), "%s", r.out);
}

Test(config_run, lockspace_run_report)
{
	const char *env[] = {run_lib(), NULL};
	const char *argv[] = {run_script(), "--report", "--observe",
			      tu_prog("cfgprog"), NULL};
	const char *plain[] = {run_script(), tu_prog("cfgprog"), NULL};
	struct run r;

	run(&r, 0, argv, env);
	cr_assert_eq(r.status, 7);
	/* the process's summary, then lockspace-run's count (issue 23) */
	cr_assert_eq(lines(r.err), 3, "%s", r.err);
	cr_assert_eq(count_lines(r.err, "event=summary "), 1, "%s", r.err);
	cr_assert(strstr(r.err, " mode=observe locks="), "%s", r.err);
	cr_assert(strstr(r.err, "lockspace-run: 1 process of the tree loaded "
			 "the shim: cfgprog (1)\n"), "%s", r.err);
	run(&r, 0, plain, env);
	cr_assert_eq(r.status, 7);
	cr_assert_str_eq(r.err, "");
}

/* Only COMMAND gets the library: what lockspace-run --report runs itself
 * (mktemp, chmod, env, awk) must not log, nor be counted. */
Test(config_run, lockspace_run_report_keeps_the_library_to_the_command)
{
	const char *log = path_in("report.log");
	const char *env[] = {run_lib(), envvar("LOCKSPACE_PRELOAD_LOG", log),
			     "LOCKSPACE_PRELOAD_LOG_LEVEL=info", NULL};
	const char *argv[] = {run_script(), "--report", tu_prog("cfgprog"),
			      NULL};
	char text[8192];
	struct run r;
	ssize_t n;
	int fd;

	run(&r, 0, argv, env);
	cr_assert_eq(r.status, 7, "%s", r.err);
	fd = open(log, O_RDONLY);
	cr_assert(fd >= 0, "no log %s", log);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	cr_assert_eq(count_lines(text, "event=summary "), 1, "%s", text);
	cr_assert(strstr(r.err, "1 process of the tree loaded the shim: "
			 "cfgprog (1)"), "%s", r.err);
}

/*
 * --report says how many processes of COMMAND's tree loaded the shim:
 * here a shell, two cfgprogs that lock, and an env that drops
 * LD_PRELOAD before it runs a third cfgprog, as a master that cleans its
 * workers' environment does: that one is missing from the count, and env
 * (the same process) never reports its exit. The status is COMMAND's.
 */
Test(config_run, lockspace_run_report_counts_the_tree)
{
	char script[1024];
	const char *env[] = {run_lib(), NULL};
	const char *argv[] = {run_script(), "--report", "/bin/sh", "-c", script,
			      NULL};
	struct run r;

	snprintf(script, sizeof(script),
		 "%s lock:%s >/dev/null & %s lock:%s >/dev/null; "
		 "env -u LD_PRELOAD %s >/dev/null; wait; exit 5",
		 tu_prog("cfgprog"), path_in("one"), tu_prog("cfgprog"),
		 path_in("two"), tu_prog("cfgprog"));
	run(&r, 0, argv, env);
	cr_assert_eq(r.status, 5, "%s", r.err);
	cr_assert(strstr(r.err, "lockspace-run: 4 processes of the tree loaded "
			 "the shim: "), "%s", r.err);
	cr_assert(strstr(r.err, "cfgprog (2)") && strstr(r.err, "sh (1)") &&
		  strstr(r.err, "env (1)"), "%s", r.err);
	cr_assert(strstr(r.err, "lockspace-run: 2 of them took locks (2 "
			 "granted); 0 files fell back to plain POSIX locks\n"),
		  "%s", r.err);
	/* the shell ends with _exit(), env became the third cfgprog */
	cr_assert(strstr(r.err, "lockspace-run: 2 did not report an exit"),
		  "%s", r.err);
}

/* Signals sent to lockspace-run --report reach COMMAND, and COMMAND's
 * death by a signal is ours. */
Test(config_run, lockspace_run_report_passes_signals_and_status)
{
	const char *env[] = {run_lib(), NULL};
	const char *self[] = {run_script(), "--report", "/bin/sh", "-c",
			      "kill -TERM $$", NULL};
	const char *fwd[] = {run_script(), "--report", "/bin/sh", "-c",
			     "trap 'exit 9' USR1; kill -USR1 $PPID; "
			     "while :; do sleep 0.05; done", NULL};
	struct run r;

	run(&r, 0, self, env);
	cr_assert_eq(r.status, 128 + SIGTERM, "%s", r.err);
	cr_assert(strstr(r.err, "1 process of the tree loaded the shim"),
		  "%s", r.err);
	run(&r, 0, fwd, env);
	cr_assert_eq(r.status, 9, "%s", r.err);
}

/*
 * Secure execution. ld.so ignores LD_PRELOAD in an AT_SECURE process, so
 * the setuid copy of cfgprog loads the shim with dlopen(), which runs the
 * same constructor. AT_SECURE comes from an euid that differs from the
 * ruid: root running a program that is setuid to nobody gets it (root
 * running a setuid-root one does not).
 */
Test(config_run, secure_execution_ignores_the_environment)
{
	const char *lib = tu_preload();
	const char *log = path_in("secure.log");
	char copy[300], dl[4200], cmd[4400];
	struct passwd *pw = getpwnam("nobody");
	const char *argv[] = {copy, dl, "secure", NULL};
	const char *env[] = {envvar("LOCKSPACE_PRELOAD_LOG", log),
			     envvar("LOCKSPACE_PRELOAD_CONF",
				    path_in("missing.conf")),
			     "LOCKSPACE_PRELOAD_REPORT=1", NULL};
	struct run r;

	if (geteuid() != 0 || !pw)
		cr_skip_test("needs root and a user nobody to make a setuid "
			     "copy that gets AT_SECURE");
	if (strchr(lib, ' '))
		cr_skip_test("a sanitizer build: dlopen of %s", lib);
	snprintf(copy, sizeof(copy), "%s/cfgprog-setuid", dir);
	snprintf(dl, sizeof(dl), "dlopen:%s", lib);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", tu_prog("cfgprog"), copy);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(chmod(dir, 0777), 0);
	/* the control: not setuid, the variables apply */
	run(&r, 0, argv, env);
	cr_assert_eq(r.status, 7, "%s %s", r.out, r.err);
	cr_assert(strstr(r.out, "secure = 0\n"), "%s", r.out);
	cr_assert_eq(access(log, F_OK), 0, "control run did not log");
	unlink(log);
	cr_assert_eq(chown(copy, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(chmod(copy, 04755), 0);
	run(&r, 0, argv, env);
	if (strstr(r.out, "secure = 0\n"))
		cr_skip_test("a setuid program does not get AT_SECURE here "
			     "(nosuid mount or no_new_privs?)");
	cr_assert_eq(r.status, 7, "%s %s", r.out, r.err);
	cr_assert(strstr(r.out, "secure = 1\n"), "%s", r.out);
	if (strstr(r.out, "dlopen = "))
		cr_skip_test("nobody cannot load %s: %s", lib, r.out);
	cr_assert_eq(access(log, F_OK), -1,
		     "LOCKSPACE_PRELOAD_LOG was obeyed under AT_SECURE");
	cr_assert_str_eq(r.err, "");
}

/* lockspace-run --check-config [FILE]: every error as FILE:LINE: REASON,
 * exit 1 on any (the shim's own parser); 0 and "ok" for a good file; the
 * environment's variables are checked too. */
Test(config_run, lockspace_run_check_config)
{
	const char *good = path_in("good.conf"), *bad = path_in("bad.conf");
	/* the tool of this build (make B=build/deb check) */
	const char *env[] = {run_lib(),
			     envvar("LOCKSPACE_RUN_BUILD", BUILD_DIR), NULL};
	const char *a_good[] = {run_script(), "--check-config", good, NULL};
	const char *a_bad[] = {run_script(), "--check-config", bad, NULL};
	const char *a_conf[] = {run_script(), "--config", bad,
				"--check-config", NULL};
	const char *a_print[] = {run_script(), "--check-config=" , NULL};
	char want[400], opt[300];
	struct run r;

	write_file(good, "mode = observe\n[/srv/*]\nconflicts = fd\n", 39);
	write_file(bad, "mode = observe\nspeed = fast\n\nlog-level = loud\n",
		   46);
	run(&r, 0, a_good, env);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "%s: ok (mode = observe)\n", good);
	cr_assert_str_eq(r.out, want);
	cr_assert_str_eq(r.err, "");

	run(&r, 0, a_bad, env);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "%s:2: unknown key \"speed\"\n", bad);
	cr_assert(strstr(r.err, want), "%s", r.err);
	snprintf(want, sizeof(want), "%s:4: bad value \"loud\" for key "
		 "\"log-level\"", bad);
	cr_assert(strstr(r.err, want), "%s", r.err);
	cr_assert(strstr(r.err, ": 2 errors: the shim skips them and applies "
			 "the rest, with mode = observe\n"), "%s", r.err);

	run(&r, 0, a_conf, env);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, want), "%s", r.err);

	/* -p prints what applies; the environment is checked too. */
	snprintf(opt, sizeof(opt), "--check-config=%s", good);
	a_print[1] = opt;
	{
		const char *e2[] = {env[0], env[1],
				    "LOCKSPACE_PRELOAD_LOG_LEVEL=x", NULL};

		run(&r, 0, a_print, e2);
		cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
		cr_assert(strstr(r.err, "LOCKSPACE_PRELOAD_LOG_LEVEL: bad "
				 "value \"x\""), "%s", r.err);
	}
	{
		const char *tool[] = {BUILD_DIR "/lockspace-check-config", "-p",
				      good, NULL};

		run(&r, 0, tool, NULL);
		cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
		cr_assert(strstr(r.out, "mode = observe\n") &&
			  strstr(r.out, "[/srv/*]\nconflicts = fd\n"), "%s",
			  r.out);
	}
}
