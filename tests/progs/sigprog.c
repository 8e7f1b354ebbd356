/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/sigprog.c: close() and fcntl() from a signal handler, an
 * "unmodified program" for the integration tests.
 *
 *   sigprog PATH CYCLES [probe]
 *
 * The main thread locks and unlocks bytes 0..9 of PATH through one
 * descriptor CYCLES times (and opens and closes a second descriptor of it
 * every cycle), while a timer 50 us after each run runs a handler that
 * locks and unlocks bytes 100..109 through another descriptor and closes a
 * dup of it: the handler lands inside the lock calls and the closes. The
 * timer is re-armed at the end of each handler run, so the main thread
 * gets 50 us between runs however long a run takes (a periodic timer
 * could starve it: 276,503 handler runs in one run of 20,000 cycles that
 * usually sees 30,000, and CI's backend = posix run passed the test's 10 s
 * limit). Both
 * are async-signal-safe, so the program must finish; prints "done N lost
 * M" with the number of handler runs and, with "probe", the number of
 * cycles after whose open and close another description of the file
 * (F_OFD_GETLK) found bytes 0..9 free (else 0), and exits 0 when every
 * call succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int hfd;
static timer_t timer;
static const struct itimerspec once = { .it_value = { 0, 50 * 1000 } };
static volatile sig_atomic_t runs, bad;
static int lost;

static void on_alarm(int sig)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 100, .l_len = 10 };
	int saved = errno, d;

	(void)sig;
	if (fcntl(hfd, F_SETLK, &fl) < 0)
		bad = 1;
	fl.l_type = F_UNLCK;
	if (fcntl(hfd, F_SETLK, &fl) < 0)
		bad = 1;
	d = dup(hfd);
	if (d < 0 || close(d) < 0)
		bad = 1;
	runs++;
	if (timer_settime(timer, 0, &once, NULL) < 0)
		bad = 5;
	errno = saved;
}

/* Whether bytes 0..9 are locked, as another process would see it. */
static int held(int probe)
{
	struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			   .l_start = 0, .l_len = 10 };

	return fcntl(probe, F_OFD_GETLK, &q) < 0 || q.l_type != F_UNLCK;
}

int main(int argc, char **argv)
{
	struct flock fl = { .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL,
			       .sigev_signo = SIGALRM };
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa;
	int fd, cycles, probe;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "probe")))
		return 2;
	cycles = atoi(argv[2]);
	probe = open(argv[1], O_RDWR);
	fd = open(argv[1], O_RDWR);
	hfd = open(argv[1], O_RDWR);
	if (probe < 0 || fd < 0 || hfd < 0)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	if (timer_create(CLOCK_MONOTONIC, &ev, &timer) < 0 ||
	    timer_settime(timer, 0, &once, NULL) < 0)
		return 1;
	for (int i = 0; i < cycles; i++) {
		int o;

		fl.l_type = F_WRLCK;
		if (fcntl(fd, F_SETLK, &fl) < 0)
			bad = 2;
		o = open(argv[1], O_RDONLY);
		if (o < 0 || close(o) < 0)
			bad = 3;
		if (argc == 4 && !held(probe))
			lost++;
		fl.l_type = F_UNLCK;
		if (fcntl(fd, F_SETLK, &fl) < 0)
			bad = 4;
	}
	timer_settime(timer, 0, &off, NULL);
	printf("done %d lost %d\n", (int)runs, lost);
	return bad;
}
