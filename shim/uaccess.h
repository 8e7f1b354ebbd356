/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/uaccess.h: copying the caller's struct flock in and out without
 * faulting where the kernel would answer EFAULT, and, on i386, in the
 * program's 32-bit layout as the kernel converts it.
 */
#ifndef LOCKSPACE_SHIM_UACCESS_H
#define LOCKSPACE_SHIM_UACCESS_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 0, or -EFAULT where the kernel would give it for the same pointer. */
int uaccess_copy_in(void *dst, const void *src, size_t len);
int uaccess_copy_out(void *dst, const void *src, size_t len);
/* The constructor: which thread is the main thread. */
void uaccess_init(void);

/*
 * i386 has two struct flock layouts; the library is built with
 * _FILE_OFFSET_BITS=64, so its own struct flock is the kernel's flock64
 * and its F_GETLK, F_SETLK, F_SETLKW are 12, 13, 14 (F_GETLK64...).
 * Commands 5, 6, 7 take the struct of a program built without
 * _FILE_OFFSET_BITS=64, with 32-bit l_start and l_len, through fcntl and
 * fcntl64 alike (glibc passes them to the kernel's fcntl64 unchanged,
 * and the kernel converts). x86_64 has one layout: SHIM_FLOCK32 is 0.
 */
#if defined(__i386__)
#if !defined(_FILE_OFFSET_BITS) || _FILE_OFFSET_BITS != 64
#error "the i386 shim is built with -D_FILE_OFFSET_BITS=64 (the Makefile)"
#endif
#define SHIM_FLOCK32 1
#define FL32_GETLK 5
#define FL32_SETLK 6
#define FL32_SETLKW 7
struct flock32 {
	short l_type;
	short l_whence;
	int32_t l_start;
	int32_t l_len;
	pid_t l_pid;
};
/* The program's struct flock32 at user, widened into *fl as the kernel
 * widens it; 0, or -EFAULT. */
int uaccess_flock32_in(struct flock *fl, const void *user);
/* F_GETLK's answer fl narrowed into *out as the kernel narrows it: 0,
 * or -EOVERFLOW (a lock that cannot be told in 32 bits). */
int flock32_narrow(struct flock32 *out, const struct flock *fl);
/* The same into the program's struct at user: 0, -EOVERFLOW (nothing
 * written) or -EFAULT. */
int uaccess_flock32_out(void *user, const struct flock *fl);
#else
#define SHIM_FLOCK32 0
#endif

#endif
