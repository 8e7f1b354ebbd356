/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_apps.c: programs nobody here wrote (issue 8, part 1).
 *
 * Each client in tests/real/ runs three times: plain, under the shim in
 * mode = protect and in mode = observe, and must give the same correct
 * result every time (the script checks it and prints OK). These programs
 * use their locks correctly, so plain POSIX loses nothing and observe must
 * report no lock loss either; protect must not get in their way.
 *
 * A script exits 77 when its tool is missing: the test is skipped, and
 * says which. LOCKSPACE_TEST_REAL names the scripts' directory when it is
 * not tests/real next to the build directory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

enum real_mode { PLAIN, PROTECT, OBSERVE };

static const char *const mode_name[] = { "plain", "protect", "observe" };

static const char *real_dir(void)
{
	static __thread char buf[4096];
	static const char *const cands[] = { "/../tests/real",
					     "/../../tests/real" };
	const char *env = getenv("LOCKSPACE_TEST_REAL");
	struct stat st;

	if (env && *env)
		return env;
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", BUILD_DIR, cands[i]);
		if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
			return buf;
	}
	return "tests/real";
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Runs tests/real/argv[0] argv[1..] in its own process group, stdout and
 * stderr into out; kills the group after timeout_s. Returns the exit
 * status, 128 + signal, or -1. */
static int real_run(enum real_mode mode, const char *const *argv,
		    int timeout_s, char *out, size_t outlen)
{
	long end = now_ms() + timeout_s * 1000L;
	size_t got = 0;
	int pfd[2], status;
	pid_t child, r;

	if (pipe(pfd) < 0)
		return -1;
	child = fork();
	if (child == 0) {
		char path[8192];
		const char *asan = getenv("ASAN_OPTIONS");
		char *args[16];
		int i;

		setpgid(0, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close_range(3, ~0U, 0);	/* the runner's own (Criterion's) */
		unsetenv("LD_PRELOAD");
		unsetenv("LOCKSPACE_PRELOAD_CONF");
		unsetenv("LOCKSPACE_PRELOAD_CONFLICTS");
		setenv("LOCKSPACE_PRELOAD_LOG", "stderr", 1);
		setenv("LOCKSPACE_PRELOAD_LOG_LEVEL", "notice", 1);
		if (mode != PLAIN) {
			setenv("LD_PRELOAD", tu_preload(), 1);
			setenv("LOCKSPACE_PRELOAD_MODE", mode_name[mode], 1);
		}
		/* Under make asan the runtime comes with the preload: the
		 * clients' own leaks are not ours to report. */
		snprintf(path, sizeof(path), "%s%sdetect_leaks=0",
			 asan ? asan : "", asan ? ":" : "");
		setenv("ASAN_OPTIONS", path, 1);
		snprintf(path, sizeof(path), "%s/%s", real_dir(), argv[0]);
		args[0] = path;
		for (i = 1; argv[i] && i < 15; i++)
			args[i] = (char *)argv[i];
		args[i] = NULL;
		execv(path, args);
		printf("exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	if (child < 0) {
		close(pfd[0]);
		return -1;
	}
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		long left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			kill(-child, SIGKILL);
			snprintf(out + got, outlen - got,
				 "\nTIMEOUT after %d s\n", timeout_s);
			got += strlen(out + got);
			break;
		}
		if (got + 1 >= outlen) {
			char sink[4096];

			n = read(pfd[0], sink, sizeof(sink));
		} else {
			n = read(pfd[0], out + got, outlen - 1 - got);
			if (n > 0)
				got += (size_t)n;
		}
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		break;
	}
	out[got] = 0;
	close(pfd[0]);
	do
		r = waitpid(child, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	kill(-child, SIGKILL);	/* anything the script left behind */
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

/* Whether out has a line starting with word. */
static int has_line(const char *out, const char *word)
{
	size_t n = strlen(word);

	const char *l = out;

	while (l && *l) {
		if (!strncmp(l, word, n))
			return 1;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return 0;
}

static void real_check(enum real_mode mode, int timeout_s,
		       const char *const *argv)
{
	size_t len = 1 << 20;
	char *out = malloc(len);
	const char *ev;
	int st;

	cr_assert_not_null(out);
	st = real_run(mode, argv, timeout_s, out, len);
	if (st == 77) {
		char why[256] = "tool missing";
		const char *s = strstr(out, "SKIP: ");

		if (s)
			snprintf(why, sizeof(why), "%.*s",
				 (int)strcspn(s + 6, "\n"), s + 6);
		free(out);
		cr_skip_test("%s", why);
	}
	cr_expect_eq(st, 0, "%s %s (%s): exit status %d; output:\n%.8000s",
		     argv[0], argv[1] ? argv[1] : "", mode_name[mode], st, out);
	cr_expect(has_line(out, "OK"), "%s (%s): no OK line; output:\n%.8000s",
		  argv[0], mode_name[mode], out);
	/* These clients lose no lock under plain POSIX: observe has nothing
	 * to report, and the shim has no error to log in any mode. Except
	 * stress-ng's fcntl stressor, which runs every fcntl command on a
	 * descriptor that holds a lock, F_DUPFD and the close of the copy
	 * included: POSIX drops its lock there, and observe rightly says
	 * so (fd=5 func=close holder-fds=4, fd 5 a copy of fd 4). */
	ev = strstr(out, "event=lock-loss");
	if (argv[1] && !strcmp(argv[1], "fcntl"))
		ev = NULL;
	cr_expect(!ev, "%s (%s): lock-loss event from a client that loses no "
		  "lock, from:\n%.4000s", argv[0], mode_name[mode], ev);
	cr_expect(!strstr(out, "level=error"),
		  "%s (%s): the shim logged an error; output:\n%.8000s",
		  argv[0], mode_name[mode], out);
	free(out);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* One test per client and mode. */
#define REAL(name, timeout_s, ...)                                          \
	Test(apps, name##_plain, .timeout = (timeout_s) + 30)               \
	{                                                                   \
		real_check(PLAIN, timeout_s, ARGS(__VA_ARGS__));            \
	}                                                                   \
	Test(apps, name##_protect, .timeout = (timeout_s) + 30)             \
	{                                                                   \
		real_check(PROTECT, timeout_s, ARGS(__VA_ARGS__));          \
	}                                                                   \
	Test(apps, name##_observe, .timeout = (timeout_s) + 30)             \
	{                                                                   \
		real_check(OBSERVE, timeout_s, ARGS(__VA_ARGS__));          \
	}

/* sqlite3 CLI: 4 processes x 20 transactions of 10 rows, busy timeout 5 s. */
REAL(sqlite_concurrent_inserts_rollback_journal_exact, 60,
     "sqlite_concurrent.sh", "delete", "4", "200", "10")
REAL(sqlite_concurrent_inserts_wal_exact, 60,
     "sqlite_concurrent.sh", "wal", "4", "200", "10")
/* python3's sqlite3 module: two connections in one process. */
REAL(sqlite_two_connections_one_process_rollback_journal, 60,
     "sqlite_two_conn.py", "delete")
REAL(sqlite_two_connections_one_process_wal, 60,
     "sqlite_two_conn.py", "wal")
/* stress-ng lock stressors, 2 workers, 3 s each. */
REAL(stress_ng_fcntl_clean, 40, "stress.sh", "fcntl", "3")
REAL(stress_ng_lockf_clean, 40, "stress.sh", "lockf", "3")
REAL(stress_ng_lockofd_clean, 40, "stress.sh", "lockofd", "3")
REAL(stress_ng_locka_clean, 40, "stress.sh", "locka", "3")
/* Counters: 4 processes x 1000 increments under a lock. */
REAL(python_lockf_counter_exact, 60, "counter.py", "lockf", "4", "1000")
REAL(python_fcntl_byte_range_counters_exact, 60,
     "counter.py", "fcntl", "4", "1000")
REAL(perl_fcntl_setlkw_counter_exact, 60, "counter.pl", "4", "1000")
/* tdb (tdb-tools): 4 writers x 200 records, some in transactions. */
REAL(tdb_concurrent_writers_all_records, 60, "tdb_writers.sh", "4", "200")
