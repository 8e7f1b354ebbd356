/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/log.h: the events the shim reports, one logfmt line each:
 *
 *   event=NAME ts=2024-05-01T12:00:00.123Z pid=42 tid=43 level=warning
 *   comm=NAME exe=PATH K=V...
 *
 * to stderr, syslog (/dev/log, written directly) or a file. Every
 * function here formats into a stack buffer and writes with one write(2)
 * (or send(2)): no malloc, no stdio FILE, no lock, errno preserved. So
 * they may be called with the table's mutex held; callsite.h's
 * functions are the exception (the loader's
 * lock, the unwinder, the interpreter): call them with nothing of ours
 * held. comm and exe are read at the first event of each image.
 */
#ifndef LOCKSPACE_LOG_H
#define LOCKSPACE_LOG_H

#include <stddef.h>

#include "config_parse.h"

#define LOG_LINE_MAX 4096 /* longer events are cut, ending in "..." */
#define LOG_BT_MAX 2048   /* a backtrace's text, at most */

/* The counters of the at-exit summary (event=summary). */
enum log_counter {
	LOGC_LOCKS,     /* lock requests granted (F_SETLK/W, lockf) */
	LOGC_FILES,     /* files that got an entry in the table */
	LOGC_HELD,      /* ranges (or files) held now: +1/-1; peak kept */
	LOGC_PREVENTED, /* closes that would have dropped locks (protect) */
	LOGC_OBSERVED,  /* closes that dropped locks (observe), seen or not */
	LOGC_FALLBACKS, /* files that fell back to plain POSIX locks */
	LOGC_N
};

/* The constructor: the fork handler. */
void log_init(void);
/* config_ensure() calls it once, with the final configuration and the
 * process's mode (config_mode()). */
void log_setup(const struct config *c, int report, int mode);
/* Whether an event of this level (LOGL_*) would be written. */
int log_enabled(int level);
int log_reporting(void);
/* One event: fmt produces the rest of the line, "key=value ..." (quote
 * values that may hold spaces with log_quote()). */
void log_event(int level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with a body already formatted. */
void log_text(int level, const char *event, const char *body);
/* s as a logfmt value: as is, or in double quotes with '"' and '\\'
 * escaped and control bytes as \xNN when it holds anything but
 * [A-Za-z0-9_./:+@,=-]. Returns dst; cut to fit len. */
char *log_quote(char *dst, size_t len, const char *s);
/* backtrace = on (callsite.h writes the frames). */
int log_backtrace_enabled(void);
/* The program's comm and exe, as every line names them. */
void log_program(char *comm, size_t clen, char *exe, size_t elen);
/* A short note (event=note msg="..."), at level notice. */
void log_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Atomic: c += n (LOGC_HELD may go down; its peak is kept). */
void log_count(enum log_counter c, long n);
/* A counter's value now (report.c's exit line). */
long log_counter(enum log_counter c);
/* The one-line event=summary, if the level or --report asks for it; at
 * most once per process (a destructor calls it too). */
void log_summary(void);

#endif
