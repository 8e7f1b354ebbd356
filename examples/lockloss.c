/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * examples/lockloss.c: the lock loss of DESIGN.md, as an unmodified
 * program meets it.
 *
 *   thread A: fd1 = open(file); fcntl(fd1, F_SETLK, write lock)
 *   thread B: fd2 = open(file); close(fd2)
 *
 * POSIX drops every lock the process holds on the file at B's close, so A
 * silently loses its lock. Another process asks the kernel (F_GETLK with
 * the raw syscall) before and after; under the shim the lock is kept.
 * Exit status: 0 kept, 1 lost, 2 error.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *path;

/* Ask from another process whether someone holds a lock on the file. */
static const char *probe(void)
{
	int pfd[2], status;
	struct flock fl;
	pid_t pid;

	if (pipe(pfd) < 0)
		exit(2);
	pid = fork();
	if (pid == 0) {
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd < 0 || syscall(SYS_fcntl, fd, F_GETLK, &fl) < 0)
			_exit(2);
		_exit(fl.l_type == F_UNLCK ? 0 : 1);
	}
	close(pfd[0]);
	close(pfd[1]);
	waitpid(pid, &status, 0);
	return WEXITSTATUS(status) == 1 ? "held" : "FREE";
}

static void *thread_b(void *arg)
{
	int fd2 = open(path, O_RDONLY);

	(void)arg;
	printf("  thread B: open+close of the same file (fd %d)\n", fd2);
	close(fd2);
	return NULL;
}

int main(int argc, char **argv)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	const char *before, *after;
	pthread_t b;
	int fd1;

	path = argc > 1 ? argv[1] : "/tmp/lockspace-demo.db";
	fd1 = open(path, O_RDWR | O_CREAT, 0644);
	if (fd1 < 0 || fcntl(fd1, F_SETLK, &fl) < 0) {
		perror(path);
		return 2;
	}
	before = probe();
	printf("  thread A: write lock on %s through fd %d\n", path, fd1);
	printf("  another process sees the lock: %s\n", before);
	pthread_create(&b, NULL, thread_b, NULL);
	pthread_join(b, NULL);
	after = probe();
	printf("  another process sees the lock: %s\n", after);
	printf("  => the lock was %s\n",
	       strcmp(after, "held") ? "LOST" : "kept");
	close(fd1);
	return strcmp(after, "held") ? 1 : 0;
}
