/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/uaccess.h: copying the caller's struct flock in and out without
 * faulting where the kernel would answer EFAULT.
 */
#ifndef LOCKSPACE_SHIM_UACCESS_H
#define LOCKSPACE_SHIM_UACCESS_H

#include <stddef.h>

/* 0, or -EFAULT where the kernel would give it for the same pointer. */
int uaccess_copy_in(void *dst, const void *src, size_t len);
int uaccess_copy_out(void *dst, const void *src, size_t len);
/* The constructor: which thread is the main thread. */
void uaccess_init(void);

#endif
