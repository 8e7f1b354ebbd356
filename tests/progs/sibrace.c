/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/sibrace.c: a dup made before the first lock keeps moving
 * (dup2 to another number, close the old one) while another thread
 * closes the descriptor that locked: an "unmodified program" for the
 * integration tests.
 *
 *   sibrace DIR ROUNDS
 *
 * Each round: open DIR/a as x, dup it to LOW *before* the first lock, and
 * lock all of a through x. A second thread then moves that dup between
 * LOW and HIGH (dup2 to the other number, close the old one) without end,
 * while the first thread closes x. Thirty descriptors of DIR/c, dup'ed
 * too, sit between LOW and HIGH. The description still has a descriptor
 * when the close returns, so under the contract a stays locked: another
 * description of a asks F_OFD_GETLK, and "lost" is counted when it sees
 * no lock. Then the moving dup is closed, and "phantom" is counted when a
 * lock is still there. Prints "rounds N lost L phantom P" and exits 0.
 * Plain POSIX loses the lock at every close of x.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { LOW = 5, FILLER = 10, NFILLER = 30, HIGH = 60 };

/* hopping: the round (from 1) in which the mover moves, 0 to stop;
 * done: the last round whose moves are over. Each change of hands also
 * passes through mu, which tools that follow descriptors between threads
 * (ThreadSanitizer) see when the program itself is not built for them. */
static atomic_int hopping, done, hops, cur = -1, stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void handover(void)
{
	pthread_mutex_lock(&mu);
	pthread_mutex_unlock(&mu);
}

static void *mover(void *arg)
{
	int mine = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		int g, to, round = atomic_load(&hopping);

		if (!round) {
			if (mine) {
				handover();
				atomic_store(&done, mine);
			}
			mine = 0;
			continue;
		}
		if (!mine)
			handover();
		mine = round;
		g = atomic_load(&cur);
		to = g == LOW ? HIGH : LOW;
		if (dup2(g, to) < 0) {
			perror("dup2");
			exit(2);
		}
		close(g);
		atomic_store(&cur, to);
		atomic_fetch_add(&hops, 1);
	}
	return NULL;
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
	char a[4096], c[4096];
	int rounds, lost = 0, phantom = 0, fc;
	pthread_t t;

	if (argc != 3) {
		fprintf(stderr, "usage: sibrace DIR ROUNDS\n");
		return 2;
	}
	snprintf(a, sizeof(a), "%s/a", argv[1]);
	snprintf(c, sizeof(c), "%s/c", argv[1]);
	rounds = atoi(argv[2]);
	fc = open(c, O_RDWR | O_CREAT, 0600);
	if (fc < 0) {
		perror(c);
		return 2;
	}
	for (int i = 0; i < NFILLER; i++)
		if (dup2(fc, FILLER + i) < 0) {
			perror("dup2");
			return 2;
		}
	pthread_create(&t, NULL, mover, NULL);
	for (int i = 0; i < rounds; i++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int x = open(a, O_RDWR | O_CREAT, 0600), h;

		if (x < 0 || dup2(x, LOW) < 0 || fcntl(x, F_SETLK, &fl) < 0) {
			perror("open, dup2, lock");
			return 2;
		}
		atomic_store(&cur, LOW);
		h = atomic_load(&hops);
		handover();
		atomic_store(&hopping, i + 1);
		while (atomic_load(&hops) < h + 2)
			;
		close(x);
		atomic_store(&hopping, 0);
		while (atomic_load(&done) != i + 1) /* its last move is over */
			;
		handover();
		if (!locked(a) && ++lost <= 3)
			fprintf(stderr, "round %d: lost\n", i);
		close(atomic_load(&cur));
		phantom += locked(a);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("rounds %d lost %d phantom %d\n", rounds, lost, phantom);
	return 0;
}
