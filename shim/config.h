/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/config.h: the policy of this process (lockspace-preload.conf and
 * the environment).
 *
 * config_ensure() reads it once, when it is first needed: before main
 * when the environment names a LOCKSPACE_PRELOAD_* variable
 * (config_startup), else at the first lock call, or at exit for the
 * summary. Read: the file at
 * $LOCKSPACE_PRELOAD_CONF, else LOCKSPACE_SYSCONFDIR/lockspace-preload.conf,
 * else the built-in defaults; then the LOCKSPACE_PRELOAD_* environment
 * overrides. In a secure-execution process every variable is ignored.
 * Each bad line of the file is reported (file, line, reason) and skipped,
 * the rest applies, and a bad mode is observe; config_parse.c states
 * the rule. The format is config_parse.h's.
 */
#ifndef LOCKSPACE_CONFIG_H
#define LOCKSPACE_CONFIG_H

#include <stdatomic.h>

#include "config_parse.h"

void config_ensure(void);
/* The constructor: read now if the environment asks for anything. */
void config_startup(void);
/* Whether it was read already (no reading). */
int config_read_yet(void);
/* The process-wide mode (mode = off turns every wrapper into a plain
 * pass-through). MODE_OFF only when no file can get another mode: with
 * mode = off globally and a section that says otherwise, the most active
 * mode of the sections. */
int config_mode(void);
/* The policy for the file at path (NULL: the global one). Called once per
 * file, at its first lock; never from a signal handler's path. */
void config_policy(const char *path, struct policy *p);
int config_has_rules(void);


/* Closes of descriptors the shim does not track are looked at only when
 * the user asked for events (WATCH_EVENTS: a file under observe,
 * log-level info, --report, a trace; set by config_policy() and
 * trace.c, never cleared), or while a file under backend = posix holds
 * a range (WATCH_POSIX, posixbe.h: such a close may have to be
 * deferred). The fast paths read the word once. */
enum { WATCH_EVENTS = 1, WATCH_POSIX = 2 };
extern atomic_int watch_closes;

static inline int watching_closes(void)
{
	return atomic_load_explicit(&watch_closes, memory_order_relaxed);
}

static inline int watching_events(void)
{
	return watching_closes() & WATCH_EVENTS;
}

#endif
