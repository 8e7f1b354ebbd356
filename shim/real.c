/*
 * shim/real.c: the real libc functions behind the interposed names.
 *
 * Resolved once with dlsym(RTLD_NEXT) in the constructor. A call may arrive
 * before it ran (another library's constructor closing a descriptor) or
 * while dlsym itself runs: until a pointer is set, the descriptor calls go
 * to the kernel directly, which is what libc would do, and the stdio and
 * dirent calls resolve on demand (dlsym does not call them).
 */
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

struct real_fns real;

#define RESOLVE(name) \
	__atomic_store_n((void **)&real.name, dlsym(RTLD_NEXT, #name), \
			 __ATOMIC_RELEASE)

void real_init(void)
{
	RESOLVE(close);
	RESOLVE(fclose);
	RESOLVE(fcloseall);
	RESOLVE(freopen);
	RESOLVE(closedir);
	RESOLVE(dup);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(close_range);
	RESOLVE(closefrom);
	/* Last: fcntl is the one the shim itself calls most. */
	RESOLVE(fcntl);
}

int real_fcntl(int fd, int cmd, void *arg)
{
	if (likely(real.fcntl != NULL))
		return real.fcntl(fd, cmd, arg);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

int real_close(int fd)
{
	if (likely(real.close != NULL))
		return real.close(fd);
	return (int)syscall(SYS_close, fd);
}

int real_dup(int fd)
{
	if (likely(real.dup != NULL))
		return real.dup(fd);
	return (int)syscall(SYS_dup, fd);
}

int real_dup2(int fd, int fd2)
{
	if (likely(real.dup2 != NULL))
		return real.dup2(fd, fd2);
	/* dup2(fd, fd) checks fd and returns it; dup3 would say EINVAL. */
	if (fd == fd2)
		return (int)syscall(SYS_fcntl, fd, F_GETFD) < 0 ? -1 : fd;
	return (int)syscall(SYS_dup3, fd, fd2, 0);
}

int real_dup3(int fd, int fd2, int flags)
{
	if (likely(real.dup3 != NULL))
		return real.dup3(fd, fd2, flags);
	return (int)syscall(SYS_dup3, fd, fd2, flags);
}

int real_close_range(unsigned first, unsigned last, int flags)
{
	if (likely(real.close_range != NULL))
		return real.close_range(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

void raw_close(int fd)
{
	int saved = errno;

	syscall(SYS_close, fd);
	errno = saved;
}
