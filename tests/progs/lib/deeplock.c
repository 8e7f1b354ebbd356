/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/lib/deeplock.c: a library that takes and loses locks of its
 * own, for tests/progs/deepprog.c to load with dlopen(RTLD_DEEPBIND), as
 * ldb loads its tdb backend. Its calls of fcntl() and close() are its
 * own references, bound where the loader's scope says; it also defines
 * lockf() itself, which a deep lookup must keep finding. */
#include <fcntl.h>
#include <unistd.h>

int deep_open(const char *path)
{
	return open(path, O_RDWR);
}

int deep_lock(int fd, int type)
{
	struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET};

	return fcntl(fd, F_SETLK, &fl);
}

/* Opens and closes another descriptor of the file: under plain POSIX
 * the process's locks on it are gone. */
int deep_openclose(const char *path)
{
	int fd = open(path, O_RDONLY);

	return fd < 0 ? -1 : close(fd);
}

/* A definition of one of the shim's names: the library's own calls find
 * it under deep binding, libc's without. */
int lockf(int fd, int cmd, off_t len)
{
	(void)fd;
	(void)cmd;
	(void)len;
	return 4242;
}

int deep_own(void)
{
	return lockf(-1, F_TEST, 0);
}
