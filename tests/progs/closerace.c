/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/closerace.c: two threads close two descriptors of one open
 * file description at once, an "unmodified program" for the integration
 * tests.
 *
 *   closerace DIR ROUNDS
 *
 * Each round: open DIR/a as x, dup it to g *before* the first lock, lock
 * all of a through x, then one thread closes x while another closes g (a
 * barrier starts them together). Both descriptors of the description are
 * gone, so a must be unlocked: another open file description of a asks
 * F_OFD_GETLK (an OFD lock and a POSIX lock conflict even within one
 * process), and "phantom" is counted when a lock is still there. Then
 * a is opened read-only (taking x's number back) and DIR/b (taking g's),
 * b is locked, and "lost" is counted when another description of b does
 * not see the lock. Both are closed again. Prints "rounds N phantom P lost L" and exits 0.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t bar;

static void *closer(void *arg)
{
	pthread_barrier_wait(&bar);
	close((int)(long)arg);
	return NULL;
}

static int setlk(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	return fcntl(fd, F_SETLK, &fl);
}

/* Whether another open file description of path sees a lock. */
static int locked(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDWR), r;

	if (fd < 0) {
		perror(path);
		exit(2);
	}
	r = fcntl(fd, F_OFD_GETLK, &fl);
	close(fd);
	if (r < 0) {
		perror("F_OFD_GETLK");
		exit(2);
	}
	return fl.l_type != F_UNLCK;
}

int main(int argc, char **argv)
{
	char a[4096], b[4096];
	int rounds, phantom = 0, lost = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: closerace DIR ROUNDS\n");
		return 2;
	}
	snprintf(a, sizeof(a), "%s/a", argv[1]);
	snprintf(b, sizeof(b), "%s/b", argv[1]);
	rounds = atoi(argv[2]);
	pthread_barrier_init(&bar, NULL, 3);
	for (int i = 0; i < rounds; i++) {
		pthread_t t1, t2;
		int x = open(a, O_RDWR | O_CREAT, 0600), g, y, d;

		g = dup(x);
		if (x < 0 || g < 0 || setlk(x, F_WRLCK) < 0) {
			perror("open, dup, lock");
			return 2;
		}
		pthread_create(&t1, NULL, closer, (void *)(long)x);
		pthread_create(&t2, NULL, closer, (void *)(long)g);
		pthread_barrier_wait(&bar);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		phantom += locked(a);
		d = open(a, O_RDONLY);
		y = open(b, O_RDWR | O_CREAT, 0600);
		if (d < 0 || y < 0 || setlk(y, F_WRLCK) < 0) {
			perror("open, lock b");
			return 2;
		}
		lost += !locked(b);
		close(y);
		close(d);
	}
	printf("rounds %d phantom %d lost %d\n", rounds, phantom, lost);
	return 0;
}
