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
 *
 * config_parse.c is the pure parser (no shim dependency: the unit tests
 * and the fuzzer compile it on its own); config.c reads the file and the
 * environment; log.c writes the events.
 */
#ifndef LOCKSPACE_CONFIG_H
#define LOCKSPACE_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

enum { MODE_OFF, MODE_OBSERVE, MODE_PROTECT };
enum { LOGL_ERROR, LOGL_WARNING, LOGL_NOTICE, LOGL_INFO, LOGL_DEBUG };
enum { BACKEND_ANCHOR };
enum { LOGD_STDERR, LOGD_SYSLOG, LOGD_FILE };

/* What applies to one file: the global keys, overridden by the first
 * [glob] section whose pattern matches the file's path. */
struct policy { /* one byte: it is in every locked file */
	uint8_t mode : 3;         /* MODE_* */
	uint8_t conflicts_fd : 1; /* conflicts = fd */
	uint8_t backend : 3;      /* BACKEND_*; only anchor so far */
};

void config_init(void);
/* The process-wide mode (mode = off turns every wrapper into a plain
 * pass-through). MODE_OFF only when no file can get another mode: with
 * mode = off globally and a section that says otherwise, the most active
 * mode of the sections. */
int config_mode(void);
/* The policy for the file at path (NULL: the global one). Called once per
 * file, at its first lock; never from a signal handler's path. */
void config_policy(const char *path, struct policy *p);
int config_has_rules(void);

/* ---- config_parse.c: the file format ------------------------------------ */
#define CONFIG_LINE_MAX 4096      /* bytes of one line, without its '\n' */
#define CONFIG_SIZE_MAX (1 << 20) /* bytes of the whole file */

/* Which keys a section (or an environment override) sets. */
enum { CFG_MODE = 1, CFG_CONFLICTS = 2, CFG_BACKEND = 4 };

/* One [glob] section: the keys it sets, over the global ones. */
struct config_rule {
	size_t glob;      /* offset of its pattern in config.globs */
	unsigned set;     /* CFG_* */
	struct policy pol;
};

/* A parsed configuration. rules and globs are malloc'ed (config_free);
 * forced: keys set by the environment, which beat every section. */
struct config {
	struct policy global;
	unsigned forced;
	int log_dest;              /* LOGD_* */
	char log_path[PATH_MAX];   /* LOGD_FILE: an absolute path */
	int log_level;             /* LOGL_* */
	int backtrace;
	struct config_rule *rules;
	size_t nrules;
	char *globs;
	size_t globs_len;
};

/* Why a text was refused: line 0 is the file as a whole. */
struct config_err {
	unsigned line;
	char reason[192];
};

void config_defaults(struct config *c);
/* Parse len bytes of text into out. 0, or -EINVAL (syntax, a bad key or
 * value, NUL bytes), -EFBIG (larger than CONFIG_SIZE_MAX), -ENOMEM; on
 * error out holds the defaults and e says where and why. Never reads
 * past text + len; text need not be NUL-terminated. */
int config_parse(const char *text, size_t len, struct config *out,
		 struct config_err *e);
/* One global key = value, as a line of the file would set it (the
 * environment overrides use it). 0 or -EINVAL with the reason in why. */
int config_set(struct config *c, const char *key, const char *val,
	       char *why, size_t whylen);
/* The policy for path: global, then the first section that matches it
 * (fnmatch(3), no flags: '*' also matches '/'), then the forced keys. */
void config_lookup(const struct config *c, const char *path,
		   struct policy *p);
void config_free(struct config *c);
const char *config_mode_name(int mode);
const char *config_level_name(int level);

#endif
