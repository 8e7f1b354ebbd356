/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/interpose.c: every symbol the preload library exports. Each wrapper
 * reads its arguments, takes the fast path (a descriptor with nothing of
 * ours: one relaxed load of fd_state, then the real call) or calls one
 * function of the policy (lockcmd.h, closes.h, exec.h), and returns.
 * (Over 600 lines: one short wrapper per exported symbol, and the list
 * of them is the point of the file: test_build.c checks it against the
 * library's exports.)
 *
 * On i386 the library is built with _FILE_OFFSET_BITS=64, where glibc's
 * headers rename fcntl, lockf and freopen to fcntl64, lockf64 and
 * freopen64: those three are declared by their own names (EXPORT_AS),
 * so that the library defines both of each, as glibc does. A program
 * without _FILE_OFFSET_BITS=64 there passes a struct flock with 32-bit
 * fields for some commands: converted here, at the entry (uaccess.h).
 */
#include "adopt.h"
#include "closes.h"
#include "config.h"
#include "deepbind.h"
#include "defs.h"
#include "exec.h"
#include "fdstate.h"
#include "files.h"
#include "fork.h"
#include "guard.h"
#include "lockcmd.h"
#include "log.h"
#include "observe.h"
#include "privdrop.h"
#include "real.h"
#include "report.h"
#include "trace.h"
#include "uaccess.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

#define EXPORT_AS(name) __asm__(#name)

__attribute__((constructor)) static void shim_init(void)
{
	real_init();
	fdstate_init();
	guard_init();
	uaccess_init();
	log_init();
	fork_init();
	config_startup();
	adopt_handoff();
	report_start();
}

static int is_lock_cmd(int cmd)
{
#if SHIM_FLOCK32
	if (cmd >= FL32_GETLK && cmd <= FL32_SETLKW)
		return 1;
#endif
	return cmd == F_SETLK || cmd == F_SETLKW || cmd == F_GETLK;
}

#if SHIM_FLOCK32
static int lock_command32(int fd, int cmd, void *ufl);
#endif

/* The lock commands (to the trace first when it is on), and F_OFD_GETLK
 * (whose answer names the anchor's locks): out of line, so that the other
 * commands' path stays short and keeps no value across a call. */
static __attribute__((noinline)) int lock_command(int fd, int cmd,
						  unsigned long arg)
{
	if (cmd == F_OFD_GETLK)
		return lockcmd_ofd_getlk(fd, (struct flock *)arg);
#if SHIM_FLOCK32
	if (cmd >= FL32_GETLK && cmd <= FL32_SETLKW)
		return lock_command32(fd, cmd, (void *)arg);
#endif
	if (unlikely(trace_active()))
		return trace_lockcmd(fd, cmd, (struct flock *)arg);
	return lockcmd(fd, cmd, (struct flock *)arg);
}

#if SHIM_FLOCK32
/*
 * i386, commands 5, 6, 7 with the program's 32-bit struct flock: what
 * the kernel does with them, around ours (12, 13, 14). The struct is
 * widened; F_GETLK's answer is narrowed back, or EOVERFLOW. A struct
 * that cannot be read goes to the kernel, which answers EBADF or EFAULT
 * in its own order.
 */
static int lock_command32(int fd, int cmd, void *ufl)
{
	struct flock fl;
	int r, err;

	if (uaccess_flock32_in(&fl, ufl) < 0) {
		if (fdstate_get(fd) == FD_OURS) {
			errno = EBADF;
			return -1;
		}
		return real_fcntl(fd, cmd, ufl);
	}
	r = lock_command(fd, cmd - FL32_GETLK + F_GETLK, (unsigned long)&fl);
	if (r < 0 || cmd != FL32_GETLK)
		return r;
	err = uaccess_flock32_out(ufl, &fl);
	if (err) {
		errno = -err;
		return -1;
	}
	return r;
}
#endif

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

/* An F_DUPFD of a descriptor with nothing of ours gave r: out of line,
 * so that the other commands' path keeps no value across a call. */
static __attribute__((noinline)) int dupfd_made(int fd, int cmd, int min,
						int r)
{
	if (unlikely(closes_dup_misplaced(r)))
		return closes_dup_placed(fd, cmd, min, r);
	closes_dup_made(fd, r);
	return r;
}

/* fcntl reads its variadic argument once, as an unsigned long, and passes
 * it on as a pointer or an integer depending on the command. */
static int shim_fcntl(int fd, int cmd, unsigned long arg)
{
	int st;

	if (is_lock_cmd(cmd) || unlikely(cmd == F_OFD_GETLK))
		return lock_command(fd, cmd, arg);
	st = fdstate_get(fd);
	if (likely(st == FD_NONE || st == FD_DUP)) {
		int r = fcntl_direct(fd, cmd, arg);

		if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
			return dupfd_made(fd, cmd, (int)arg, r);
		return r;
	}
	if (st == FD_OURS) {
		errno = EBADF;
		return -1;
	}
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return closes_dupfd(fd, cmd, (int)arg);
	return real_fcntl(fd, cmd, (void *)arg);
}

#if SHIM_FLOCK32
/*
 * i386: glibc's fcntl (not fcntl64) takes the program's struct flock,
 * with 32-bit fields, for the OFD commands and converts it to the
 * kernel's flock64 (since 2.28, BZ#20251). The same here: read where
 * glibc reads it; an answer that does not fit is EOVERFLOW, with
 * nothing written back; F_OFD_SETLKW's is not written back.
 */
static __attribute__((noinline)) int fcntl_ofd32(int fd, int cmd,
						 unsigned long arg)
{
	struct flock32 *u = (struct flock32 *)arg;
	struct flock fl = {.l_type = u->l_type, .l_whence = u->l_whence,
			   .l_start = u->l_start, .l_len = u->l_len,
			   .l_pid = u->l_pid};
	int r = shim_fcntl(fd, cmd, (unsigned long)&fl);

	if (r == -1 || cmd == F_OFD_SETLKW)
		return r;
	if ((int32_t)fl.l_start != fl.l_start ||
	    (int32_t)fl.l_len != fl.l_len) {
		errno = EOVERFLOW;
		return -1;
	}
	u->l_type = fl.l_type;
	u->l_whence = fl.l_whence;
	u->l_start = (int32_t)fl.l_start;
	u->l_len = (int32_t)fl.l_len;
	u->l_pid = fl.l_pid;
	return r;
}
#endif

SHIM_EXPORT int export_fcntl(int fd, int cmd, ...) EXPORT_AS(fcntl);
int export_fcntl(int fd, int cmd, ...)
{
	unsigned long arg;
	va_list ap;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
#if SHIM_FLOCK32
	if (unlikely(cmd >= F_OFD_GETLK && cmd <= F_OFD_SETLKW))
		return fcntl_ofd32(fd, cmd, arg);
#endif
	return shim_fcntl(fd, cmd, arg);
}

/* fcntl64 (and on i386 __fcntl_time64, the same function, for programs
 * built with _TIME_BITS=64): the struct follows the command. */
SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
	unsigned long arg;
	va_list ap;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	return shim_fcntl(fd, cmd, arg);
}

#if defined(__i386__)
SHIM_EXPORT int __fcntl_time64(int fd, int cmd, ...)
	__attribute__((alias("fcntl64")));
/*
 * A program linked before glibc 2.28 calls fcntl@GLIBC_2.0, which is
 * glibc's fcntl64 (it takes struct flock64 for the OFD commands); the
 * fcntl above is fcntl@@GLIBC_2.28 (shim/i386.map), what programs link
 * with since.
 */
SHIM_EXPORT int fcntl_glibc_2_0(int fd, int cmd, ...)
	__attribute__((alias("fcntl64")));
__asm__(".symver fcntl_glibc_2_0, fcntl@GLIBC_2.0, remove");
#endif

/*
 * glibc's lockf calls its internal fcntl, past any interposer: do what it
 * does through ours. F_TEST asks for a read lock, as glibc and musl do.
 * narrow: lockf of a program with 32-bit off_t (i386), whose glibc asks
 * F_GETLK through the 32-bit struct, and meets EOVERFLOW where the lock
 * it finds does not fit.
 */
static int do_lockf(int fd, int op, off64_t len, int narrow)
{
	struct flock fl = {.l_whence = SEEK_CUR, .l_len = len};
	int mine;

	switch (op) {
	case F_TEST:
		/* glibc: free, or held by this process. Under conflicts =
		 * fd another holder of this process is busy, as F_TLOCK
		 * says. */
		fl.l_type = F_RDLCK;
		if (lockcmd_getlk(fd, &fl, &mine) < 0)
			return -1;
#if SHIM_FLOCK32
		if (narrow) {
			struct flock32 n;
			int err = flock32_narrow(&n, &fl);

			if (err) {
				errno = -err;
				return -1;
			}
		}
#else
		(void)narrow;
#endif
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

/* __off_t is the off_t of a program without _FILE_OFFSET_BITS=64. */
SHIM_EXPORT int export_lockf(int fd, int op, __off_t len) EXPORT_AS(lockf);
int export_lockf(int fd, int op, __off_t len)
{
	return do_lockf(fd, op, len, SHIM_FLOCK32);
}

SHIM_EXPORT int lockf64(int fd, int op, off64_t len)
{
	return do_lockf(fd, op, len, 0);
}

SHIM_EXPORT int close(int fd)
{
	int st = fdstate_get(fd);

	if (likely(st == FD_NONE) && likely(!watching_closes()))
		return real_close(fd);
	if (st == FD_OURS) {
		errno = EBADF;
		return -1;
	}
	if (st == FD_DUP && !watching_closes() && fdstate_unmark_dup(fd))
		return real_close(fd);
	return closes_close(fd, __builtin_return_address(0));
}

SHIM_EXPORT int dup(int fd)
{
	int st = fdstate_get(fd), r;

	/* A dup made while untracked is remembered (FD_DUP): should the
	 * description take a lock later, closing one of the two must not
	 * count as its last close. */
	if (likely(st == FD_NONE || st == FD_DUP)) {
		r = dup_direct(fd);
		if (unlikely(closes_dup_misplaced(r)))
			return closes_dup_placed(fd, -1, 0, r);
		closes_dup_made(fd, r);
		return r;
	}
	if (st == FD_OURS) {
		errno = EBADF;
		return -1;
	}
	return closes_dup(fd);
}

SHIM_EXPORT int dup2(int fd, int fd2)
{
	return closes_dup_over(fd, fd2, 0, 0, __builtin_return_address(0));
}

SHIM_EXPORT int dup3(int fd, int fd2, int flags)
{
	return closes_dup_over(fd, fd2, flags, 1,
			       __builtin_return_address(0));
}

SHIM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	return closes_close_range(first, last, flags, "close_range",
				  __builtin_return_address(0));
}

SHIM_EXPORT void closefrom(int lowfd)
{
	closes_closefrom(lowfd, __builtin_return_address(0));
}

SHIM_EXPORT int fclose(FILE *fp)
{
	int fd = fp ? fileno(fp) : -1;

	if (likely(fdstate_get(fd) != FD_TRACKED && !watching_closes()) &&
	    fdstate_unmark_dup(fd))
		return real_fclose(fp);
	return closes_fclose(fp, fd, __builtin_return_address(0));
}

SHIM_EXPORT int closedir(DIR *d)
{
	DIR *volatile dv = d; /* declared nonnull, yet glibc checks it */
	int fd = dv ? dirfd(d) : -1;

	if (likely(fdstate_get(fd) != FD_TRACKED && !watching_closes()) &&
	    fdstate_unmark_dup(fd))
		return real_closedir(d);
	return closes_closedir(d, fd, __builtin_return_address(0));
}

/* wide: freopen64, which opens with O_LARGEFILE on i386. */
static FILE *do_freopen(const char *path, const char *mode, FILE *fp,
			int wide, void *caller)
{
	int fd = fp ? fileno(fp) : -1;

	if (likely(fdstate_get(fd) != FD_TRACKED && !watching_closes()) &&
	    fdstate_unmark_dup(fd))
		return wide ? real_freopen64(path, mode, fp)
			    : real_freopen(path, mode, fp);
	return closes_freopen(path, mode, fp, fd, wide, caller);
}

SHIM_EXPORT FILE *export_freopen(const char *path, const char *mode,
				 FILE *fp) EXPORT_AS(freopen);
FILE *export_freopen(const char *path, const char *mode, FILE *fp)
{
	return do_freopen(path, mode, fp, 0, __builtin_return_address(0));
}

SHIM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	return do_freopen(path, mode, fp, 1, __builtin_return_address(0));
}

SHIM_EXPORT int fcloseall(void)
{
	if (likely(!atomic_load_explicit(&files_active, memory_order_relaxed)))
		return real_fcloseall();
	return closes_fcloseall();
}

/* ---- giving up root: anchors first, while the files can be reopened ------- */

SHIM_EXPORT int setuid(uid_t uid)
{
	return privdrop(PD_SETUID, uid, (uid_t)-1, (uid_t)-1);
}

SHIM_EXPORT int seteuid(uid_t euid)
{
	return privdrop(PD_SETEUID, euid, (uid_t)-1, (uid_t)-1);
}

SHIM_EXPORT int setreuid(uid_t ruid, uid_t euid)
{
	return privdrop(PD_SETREUID, ruid, euid, (uid_t)-1);
}

SHIM_EXPORT int setresuid(uid_t ruid, uid_t euid, uid_t suid)
{
	return privdrop(PD_SETRESUID, ruid, euid, suid);
}

/* ---- the exec family ---------------------------------------------------------
 * Each public exec function is wrapped (glibc's call each other inside
 * libc, past any interposer); those that use environ become the variant
 * that takes an environment. */

/* The trace's records go out first: the new image starts with none. */
static int run_exec(struct exec_call *c, char *const envp[])
{
	if (unlikely(trace_active()))
		trace_flush();
	return exec_run(c, envp);
}

static int do_execve(const char *path, char *const argv[], char *const envp[])
{
	struct exec_call c = {.kind = X_EXECVE, .path = path, .argv = argv};

	return run_exec(&c, envp);
}

static int do_execvpe(const char *file, char *const argv[],
		      char *const envp[])
{
	struct exec_call c = {.kind = X_EXECVPE, .path = file, .argv = argv};

	return run_exec(&c, envp);
}

SHIM_EXPORT int execve(const char *path, char *const argv[],
		       char *const envp[])
{
	return do_execve(path, argv, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	return do_execve(path, argv, environ);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[],
			char *const envp[])
{
	return do_execvpe(file, argv, envp);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	return do_execvpe(file, argv, environ);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct exec_call c = {.kind = X_FEXECVE, .dirfd = fd, .argv = argv};

	return run_exec(&c, envp);
}

SHIM_EXPORT int execveat(int dirfd, const char *path, char *const argv[],
			 char *const envp[], int flags)
{
	struct exec_call c = {.kind = X_EXECVEAT, .dirfd = dirfd,
			      .path = path, .argv = argv, .flags = flags};

	return run_exec(&c, envp);
}

/* execl, execlp, execle: the arguments into an array, on the stack as
 * glibc does (no allocation between fork and exec); execle's
 * environment follows the NULL. */
static int exec_list(enum exec_kind kind, const char *path, const char *arg,
		     va_list ap, int with_env)
{
	va_list cp;
	size_t n;

	va_copy(cp, ap);
	for (n = 1; va_arg(cp, char *); n++)
		;
	va_end(cp);
	{
		char *argv[n + 1];
		char *const *envp = environ;
		struct exec_call c = {.kind = kind, .path = path, .argv = argv};

		argv[0] = (char *)arg;
		for (size_t i = 1; i <= n; i++)
			argv[i] = va_arg(ap, char *);
		if (with_env)
			envp = va_arg(ap, char *const *);
		return run_exec(&c, envp);
	}
}

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	int r;

	va_start(ap, arg);
	r = exec_list(X_EXECVE, path, arg, ap, 0);
	va_end(ap);
	return r;
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	int r;

	va_start(ap, arg);
	r = exec_list(X_EXECVPE, file, arg, ap, 0);
	va_end(ap);
	return r;
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	int r;

	va_start(ap, arg);
	r = exec_list(X_EXECVE, path, arg, ap, 1);
	va_end(ap);
	return r;
}

/* ---- descriptors that arrive -------------------------------------------------
 * A descriptor received over a unix socket (SCM_RIGHTS) or taken from
 * another process (pidfd_getfd) may be a copy of one of our locked
 * descriptions that we never saw made: closes_received() remembers it. */

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t r = real_recvmsg(fd, msg, flags);

	if (r >= 0 && msg && unlikely(msg->msg_controllen))
		closes_received_msg(msg);
	return r;
}

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
			 struct timespec *timeout)
{
	int r = real_recvmmsg(fd, v, n, flags, timeout);

	for (int i = 0; i < r; i++)
		if (unlikely(v[i].msg_hdr.msg_controllen))
			closes_received_msg(&v[i].msg_hdr);
	return r;
}

#if defined(__i386__)
/* A program built with _TIME_BITS=64 calls these (glibc converts the
 * timestamps of its control messages). */
SHIM_EXPORT ssize_t __recvmsg64(int fd, struct msghdr *msg, int flags)
{
	ssize_t r = real_recvmsg64(fd, msg, flags);

	if (r >= 0 && msg && unlikely(msg->msg_controllen))
		closes_received_msg(msg);
	return r;
}

SHIM_EXPORT int __recvmmsg64(int fd, struct mmsghdr *v, unsigned n,
			     int flags, void *timeout)
{
	int r = real_recvmmsg64(fd, v, n, flags, timeout);

	for (int i = 0; i < r; i++)
		if (unlikely(v[i].msg_hdr.msg_controllen))
			closes_received_msg(&v[i].msg_hdr);
	return r;
}
#endif

SHIM_EXPORT int pidfd_getfd(int pidfd, int targetfd, unsigned flags)
{
	int r = real_pidfd_getfd(pidfd, targetfd, flags);

	closes_received(r);
	return r;
}

/* ---- children without atfork handlers ------------------------------------
 * _Fork() runs none, and a clone() child may share our memory: each
 * child starts as fork.c says, before its first instruction of the
 * program's. */

SHIM_EXPORT pid_t _Fork(void)
{
	pid_t pid = real__Fork();

	if (pid == 0)
		fork_child();
	return pid;
}

/* glibc's clone reads its three optional arguments whatever the flags
 * say; so do we, and pass them on. */
SHIM_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg,
		      ...)
{
	pid_t *ptid, *ctid;
	void *tls;
	va_list ap;

	va_start(ap, arg);
	ptid = va_arg(ap, pid_t *);
	tls = va_arg(ap, void *);
	ctid = va_arg(ap, pid_t *);
	va_end(ap);
	return fork_clone(fn, stack, flags, arg, ptid, tls, ctid);
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
#elif defined(__i386__)
/* i386: a jump through the PLT needs our GOT's address in %ebx, which
 * holds the caller's value here (saving it would need a frame). So the
 * GOT is found from the PC, in %ecx (a scratch register, which __vfork
 * overwrites too), and the jump goes through __vfork's GOT entry. The
 * call below writes below the stack pointer only, as any call does
 * before the child exists. */
__asm__(".text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	"vfork:\n"
	"	call 1f\n"
	"1:	popl %ecx\n"
	"	addl $_GLOBAL_OFFSET_TABLE_+[.-1b], %ecx\n"
	"	movl $1, vfork_seen@GOTOFF(%ecx)\n"
	"	jmp *__vfork@GOT(%ecx)\n"
	".size vfork, .-vfork\n");
#endif

/*
 * dlopen: glibc takes the caller's return address for $ORIGIN, the
 * caller's RUNPATH and its namespace, so the wrapper has no stack frame
 * either. Without RTLD_DEEPBIND it jumps to libc's dlopen (resolved at
 * the first call: another library's constructor may call it before ours
 * ran). With it, deepbind_route() (deepbind.h) says whether the shim
 * opens the library itself (deepbind_open, entered by a jump: it returns
 * to our caller) or libc does, called from here as if by our caller.
 */
#if defined(__x86_64__)
#define STR_(x) #x
#define STR(x) STR_(x)
__asm__(".text\n"
	".globl dlopen\n"
	".type dlopen, @function\n"
	".hidden deepbind_real, deepbind_resolve, deepbind_route\n"
	".hidden deepbind_open\n"
	"dlopen:\n"
	"	testl $" STR(RTLD_DEEPBIND) ", %esi\n"
	"	jnz 2f\n"
	"1:	movq deepbind_real(%rip), %rax\n"
	"	testq %rax, %rax\n"
	"	jz 3f\n"
	"	jmp *%rax\n"
	/* the stack as at the call, aligned for one: 8 + 16 + 8 */
	"2:	pushq %rdi\n"
	"	pushq %rsi\n"
	"	subq $8, %rsp\n"
	"	call deepbind_route\n"
	"	addq $8, %rsp\n"
	"	popq %rsi\n"
	"	popq %rdi\n"
	"	testl %eax, %eax\n"
	"	jz 1b\n"
	"	jmp deepbind_open\n"
	"3:	pushq %rdi\n"
	"	pushq %rsi\n"
	"	subq $8, %rsp\n"
	"	call deepbind_resolve\n"
	"	addq $8, %rsp\n"
	"	popq %rsi\n"
	"	popq %rdi\n"
	"	jmp *%rax\n"
	".size dlopen, .-dlopen\n");
#endif

/* What a GOT entry of a deep-bound library is rebound to (deepbind.c):
 * our exports, their addresses as the global scope resolves them. */
const struct shim_export shim_exports[] = {
#define X(name) {#name, (void *)name}
	X(fcntl), X(fcntl64), X(lockf), X(lockf64), X(close), X(dup),
	X(dup2), X(dup3), X(close_range), X(closefrom), X(fclose),
	X(closedir), X(freopen), X(freopen64), X(fcloseall), X(execve),
	X(execv), X(execvpe), X(execvp), X(fexecve), X(execveat),
	X(execl), X(execlp), X(execle), X(setuid), X(seteuid), X(setreuid),
	X(setresuid),
#if defined(__x86_64__)
	X(vfork), X(dlopen),
#endif
#undef X
};
const unsigned shim_nexports = sizeof(shim_exports) / sizeof(shim_exports[0]);
