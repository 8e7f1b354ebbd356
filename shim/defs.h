/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/defs.h: what every file of the preload library uses: the export
 * marker and branch hints. The rooms of the library, and which header
 * owns what, are listed in shim/README.
 */
#ifndef LOCKSPACE_SHIM_DEFS_H
#define LOCKSPACE_SHIM_DEFS_H

#include <assert.h>
#include <stddef.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/*
 * The code a fork child runs (its atfork handler and what it calls): in
 * one section, so that the few pages of it the child executes fault in
 * once (a child does not inherit the page tables of file-backed text:
 * each page of ours it runs first costs a fault). The linker gathers
 * every .text.sorted.* section in one place.
 */
#define CHILD_CODE __attribute__((section(".text.sorted.lsp_fork_child")))

/*
 * A fork child's first write to a page it shares with its parent costs a
 * fault and a copy of the page (copy-on-write). Its handlers reset state
 * with these: a write only where the state is not what it must become.
 */
/* Byte loops, not memcmp and memcpy: a libc function the parent never
 * called would be bound in each child anew (lazy binding writes the
 * GOT: another copied page, and a symbol lookup). volatile keeps the
 * compiler from making calls of them again. */
static inline void set_bytes(void *dst, const void *src, size_t n)
{
	volatile unsigned char *d = dst;
	const unsigned char *s = src;
	size_t i;

	for (i = 0; i < n && d[i] == s[i]; i++)
		;
	for (; i < n; i++)
		d[i] = s[i];
}

static inline void zero_bytes(void *dst, size_t n)
{
	volatile unsigned char *d = dst;
	size_t i;

	for (i = 0; i < n && !d[i]; i++)
		;
	for (; i < n; i++)
		d[i] = 0;
}

#endif
