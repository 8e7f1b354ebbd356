/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/callsite.h: the call site of an event, its backtrace and a
 * CPython program's frames, as logfmt values (callsite.c says the form).
 * Not async-signal-safe: call them with no lock of ours held.
 */
#ifndef LOCKSPACE_SHIM_CALLSITE_H
#define LOCKSPACE_SHIM_CALLSITE_H

#include <stddef.h>

/* The call site of a return address as a logfmt value, quoted:
 * "/full/path/of/object+0xOFF (BuildId: HEX)", OFF the ELF virtual
 * address of the call instruction (what addr2line -e and libdw take);
 * "-" for NULL. */
void log_caller(char *buf, size_t len, void *ret_addr);
/* With backtrace = on: up to 8 frames outside the shim in the same form,
 * quoted, separated by " < " (innermost first). Returns the count of
 * frames, 0 when backtrace is off (buf is then "-"). */
int log_backtrace(char *buf, size_t len);
/* In a CPython process: up to max of the calling thread's Python frames,
 * innermost first, "/path/app.py:12 (func)" separated by " < ", quoted;
 * the count (0: not Python, or no frame; buf untouched). */
int log_py_stack(char *buf, size_t len, int max);

#endif
