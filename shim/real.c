/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/real.c: the real libc functions behind the interposed names.
 *
 * The calls a signal handler or a fork child may make (close, dup*, fcntl,
 * close_range, closefrom, the exec family: dlsym there could wait for
 * the loader's lock forever) are resolved with dlsym(RTLD_NEXT) in the
 * constructor: a call may arrive before it ran (another library's
 * constructor closing a descriptor) or while dlsym itself runs, and until
 * a pointer is set the descriptor calls go to the kernel directly, which
 * is what libc would do. The stdio and dirent calls, which are not
 * async-signal-safe anyway, are resolved at their first call: a dlsym
 * each costs startup time a program that never calls them should not
 * pay (issue 24), and dlsym does not call them.
 */
#include "real.h"
#include "defs.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct {
	int (*fcntl)(int, int, ...);
	int (*close)(int);
	int (*fclose)(FILE *);
	int (*fcloseall)(void);
	FILE *(*freopen)(const char *, const char *, FILE *);
	int (*closedir)(DIR *);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execveat)(int, const char *, char *const[], char *const[], int);
} real;

#define RESOLVE(name) \
	__atomic_store_n((void **)&real.name, dlsym(RTLD_NEXT, #name), \
			 __ATOMIC_RELEASE)
#define LOAD(name) __atomic_load_n(&real.name, __ATOMIC_ACQUIRE)

void real_init(void)
{
	RESOLVE(close);
	RESOLVE(dup);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(close_range);
	RESOLVE(closefrom);
	RESOLVE(execve);
	RESOLVE(execvpe);
	RESOLVE(fexecve);
	RESOLVE(execveat);
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

/* The calls dlsym does not make are resolved when first needed. */
#define ON_DEMAND(name)                 \
	do {                            \
		if (unlikely(!LOAD(name))) \
			RESOLVE(name);  \
	} while (0)

int real_close_range(unsigned first, unsigned last, int flags)
{
	if (likely(real.close_range != NULL))
		return real.close_range(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

void real_closefrom(int lowfd)
{
	if (likely(real.closefrom != NULL)) {
		real.closefrom(lowfd);
		return;
	}
	syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0);
}

int real_fclose(FILE *f)
{
	ON_DEMAND(fclose);
	return real.fclose(f);
}

int real_fcloseall(void)
{
	ON_DEMAND(fcloseall);
	return real.fcloseall();
}

FILE *real_freopen(const char *path, const char *mode, FILE *f)
{
	ON_DEMAND(freopen);
	return real.freopen(path, mode, f);
}

int real_closedir(DIR *d)
{
	ON_DEMAND(closedir);
	return real.closedir(d);
}

int real_execve(const char *path, char *const argv[], char *const envp[])
{
	if (likely(real.execve != NULL))
		return real.execve(path, argv, envp);
	return (int)syscall(SYS_execve, path, argv, envp);
}

int real_execvpe(const char *file, char *const argv[], char *const envp[])
{
	ON_DEMAND(execvpe); /* no system call searches PATH */
	return real.execvpe(file, argv, envp);
}

int real_fexecve(int fd, char *const argv[], char *const envp[])
{
	if (likely(real.fexecve != NULL))
		return real.fexecve(fd, argv, envp);
	return (int)syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
}

int real_execveat(int dirfd, const char *path, char *const argv[],
		  char *const envp[], int flags)
{
	if (likely(real.execveat != NULL))
		return real.execveat(dirfd, path, argv, envp, flags);
	return (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}

void raw_close(int fd)
{
	int saved = errno;

	syscall(SYS_close, fd);
	errno = saved;
}
