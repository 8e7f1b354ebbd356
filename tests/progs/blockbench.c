/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/blockbench.c: the cost of one F_SETLKW that blocks, as an
 * unmodified program sees it. No header or library of ours.
 *
 *   blockbench PATH ROUNDS DELAY_US
 *
 * A forked child write-locks byte 0 of PATH; each round the parent tells
 * it to let go and at once asks F_SETLKW for the byte. The child unlocks
 * DELAY_US microseconds after it was told (0: at once) and notes the
 * time. Prints the medians over ROUNDS of call-to-grant and of
 * release-to-grant, in microseconds:
 *
 *   call_us=MEDIAN grant_us=MEDIAN blocked=N rounds=ROUNDS
 *
 * blocked counts rounds in which the call took longer than the child's
 * unlock (so it did wait). Exits 99 after 20 s whatever happens.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXR 2000

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int setlk(int fd, int cmd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 1 };
	int r;

	while ((r = fcntl(fd, cmd, &fl)) < 0 && errno == EINTR)
		;
	return r;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static void child(const char *path, int rounds, long delay_us, int go,
		  int ack, volatile long long *released)
{
	int fd = open(path, O_RDWR);
	char c;

	for (int i = 0; i < rounds; i++) {
		if (fd < 0 || setlk(fd, F_SETLKW, F_WRLCK) < 0)
			_exit(1);
		if (write(ack, "h", 1) != 1)	/* holding */
			_exit(1);
		if (read(go, &c, 1) != 1)
			_exit(1);
		if (delay_us) {
			struct timespec ts = { 0, delay_us * 1000L };

			nanosleep(&ts, NULL);
		}
		released[i] = now_ns();
		setlk(fd, F_SETLK, F_UNLCK);
		if (read(go, &c, 1) != 1)	/* the parent is done */
			_exit(1);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	static long long call[MAXR], grant[MAXR];
	volatile long long *released;
	int rounds, go[2], ack[2], fd, st, blocked = 0;
	long delay_us;
	pid_t c;
	char ch;

	if (argc < 4) {
		fprintf(stderr, "usage: blockbench PATH ROUNDS DELAY_US\n");
		return 2;
	}
	alarm(20);
	rounds = atoi(argv[2]);
	if (rounds < 1 || rounds > MAXR)
		rounds = MAXR;
	delay_us = atol(argv[3]);
	released = mmap(NULL, sizeof(long long) * MAXR,
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	fd = open(argv[1], O_RDWR);
	if (released == MAP_FAILED || fd < 0 || pipe(go) < 0 ||
	    pipe(ack) < 0) {
		perror("blockbench");
		return 1;
	}
	c = fork();
	if (c == 0) {
		alarm(20);
		child(argv[1], rounds, delay_us, go[0], ack[1], released);
	}
	for (int i = 0; i < rounds; i++) {
		long long t0, t1;

		if (read(ack[0], &ch, 1) != 1)
			return 1;
		t0 = now_ns();
		if (write(go[1], "g", 1) != 1 ||
		    setlk(fd, F_SETLKW, F_WRLCK) < 0) {
			perror("F_SETLKW");
			return 1;
		}
		t1 = now_ns();
		call[i] = t1 - t0;
		grant[i] = t1 - released[i];
		blocked += t1 > released[i] && released[i] > t0;
		setlk(fd, F_SETLK, F_UNLCK);
		if (write(go[1], "d", 1) != 1)
			return 1;
	}
	waitpid(c, &st, 0);
	qsort(call, (size_t)rounds, sizeof(call[0]), cmp);
	qsort(grant, (size_t)rounds, sizeof(grant[0]), cmp);
	printf("call_us=%.1f grant_us=%.1f blocked=%d rounds=%d\n",
	       call[rounds / 2] / 1000.0, grant[rounds / 2] / 1000.0, blocked,
	       rounds);
	return 0;
}
