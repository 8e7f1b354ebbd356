/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/config_parse.h: the format of lockspace-preload.conf and the
 * policy types, parsed without touching the process (config_parse.c is
 * pure: the unit tests and the fuzzer compile it on their own).
 */
#ifndef LOCKSPACE_CONFIG_PARSE_H
#define LOCKSPACE_CONFIG_PARSE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

enum { MODE_OFF, MODE_OBSERVE, MODE_PROTECT };
enum { LOGL_ERROR, LOGL_WARNING, LOGL_NOTICE, LOGL_INFO, LOGL_DEBUG };
enum { BACKEND_ANCHOR, BACKEND_POSIX };
enum { LOGD_STDERR, LOGD_SYSLOG, LOGD_FILE };

/* What applies to one file: the global keys, overridden by the first
 * [glob] section whose pattern matches the file's path. */
struct policy { /* one byte: it is in every locked file */
	uint8_t mode : 3;         /* MODE_* */
	uint8_t conflicts_fd : 1; /* conflicts = fd */
	uint8_t backend : 3;      /* BACKEND_* */
};

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
	char trace_path[PATH_MAX]; /* trace = FILE (absolute), "" none */
	struct config_rule *rules;
	size_t nrules;
	char *globs;
	size_t globs_len;
};

/* Why a line (line 0: the file as a whole) was refused. */
struct config_err {
	unsigned line;
	char reason[256];
};

/* Every error of a text: the first CONFIG_ERRS_MAX stored, the rest
 * counted (a binary file is not worth ten thousand lines of log); fn,
 * when set, is called for each of them. */
#define CONFIG_ERRS_MAX 16
struct config_errs {
	size_t n, more;
	struct config_err e[CONFIG_ERRS_MAX];
	void (*fn)(void *arg, const struct config_err *e);
	void *arg;
};

void config_defaults(struct config *c);
/* The configuration of a file that cannot be used at all (unreadable,
 * too large): the defaults, with mode = observe (config_parse.c says
 * why). */
void config_fallback(struct config *c);
/* Parse len bytes of text into out. 0; -EINVAL when some lines were bad
 * (each is reported in errs and skipped, the rest applies: see
 * config_parse.c for what a bad line means to the mode); -EFBIG (larger
 * than CONFIG_SIZE_MAX: out is config_fallback's). errs is reset first.
 * Never reads past text + len; text need not be NUL-terminated. */
int config_parse(const char *text, size_t len, struct config *out,
		 struct config_errs *errs);
/* Add an error to errs (line, printf-style reason). */
void config_err_add(struct config_errs *errs, unsigned line,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* One global key = value, as a line of the file would set it (the
 * environment overrides use it). 0 or -EINVAL with the reason in why;
 * a bad mode value still sets mode = observe, as a bad line does. */
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
