/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/real.h: the real libc functions behind the names the library
 * interposes. Every call the shim makes to one of those names goes
 * through here, never through the PLT (where it would meet our own
 * wrapper): tests/test_build.c checks the objects for it.
 */
#ifndef LOCKSPACE_SHIM_REAL_H
#define LOCKSPACE_SHIM_REAL_H

#include <dirent.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/types.h>

/*
 * The kernel's calls for the library's own types. The library is built
 * with 64-bit off_t everywhere (_FILE_OFFSET_BITS=64 on i386): where the
 * kernel has a 64-bit variant of a call beside the old one (i386), that
 * is the one that takes our struct flock and struct stat.
 */
#ifdef SYS_fcntl64
#define SYS_FCNTL SYS_fcntl64
#else
#define SYS_FCNTL SYS_fcntl
#endif
#ifdef SYS_fstat64
#define SYS_FSTAT SYS_fstat64
#else
#define SYS_FSTAT SYS_fstat
#endif

/* Resolve every pointer (the constructor; again on demand). */
void real_init(void);
/* The descriptor calls, raw syscalls while dlsym has not answered. */
int real_fcntl(int fd, int cmd, void *arg);
int real_close(int fd);
int real_dup(int fd);
int real_dup2(int fd, int fd2);
int real_dup3(int fd, int fd2, int flags);
int real_close_range(unsigned first, unsigned last, int flags);
void real_closefrom(int lowfd);
/* The stdio and dirent calls, resolved on demand (dlsym calls none). */
int real_fclose(FILE *f);
int real_fcloseall(void);
FILE *real_freopen(const char *path, const char *mode, FILE *f);
FILE *real_freopen64(const char *path, const char *mode, FILE *f);
int real_closedir(DIR *d);
/* The exec family: the variants that take an environment. */
int real_execve(const char *path, char *const argv[], char *const envp[]);
int real_execvpe(const char *file, char *const argv[], char *const envp[]);
int real_fexecve(int fd, char *const argv[], char *const envp[]);
int real_execveat(int dirfd, const char *path, char *const argv[],
		  char *const envp[], int flags);
/* The calls that make a child without atfork handlers. */
pid_t real__Fork(void);
int real_clone(int (*fn)(void *), void *stack, int flags, void *arg,
	       pid_t *ptid, void *tls, pid_t *ctid);
/* The calls through which descriptors arrive. */
struct msghdr;
struct mmsghdr;
struct timespec;
ssize_t real_recvmsg(int fd, struct msghdr *msg, int flags);
int real_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
		  struct timespec *timeout);
int real_pidfd_getfd(int pidfd, int targetfd, unsigned flags);
#if defined(__i386__)
/* glibc's variants for programs built with _TIME_BITS=64 (i386). */
ssize_t real_recvmsg64(int fd, struct msghdr *msg, int flags);
int real_recvmmsg64(int fd, struct mmsghdr *v, unsigned n, int flags,
		    void *timeout);
#endif
/* Close without being a cancellation point and without errno change. */
void raw_close(int fd);

#endif
