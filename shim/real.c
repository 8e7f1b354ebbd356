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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct {
	int (*fcntl)(int, int, ...);
	int (*close)(int);
	int (*fclose)(FILE *);
	int (*fcloseall)(void);
	FILE *(*freopen)(const char *, const char *, FILE *);
	FILE *(*freopen64)(const char *, const char *, FILE *);
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
	pid_t (*_Fork)(void);
	int (*clone)(int (*)(void *), void *, int, void *, ...);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned, int,
			struct timespec *);
	int (*pidfd_getfd)(int, int, unsigned);
#if defined(__i386__)
	ssize_t (*__recvmsg64)(int, struct msghdr *, int);
	int (*__recvmmsg64)(int, struct mmsghdr *, unsigned, int, void *);
#endif
} real;

#define RESOLVE_AS(name, sym) \
	__atomic_store_n((void **)&real.name, dlsym(RTLD_NEXT, sym), \
			 __ATOMIC_RELEASE)
#define RESOLVE(name) RESOLVE_AS(name, #name)
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
	RESOLVE(_Fork);
	RESOLVE(clone);
	RESOLVE(recvmsg);
	RESOLVE(recvmmsg);
	RESOLVE(pidfd_getfd);
	/* Last: fcntl is the one the shim itself calls most. On i386 it
	 * is glibc's fcntl64, which passes every command and our struct
	 * flock (the kernel's flock64) to the kernel as they are; glibc's
	 * fcntl there takes a 32-bit struct flock for the OFD commands. */
#if defined(__i386__)
	RESOLVE_AS(fcntl, "fcntl64");
#else
	RESOLVE(fcntl);
#endif
}

int real_fcntl(int fd, int cmd, void *arg)
{
	if (likely(real.fcntl != NULL))
		return real.fcntl(fd, cmd, arg);
	return (int)syscall(SYS_FCNTL, fd, cmd, arg);
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
		return (int)syscall(SYS_FCNTL, fd, F_GETFD) < 0 ? -1 : fd;
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

/* i386: the stream of a program built with _FILE_OFFSET_BITS=64 is
 * opened with O_LARGEFILE (elsewhere the two are one function). */
FILE *real_freopen64(const char *path, const char *mode, FILE *f)
{
	ON_DEMAND(freopen64);
	return real.freopen64(path, mode, f);
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

pid_t real__Fork(void)
{
	ON_DEMAND(_Fork);
	if (real._Fork)
		return real._Fork();
	errno = ENOSYS;
	return -1;
}

int real_clone(int (*fn)(void *), void *stack, int flags, void *arg,
	       pid_t *ptid, void *tls, pid_t *ctid)
{
	ON_DEMAND(clone);
	return real.clone(fn, stack, flags, arg, ptid, tls, ctid);
}

/* Before dlsym answered, the kernel's call (it is what libc makes, but
 * for cancellation). */
ssize_t real_recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (likely(LOAD(recvmsg) != NULL))
		return real.recvmsg(fd, msg, flags);
	return syscall(SYS_recvmsg, fd, msg, flags);
}

int real_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
		  struct timespec *timeout)
{
	if (likely(LOAD(recvmmsg) != NULL))
		return real.recvmmsg(fd, v, n, flags, timeout);
	return (int)syscall(SYS_recvmmsg, fd, v, n, flags, timeout);
}

/* glibc before 2.36 has no pidfd_getfd: the kernel's call. */
int real_pidfd_getfd(int pidfd, int targetfd, unsigned flags)
{
	if (likely(LOAD(pidfd_getfd) != NULL))
		return real.pidfd_getfd(pidfd, targetfd, flags);
	return (int)syscall(SYS_pidfd_getfd, pidfd, targetfd, flags);
}

#if defined(__i386__)
/* Resolved when first called: a program that calls them was built with
 * _TIME_BITS=64, and dlsym does not call them. */
ssize_t real_recvmsg64(int fd, struct msghdr *msg, int flags)
{
	ON_DEMAND(__recvmsg64);
	return real.__recvmsg64(fd, msg, flags);
}

int real_recvmmsg64(int fd, struct mmsghdr *v, unsigned n, int flags,
		    void *timeout)
{
	ON_DEMAND(__recvmmsg64);
	return real.__recvmmsg64(fd, v, n, flags, timeout);
}
#endif

void raw_close(int fd)
{
	int saved = errno;

	syscall(SYS_close, fd);
	errno = saved;
}
