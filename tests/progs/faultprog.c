/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/faultprog.c: an "unmodified program" for the fault tests
 * (tests/test_faults.c). No header or library of ours: it only calls libc.
 *
 *   faultprog PATH STEP...
 *
 * Descriptors have one-letter names (a..z). Each step prints one line
 * "STEP = RC" or "STEP = -1 ENAME" on stdout (some add fields). Steps:
 *
 *   open:N:MODE[:PATH]       MODE r, w or rw; PATH defaults to the file
 *   reopen:N:OLD             open("/proc/self/fd/<OLD>", O_RDONLY): a new
 *                            open file description of OLD's file
 *   lock:N:T:START:LEN       fcntl F_SETLK, T r|w|u
 *   getlk:N:T:START:LEN      F_GETLK; prints the type seen
 *   close:N
 *   setlkw:N:T:START:LEN:MS:restart|norestart
 *                            F_SETLKW with a SIGALRM handler (SA_RESTART
 *                            or not) firing every MS ms until it returns;
 *                            adds "sigs=K" (handler runs, 0 or more)
 *   cancel_setlkw:N:T:START:LEN:MS
 *                            a thread blocks in F_SETLKW on N, cancelled
 *                            after MS ms; prints "canceled" or its result
 *   cancel_close:N           a thread with a cancellation pending calls
 *                            close(N): prints "canceled" or "returned",
 *                            and whether N is still open
 *   closeall:range|loop      close every fd from 3 up: close_range(3, ~0U,
 *                            0) or close() of 3..RLIMIT_NOFILE-1
 *   rlimit_tight             RLIMIT_NOFILE = the lowest free number
 *   ready                    print "ready", wait for a line on stdin
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

static const char *path;
static int fds[26];
static volatile sig_atomic_t nsigs;

static void say(const char *step, long rc, int err, const char *more)
{
	if (rc < 0)
		printf("%s = %ld %s%s\n", step, rc, strerrorname_np(err), more);
	else
		printf("%s = %ld%s\n", step, rc, more);
	fflush(stdout);
}

static int *fdp(const char *name)
{
	return &fds[(name[0] - 'a') % 26];
}

static short ltype(const char *s)
{
	return s[0] == 'r' ? F_RDLCK : s[0] == 'w' ? F_WRLCK : F_UNLCK;
}

static void fill(struct flock *fl, char **f)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = ltype(f[2]);
	fl->l_whence = SEEK_SET;
	fl->l_start = atoll(f[3]);
	fl->l_len = atoll(f[4]);
}

static void on_alarm(int sig)
{
	(void)sig;
	nsigs++;
}

static void timer_ms(long ms)
{
	struct itimerval it = {
		.it_value = { ms / 1000, ms % 1000 * 1000 },
		.it_interval = { ms / 1000, ms % 1000 * 1000 },
	};

	setitimer(ITIMER_REAL, &it, NULL);
}

struct waiter {
	int fd;
	struct flock fl;
	long rc;
	int err;
};

static void *setlkw_thread(void *arg)
{
	struct waiter *w = arg;

	w->rc = fcntl(w->fd, F_SETLKW, &w->fl);
	w->err = errno;
	return NULL;
}

static void *close_thread(void *arg)
{
	int fd = *(int *)arg;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_cancel(pthread_self());
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	close(fd);
	return (void *)"returned";
}

static int lowest_free(void)
{
	int n;

	for (n = 0; n < 65536; n++)
		if (fcntl(n, F_GETFD) < 0 && errno == EBADF)
			return n;
	return n;
}

static void do_step(const char *step)
{
	char buf[256], *f[8], *save = NULL, more[64] = "";
	struct flock fl;
	long rc = 0;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", step);
	for (char *t = strtok_r(buf, ":", &save); t && n < 8;
	     t = strtok_r(NULL, ":", &save))
		f[n++] = t;
	errno = 0;
	if (!strcmp(f[0], "ready")) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(buf, sizeof(buf), stdin))
			exit(3);
		return;
	} else if (!strcmp(f[0], "open")) {
		int fl2 = !strcmp(f[2], "r") ? O_RDONLY :
			  !strcmp(f[2], "w") ? O_WRONLY : O_RDWR;

		rc = *fdp(f[1]) = open(n > 3 ? f[3] : path, fl2);
	} else if (!strcmp(f[0], "reopen")) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/fd/%d", *fdp(f[2]));
		rc = *fdp(f[1]) = open(p, O_RDONLY);
	} else if (!strcmp(f[0], "lock")) {
		fill(&fl, f);
		rc = fcntl(*fdp(f[1]), F_SETLK, &fl);
	} else if (!strcmp(f[0], "getlk")) {
		fill(&fl, f);
		rc = fcntl(*fdp(f[1]), F_GETLK, &fl);
		if (!rc)
			rc = fl.l_type;
	} else if (!strcmp(f[0], "close")) {
		rc = close(*fdp(f[1]));
	} else if (!strcmp(f[0], "setlkw")) {
		struct sigaction sa = { .sa_handler = on_alarm };

		sa.sa_flags = !strcmp(f[6], "restart") ? SA_RESTART : 0;
		sigaction(SIGALRM, &sa, NULL);
		fill(&fl, f);
		nsigs = 0;
		timer_ms(atol(f[5]));
		rc = fcntl(*fdp(f[1]), F_SETLKW, &fl);
		int err = errno;
		timer_ms(0);
		errno = err;
		snprintf(more, sizeof(more), " sigs=%d", nsigs > 0);
	} else if (!strcmp(f[0], "cancel_setlkw")) {
		struct waiter w = { .fd = *fdp(f[1]) };
		pthread_t t;
		void *res;

		fill(&w.fl, f);
		pthread_create(&t, NULL, setlkw_thread, &w);
		usleep((useconds_t)atol(f[5]) * 1000);
		pthread_cancel(t);
		pthread_join(t, &res);
		printf("%s = %s\n", step,
		       res == PTHREAD_CANCELED ? "canceled" : "returned");
		fflush(stdout);
		return;
	} else if (!strcmp(f[0], "cancel_close")) {
		pthread_t t;
		void *res;
		int fd = *fdp(f[1]);

		pthread_create(&t, NULL, close_thread, &fd);
		pthread_join(t, &res);
		printf("%s = %s open=%d\n", step,
		       res == PTHREAD_CANCELED ? "canceled" : "returned",
		       fcntl(fd, F_GETFD) >= 0);
		fflush(stdout);
		return;
	} else if (!strcmp(f[0], "closeall")) {
		if (!strcmp(f[1], "range")) {
			rc = close_range(3, ~0U, 0);
		} else {
			struct rlimit rl;

			getrlimit(RLIMIT_NOFILE, &rl);
			for (rlim_t i = 3; i < rl.rlim_cur; i++)
				close((int)i);
		}
	} else if (!strcmp(f[0], "rlimit_tight")) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = (rlim_t)lowest_free();
		rc = setrlimit(RLIMIT_NOFILE, &rl);
	} else {
		fprintf(stderr, "faultprog: unknown step %s\n", step);
		exit(2);
	}
	say(step, rc, errno, more);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: faultprog PATH STEP...\n");
		return 2;
	}
	path = argv[1];
	for (int i = 2; i < argc; i++)
		do_step(argv[i]);
	return 0;
}
