/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/uaccess.c: the caller's memory, read and written as the kernel
 * would.
 *
 * The kernel answers EFAULT for a bad pointer; reading it here must not
 * crash the program instead. A pointer into this thread's stack above the
 * current frame cannot fault (the common case: a local struct flock);
 * anything else is copied with process_vm_readv/writev, which fail with
 * EFAULT where the kernel would.
 */
#include "uaccess.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static uintptr_t main_lo, main_hi;
static pthread_t main_thread;

/* pthread_getattr_np() allocates and takes locks, so it must never run
 * where a signal handler may have interrupted malloc: the constructor. */
void uaccess_init(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	main_thread = pthread_self();
	if (pthread_getattr_np(main_thread, &attr))
		return;
	if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
		main_lo = (uintptr_t)addr;
		main_hi = main_lo + size;
	}
	pthread_attr_destroy(&attr);
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
