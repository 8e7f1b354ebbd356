/*
 * shim/interpose.c: every symbol the preload library exports. Each wrapper
 * reads its arguments, takes the fast path (a descriptor with nothing of
 * ours: one relaxed load of fd_state, then the real call) or calls one
 * function of protect.c, and returns.
 */
#include "shim.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((constructor)) static void shim_init(void)
{
	real_init();
	fdstate_init();
	config_init();
	prot_init();
	exec_adopt();
}

static int is_lock_cmd(int cmd)
{
	return cmd == F_SETLK || cmd == F_SETLKW || cmd == F_GETLK;
}

/*
 * The commands glibc passes straight to the kernel (all but F_SETLKW and
 * F_OFD_SETLKW, which it makes cancellation points, and F_GETOWN, which it
 * rewrites) go to the kernel here too, without a second variadic call:
 * on a descriptor with nothing of ours this is the whole cost of fcntl.
 */
#if defined(__x86_64__)
static inline int syscall_direct(long nr, long a, long b, unsigned long c)
{
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "0"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	if (unlikely((unsigned long)r > -4096UL)) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}
#endif

static inline int fcntl_direct(int fd, int cmd, unsigned long arg)
{
#if defined(__x86_64__)
	if (cmd != F_GETOWN && cmd != F_OFD_SETLKW)
		return syscall_direct(SYS_fcntl, fd, cmd, arg);
#endif
	return real_fcntl(fd, cmd, (void *)arg);
}

/* dup is no cancellation point and has no other work in libc. */
static inline int dup_direct(int fd)
{
#if defined(__x86_64__)
	return syscall_direct(SYS_dup, fd, 0, 0);
#else
	return real_dup(fd);
#endif
}

/* r is a new number the kernel chose for a dup of untracked fd, made
 * without the lock: both are marked as dups (FD_DUP), unless a first lock
 * through fd won the race, and then r joins fd's holder. */
static inline void dup_made(int fd, int r)
{
	if (likely(fdstate_mark_dup(fd)))
		fdstate_mark_dup_new(r);
	else
		prot_dup_raced(fd, r);
}

/* fcntl reads its variadic argument once, as an unsigned long, and passes
 * it on as a pointer or an integer depending on the command. */
static int shim_fcntl(int fd, int cmd, unsigned long arg)
{
	int st;

	if (is_lock_cmd(cmd))
		return prot_lock_cmd(fd, cmd, (struct flock *)arg);
	st = fdstate_get(fd);
	if (likely(st == FD_NONE || st == FD_DUP)) {
		int r = fcntl_direct(fd, cmd, arg);

		if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && r >= 0)
			dup_made(fd, r);
		return r;
	}
	if (st == FD_ANCHOR) {
		errno = EBADF;
		return -1;
	}
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return prot_dupfd(fd, cmd, (int)arg);
	return real_fcntl(fd, cmd, (void *)arg);
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
	unsigned long arg;
	va_list ap;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	return shim_fcntl(fd, cmd, arg);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
	unsigned long arg;
	va_list ap;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	return shim_fcntl(fd, cmd, arg);
}

/* glibc's lockf calls its internal fcntl, past any interposer: do what it
 * does through ours. F_TEST asks for a read lock, as glibc and musl do. */
SHIM_EXPORT int lockf(int fd, int op, off_t len)
{
	struct flock fl = {.l_whence = SEEK_CUR, .l_len = len};
	int mine;

	switch (op) {
	case F_TEST:
		/* glibc: free, or held by this process. Under conflicts =
		 * fd another holder of this process is busy, as F_TLOCK
		 * says. */
		fl.l_type = F_RDLCK;
		if (prot_getlk(fd, &fl, &mine) < 0)
			return -1;
		if (fl.l_type == F_UNLCK || (fl.l_pid == getpid() && !mine))
			return 0;
		errno = EACCES;
		return -1;
	case F_ULOCK:
		fl.l_type = F_UNLCK;
		return shim_fcntl(fd, F_SETLK, (unsigned long)&fl);
	case F_LOCK:
		fl.l_type = F_WRLCK;
		return shim_fcntl(fd, F_SETLKW, (unsigned long)&fl);
	case F_TLOCK:
		fl.l_type = F_WRLCK;
		return shim_fcntl(fd, F_SETLK, (unsigned long)&fl);
	}
	errno = EINVAL;
	return -1;
}

SHIM_EXPORT int lockf64(int fd, int op, off_t len)
{
	return lockf(fd, op, len);
}

/* Closes of descriptors the shim does not track are looked at only when
 * the user asked for events (observe, or log-level info). */
static inline int watching(void)
{
	return atomic_load_explicit(&watch_closes, memory_order_relaxed);
}

SHIM_EXPORT int close(int fd)
{
	int st = fdstate_get(fd);

	if (likely(st == FD_NONE) && likely(!watching()))
		return real_close(fd);
	if (st == FD_ANCHOR) {
		errno = EBADF;
		return -1;
	}
	if (st == FD_DUP && !watching() && fdstate_unmark_dup(fd))
		return real_close(fd);
	return prot_close(fd, __builtin_return_address(0));
}

SHIM_EXPORT int dup(int fd)
{
	int st = fdstate_get(fd), r;

	/* A dup made while untracked is remembered (FD_DUP): should the
	 * description take a lock later, closing one of the two must not
	 * count as its last close. */
	if (likely(st == FD_NONE || st == FD_DUP)) {
		r = dup_direct(fd);
		if (r >= 0)
			dup_made(fd, r);
		return r;
	}
	if (st == FD_ANCHOR) {
		errno = EBADF;
		return -1;
	}
	return prot_dup(fd);
}

static inline int untracked(int fd)
{
	int st = fdstate_get(fd);

	return st == FD_NONE || st == FD_DUP;
}

/*
 * dup2 and dup3 close fd2 when it is open. Without a lock of ours on
 * either side, fd2 is claimed first as close() claims it; a failed call
 * gives it its mark back, and a sibling scan that ran meanwhile goes
 * again (sib_scan).
 */
static int dup_over(int fd, int fd2, int flags, int is_dup3, void *caller)
{
	int r, was;

	if (likely(untracked(fd) && untracked(fd2) && !watching())) {
		was = fdstate_get(fd2) == FD_DUP;
		if (fd == fd2 || fdstate_unmark_dup(fd2)) {
			r = is_dup3 ? real_dup3(fd, fd2, flags)
				    : real_dup2(fd, fd2);
			if (fd == fd2)
				return r;
			if (r < 0) {
				if (was) {
					fdstate_mark_dup(fd2);
					sib_scan_note();
				}
			} else if (likely(fdstate_mark_dup(fd))) {
				fdstate_mark_dup(fd2);
			} else {
				prot_dup_raced(fd, fd2);
			}
			return r;
		}
	}
	return prot_dup2(fd, fd2, flags, is_dup3, caller);
}

SHIM_EXPORT int dup2(int fd, int fd2)
{
	return dup_over(fd, fd2, 0, 0, __builtin_return_address(0));
}

SHIM_EXPORT int dup3(int fd, int fd2, int flags)
{
	return dup_over(fd, fd2, flags, 1, __builtin_return_address(0));
}

SHIM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	return prot_close_range(first, last, flags, "close_range",
				__builtin_return_address(0));
}

SHIM_EXPORT void closefrom(int lowfd)
{
	prot_closefrom(lowfd, __builtin_return_address(0));
}

SHIM_EXPORT int fclose(FILE *fp)
{
	int fd;

	if (!real.fclose)
		real_init();
	fd = fp ? fileno(fp) : -1;
	if (likely(fdstate_get(fd) != FD_TRACKED && !watching()) &&
	    fdstate_unmark_dup(fd))
		return real.fclose(fp);
	return prot_fclose(fp, fd, __builtin_return_address(0));
}

SHIM_EXPORT int closedir(DIR *d)
{
	DIR *volatile dv = d; /* declared nonnull, yet glibc checks it */
	int fd;

	if (!real.closedir)
		real_init();
	fd = dv ? dirfd(d) : -1;
	if (likely(fdstate_get(fd) != FD_TRACKED && !watching()) &&
	    fdstate_unmark_dup(fd))
		return real.closedir(d);
	return prot_closedir(d, fd, __builtin_return_address(0));
}

SHIM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	int fd;

	if (!real.freopen)
		real_init();
	fd = fp ? fileno(fp) : -1;
	if (likely(fdstate_get(fd) != FD_TRACKED && !watching()) &&
	    fdstate_unmark_dup(fd))
		return real.freopen(path, mode, fp);
	return prot_freopen(path, mode, fp, fd, __builtin_return_address(0));
}

SHIM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	return freopen(path, mode, fp);
}

SHIM_EXPORT int fcloseall(void)
{
	if (!real.fcloseall)
		real_init();
	if (likely(!atomic_load_explicit(&prot_active, memory_order_relaxed)))
		return real.fcloseall();
	return prot_fcloseall();
}

/*
 * vfork: the child shares our memory, so it cannot be told apart by
 * anything in it; the slow paths compare getpid() with the table's owner
 * once a vfork was seen. The wrapper must not have a stack frame (the
 * child returns through it before the parent resumes): set the flag and
 * jump to libc's __vfork.
 */
#if defined(__x86_64__)
__asm__(".text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	"vfork:\n"
	"	movl $1, vfork_seen(%rip)\n"
	"	jmp __vfork@PLT\n"
	".size vfork, .-vfork\n");
#endif
