/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/uaccess.c: the caller's memory, read and written as the kernel
 * would.
 *
 * The kernel answers EFAULT for a bad pointer; reading it here must not
 * crash the program instead. A pointer into this thread's stack above the
 * current frame cannot fault (the common case: a local struct flock);
 * anything else is copied with process_vm_readv/writev, which fail with
 * EFAULT where the kernel would. On i386, the struct of a program
 * without _FILE_OFFSET_BITS=64 is converted as the kernel converts it.
 */
#include "uaccess.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

static uintptr_t main_lo, main_hi;
static pthread_t main_thread;
static atomic_int bounds_state; /* 0 unknown, 1 being read, 2 known */

/* The constructor's thread is the main thread (no syscall). */
void uaccess_init(void)
{
	main_thread = pthread_self();
}

/* The main thread's stack from the [stack] line of /proc/self/maps, read
 * when first needed with a buffer on the stack: no allocation and no
 * lock (pthread_getattr_np() has both), so a signal handler may be the
 * first to ask. Until then, or if it cannot be read, the answer is
 * "not on the stack" and the copy goes through the kernel. */
static uintptr_t hex(const char **pp)
{
	uintptr_t v = 0;
	const char *p = *pp;

	for (;; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' :
			*p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;

		if (d < 0)
			break;
		v = v * 16 + (uintptr_t)d;
	}
	*pp = p;
	return v;
}

static void read_main_bounds(void)
{
	char buf[4096 + 1];
	size_t keep = 0;
	int fd, zero = 0;
	ssize_t n;

	if (!atomic_compare_exchange_strong(&bounds_state, &zero, 1))
		return; /* another thread is reading them */
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && (n = read(fd, buf + keep, sizeof(buf) - 1 - keep)) > 0) {
		char *line = buf, *nl;

		keep += (size_t)n;
		buf[keep] = 0;
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = 0;
			if (nl - line > 7 && !strcmp(nl - 7, "[stack]")) {
				const char *p = line;
				uintptr_t lo = hex(&p), hi;

				if (*p++ == '-') {
					hi = hex(&p);
					main_lo = lo;
					main_hi = hi;
				}
			}
			line = nl + 1;
		}
		keep = (size_t)(buf + keep - line);
		memmove(buf, line, keep);
		if (keep == sizeof(buf) - 1)
			keep = 0; /* a line longer than the buffer */
	}
	if (fd >= 0)
		syscall(SYS_close, fd);
	atomic_store(&bounds_state, 2);
}

/*
 * Whether [p, p + len) lies in the calling thread's stack between the
 * current frame and the stack's top, which is mapped. For threads glibc
 * made, the thread descriptor (pthread_self()) sits right above the stack
 * in the same mapping, whether glibc allocated the stack or the program
 * gave it; the main thread's bounds come from the constructor. On an
 * alternate signal stack (sp outside those bounds) the answer is no.
 */
static int on_my_stack(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, sp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t lo, hi;
	pthread_t self = pthread_self();

	if (pthread_equal(self, main_thread)) {
		if (atomic_load(&bounds_state) != 2) {
			int saved = errno;

			read_main_bounds();
			errno = saved;
			if (atomic_load(&bounds_state) != 2)
				return 0;
		}
		lo = main_lo;
		hi = main_hi;
	} else {
		hi = (uintptr_t)self;
		lo = hi > (64u << 20) ? hi - (64u << 20) : 0;
	}
	if (sp < lo || sp >= hi)
		return 0;
	return a >= sp && a < hi && len <= hi - a;
}

/* len bytes from src to dst, one of which (user) is the caller's memory:
 * a copy where it cannot fault, else the kernel's copy (process_vm_*),
 * which fails with EFAULT where fcntl would. */
static int user_copy(void *dst, const void *src, size_t len, int out)
{
	const void *user = out ? dst : src;
	struct iovec mine = {out ? (void *)src : dst, len};
	struct iovec theirs = {(void *)user, len};
	long r;

	if (!user)
		return -EFAULT;
	if (on_my_stack(user, len)) {
		memcpy(dst, src, len);
		return 0;
	}
	r = syscall(out ? SYS_process_vm_writev : SYS_process_vm_readv,
		    getpid(), &mine, 1, &theirs, 1, 0);
	if (r == (long)len)
		return 0;
	if (errno == ENOSYS || errno == EPERM) {
		memcpy(dst, src, len); /* no other way to ask */
		return 0;
	}
	return -EFAULT;
}

int uaccess_copy_in(void *dst, const void *src, size_t len)
{
	return user_copy(dst, src, len, 0);
}

int uaccess_copy_out(void *dst, const void *src, size_t len)
{
	return user_copy(dst, src, len, 1);
}

#if SHIM_FLOCK32
/* ---- i386: the program's 32-bit struct flock -----------------------------
 * The kernel widens the struct (the offsets are signed) and narrows
 * F_GETLK's answer back (fs/fcntl.c, fs/locks.c). Running on a 64-bit
 * kernel (compat), the answer is EOVERFLOW when the lock found starts
 * beyond 2^31 - 1, and a longer length is cut to 2^31 - 1; a 32-bit
 * kernel says EOVERFLOW also when the lock ends beyond it. Which kernel
 * runs us is asked once, when the difference shows. */
static atomic_int kernel_bits; /* 0: not asked yet; 32 or 64 */

/* /proc/sys/kernel/arch is the kernel's machine, which uname() is not
 * under personality(PER_LINUX32). Raw calls, no allocation: F_GETLK may
 * be called in a signal handler. In doubt, a 64-bit kernel: the usual
 * home of i386 programs. */
static int kernel_is_64bit(void)
{
	int bits = atomic_load_explicit(&kernel_bits, memory_order_relaxed);

	if (!bits) {
		char buf[sizeof(((struct utsname *)0)->machine)] = "";
		int saved = errno;
		int fd = (int)syscall(SYS_openat, AT_FDCWD,
				      "/proc/sys/kernel/arch",
				      O_RDONLY | O_CLOEXEC);
		struct utsname u;

		if (fd >= 0) {
			if (syscall(SYS_read, fd, buf, sizeof(buf) - 1) < 0)
				buf[0] = 0;
			syscall(SYS_close, fd);
		}
		if (!buf[0] && uname(&u) == 0)
			memcpy(buf, u.machine, sizeof(buf) - 1);
		bits = !buf[0] || strstr(buf, "64") ? 64 : 32;
		atomic_store_explicit(&kernel_bits, bits, memory_order_relaxed);
		errno = saved;
	}
	return bits == 64;
}

int uaccess_flock32_in(struct flock *fl, const void *user)
{
	struct flock32 u;
	int err = user_copy(&u, user, sizeof(u), 0);

	if (err)
		return err;
	memset(fl, 0, sizeof(*fl));
	fl->l_type = u.l_type;
	fl->l_whence = u.l_whence;
	fl->l_start = u.l_start;
	fl->l_len = u.l_len;
	fl->l_pid = u.l_pid;
	return 0;
}

int flock32_narrow(struct flock32 *out, const struct flock *fl)
{
	off_t len = fl->l_len;

	/* A free range is answered with the caller's own fields, which
	 * came in 32 bits. */
	if (fl->l_type != F_UNLCK) {
		if (fl->l_start > INT32_MAX)
			return -EOVERFLOW;
		if (len - 1 > INT32_MAX - fl->l_start) {
			if (!kernel_is_64bit())
				return -EOVERFLOW; /* its end */
			if (len > INT32_MAX)
				len = INT32_MAX;
		}
	}
	memset(out, 0, sizeof(*out));
	out->l_type = fl->l_type;
	out->l_whence = fl->l_whence;
	out->l_start = (int32_t)fl->l_start;
	out->l_len = (int32_t)len;
	out->l_pid = fl->l_pid;
	return 0;
}

int uaccess_flock32_out(void *user, const struct flock *fl)
{
	struct flock32 u;
	int err = flock32_narrow(&u, fl);

	return err ? err : user_copy(user, &u, sizeof(u), 1);
}
#endif
