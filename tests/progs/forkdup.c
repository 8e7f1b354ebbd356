/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/forkdup.c: a fork child locks through a descriptor whose
 * description has another descriptor, an "unmodified program" for the
 * integration tests.
 *
 *   forkdup PATH
 *
 * The parent opens PATH (x), dups it (g) before any lock, locks and
 * unlocks through x, and forks. The child write-locks PATH through x,
 * closes x, and prints "after close: locked=N" (whether another open file
 * description of PATH sees a lock: F_OFD_GETLK), then closes g and prints
 * "after close of dup: locked=N". Plain POSIX drops the child's lock at
 * the first close; the contract keeps it while g, a descriptor of the
 * same description, is open. The parent waits and exits with the child's
 * status.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int setlk(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	return fcntl(fd, F_SETLK, &fl);
}

static int locked(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDWR), r;

	if (fd < 0)
		return -1;
	r = fcntl(fd, F_OFD_GETLK, &fl);
	close(fd);
	return r < 0 ? -1 : fl.l_type != F_UNLCK;
}

int main(int argc, char **argv)
{
	int x, g, st;
	pid_t pid;

	if (argc != 2)
		return 2;
	x = open(argv[1], O_RDWR);
	g = dup(x);
	if (x < 0 || g < 0 || setlk(x, F_WRLCK) || setlk(x, F_UNLCK))
		return 2;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		if (setlk(x, F_WRLCK))
			_exit(3);
		close(x);
		printf("after close: locked=%d\n", locked(argv[1]));
		close(g);
		printf("after close of dup: locked=%d\n", locked(argv[1]));
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return 4;
	return WEXITSTATUS(st);
}
