/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/dropprog.c: Apache's accept mutex as an "unmodified
 * program" (no header or library of ours).
 *
 *   dropprog PATH UID GID
 *
 * As root, opens PATH for writing (APR's fcntl mutex: O_WRONLY, a file
 * the workers' user may not open) and forks two children, which give up
 * root (setgroups, setgid, setuid to UID:GID) and lock the descriptor
 * they inherited, as prefork's children do. The parent drives them
 * through pipes and prints what they did:
 *
 *   c1.lock = RC         child 1: F_SETLK write lock over all of PATH
 *   c1.dupclose = RC     child 1: dup() of it and close() of the dup
 *   ready                (the test probes: child 1's lock)
 *   c2.lock = RC         child 2: F_SETLK the same (EAGAIN: child 1's)
 *   c1.exit = STATUS     child 1 exits
 *   c2.lock2 = RC        child 2: F_SETLK again (free now)
 *   ready                (the test probes: child 2's lock)
 *
 * "RC" is 0 or "-1 ENAME". Exits 0 when every step ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int fd;
static uid_t uid;
static gid_t gid;

static void say(const char *what, int rc, int err)
{
	if (rc < 0)
		printf("%s = -1 %s\n", what, strerrorname_np(err));
	else
		printf("%s = %d\n", what, rc);
	fflush(stdout);
}

static int lock_all(void)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	return fcntl(fd, F_SETLK, &fl);
}

static void drop(void)
{
	if (setgroups(1, &gid) || setgid(gid) || setuid(uid)) {
		perror("dropprog: giving up root");
		_exit(2);
	}
}

/* One byte from rfd (the parent says: go on); exits when it is closed. */
static void await(int rfd)
{
	char c;

	if (read(rfd, &c, 1) != 1)
		exit(0);
}

static void ready(void)
{
	char line[64];

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		exit(3);
}

int main(int argc, char **argv)
{
	int go1[2], go2[2], back[2], st;
	pid_t c1, c2;
	char c;

	if (argc != 4) {
		fprintf(stderr, "usage: dropprog PATH UID GID\n");
		return 2;
	}
	uid = (uid_t)atoi(argv[2]);
	gid = (gid_t)atoi(argv[3]);
	fd = open(argv[1], O_WRONLY);
	if (fd < 0 || pipe(go1) || pipe(go2) || pipe(back))
		return 2;
	c1 = fork();
	if (c1 == 0) {
		int r, e, d;

		close(go1[1]);
		close(go2[1]);
		drop();
		r = lock_all();
		say("c1.lock", r, errno);
		d = dup(fd);
		r = d < 0 ? -1 : close(d);
		e = errno;
		say("c1.dupclose", r, e);
		if (write(back[1], "1", 1) != 1)
			_exit(2);
		await(go1[0]);	/* until the parent closes go1 */
		exit(0);
	}
	if (read(back[0], &c, 1) != 1)
		return 2;
	ready();
	c2 = fork();
	if (c2 == 0) {
		int r;

		close(go1[1]);
		close(go2[1]);
		drop();
		r = lock_all();
		say("c2.lock", r, errno);
		if (write(back[1], "2", 1) != 1)
			_exit(2);
		await(go2[0]);
		r = lock_all();
		say("c2.lock2", r, errno);
		if (write(back[1], "3", 1) != 1)
			_exit(2);
		await(go2[0]);
		exit(0);
	}
	if (read(back[0], &c, 1) != 1)
		return 2;
	close(go1[1]);
	close(go1[0]);
	if (waitpid(c1, &st, 0) != c1)
		return 2;
	printf("c1.exit = %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	fflush(stdout);
	if (write(go2[1], "g", 1) != 1 || read(back[0], &c, 1) != 1)
		return 2;
	ready();
	close(go2[1]);
	if (waitpid(c2, &st, 0) != c2 || !WIFEXITED(st))
		return 2;
	return WEXITSTATUS(st);
}
