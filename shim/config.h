/*
 * shim/config.h: the policy (lockspace-preload.conf and the environment)
 * and the log.
 *
 * config_init() runs once in the constructor: the file at
 * $LOCKSPACE_PRELOAD_CONF, else LOCKSPACE_SYSCONFDIR/lockspace-preload.conf,
 * else the built-in defaults; then the LOCKSPACE_PRELOAD_* environment
 * overrides. In a secure-execution process every variable is ignored.
 * A broken file is reported once (file, line, reason) and the built-in
 * defaults are used for all of it.
 */
#ifndef LOCKSPACE_CONFIG_H
#define LOCKSPACE_CONFIG_H

enum { MODE_OFF, MODE_OBSERVE, MODE_PROTECT };
enum { LOGL_ERROR, LOGL_WARNING, LOGL_NOTICE, LOGL_INFO, LOGL_DEBUG };

/* What applies to one file: the global keys, overridden by the first
 * [glob] section whose pattern matches the file's path. */
struct policy {
	int mode;         /* MODE_* */
	int conflicts_fd; /* conflicts = fd */
};

void config_init(void);
/* The process-wide mode (mode = off turns every wrapper into a plain
 * pass-through). */
int config_mode(void);
/* The policy for the file at path (NULL: the global one). Called once per
 * file, at its first lock; never from a signal handler's path. */
void config_policy(const char *path, struct policy *p);

#endif
