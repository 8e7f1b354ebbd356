/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/config_parse.c: the lockspace-preload.conf format, as a pure
 * function of a byte buffer.
 *
 *     mode = protect          # global keys first
 *     [/var/lib/legacy/app-*.db]  # then sections, fnmatch(3) on the path
 *     conflicts = fd
 *
 * '#' starts a comment anywhere on a line; blank lines and the spaces
 * around keys, values and patterns are ignored. Anything else is an
 * error, and an error refuses the whole text: a half-applied policy is
 * worse than the defaults, so the caller gets either everything or the
 * defaults and one reason with its line.
 *
 * No dependency on the rest of the shim: it runs in the constructor, in
 * the unit tests and under the fuzzer. It allocates only the rules (with
 * malloc, whose failure is an error like any other).
 */
#include "config_parse.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = {"off", "observe", "protect", NULL};
static const char *const conflicts_names[] = {"process", "fd", NULL};
static const char *const backend_names[] = {"anchor", NULL};
static const char *const level_names[] = {"error", "warning", "notice",
					  "info", "debug", NULL};
static const char *const bool_names[] = {"off", "on", NULL};

enum key {
	K_MODE, K_CONFLICTS, K_BACKEND, K_LOG, K_LOG_LEVEL, K_BACKTRACE,
};

static const struct key_def {
	const char *name;
	int global_only;
	const char *const *values; /* NULL: log, checked by hand */
	const char *expect;
} keys[] = {
	[K_MODE] = {"mode", 0, mode_names, "off, observe or protect"},
	[K_CONFLICTS] = {"conflicts", 0, conflicts_names, "process or fd"},
	[K_BACKEND] = {"backend", 0, backend_names, "anchor"},
	[K_LOG] = {"log", 1, NULL, "stderr, syslog or an absolute path"},
	[K_LOG_LEVEL] = {"log-level", 1, level_names,
			 "error, warning, notice, info or debug"},
	[K_BACKTRACE] = {"backtrace", 1, bool_names, "on or off"},
};

const char *config_mode_name(int mode)
{
	return mode >= MODE_OFF && mode <= MODE_PROTECT ? mode_names[mode]
							 : "?";
}

const char *config_level_name(int level)
{
	return level >= LOGL_ERROR && level <= LOGL_DEBUG ? level_names[level]
							   : "?";
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->global.mode = MODE_PROTECT;
	c->global.backend = BACKEND_ANCHOR;
	c->log_dest = LOGD_STDERR;
	c->log_level = LOGL_NOTICE;
}

void config_free(struct config *c)
{
	free(c->rules);
	free(c->globs);
	c->rules = NULL;
	c->globs = NULL;
	c->nrules = 0;
	c->globs_len = 0;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Trim [*s, *s + *n) of surrounding spaces. */
static void trim(const char **s, size_t *n)
{
	while (*n && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

static int eq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && !memcmp(s, word, n);
}

static int why(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int why(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A word of the text for a message: at most 40 bytes of it. */
#define SHOW(s, n) (int)((n) > 40 ? 40 : (n)), (s)

static int find_value(const char *const *names, const char *v, size_t n)
{
	for (int i = 0; names[i]; i++)
		if (eq(v, n, names[i]))
			return i;
	return -1;
}

/* Apply key = value to the global keys (rule == NULL) or to a section. */
static int set_key(struct config *c, struct config_rule *rule,
		   const char *k, size_t kn, const char *v, size_t vn,
		   char *msg, size_t msglen)
{
	const struct key_def *d = NULL;
	struct policy *pol = rule ? &rule->pol : &c->global;
	int i, val = 0;

	for (i = 0; i < (int)(sizeof(keys) / sizeof(keys[0])); i++)
		if (eq(k, kn, keys[i].name)) {
			d = &keys[i];
			break;
		}
	if (!d)
		return why(msg, msglen, "unknown key \"%.*s\"", SHOW(k, kn));
	if (rule && d->global_only)
		return why(msg, msglen,
			   "key \"%s\" is global: it must come before the "
			   "first [section]", d->name);
	if (!vn)
		return why(msg, msglen, "missing value for key \"%s\" "
			   "(expected %s)", d->name, d->expect);
	if (d->values) {
		val = find_value(d->values, v, vn);
		if (val < 0)
			return why(msg, msglen, "bad value \"%.*s\" for key "
				   "\"%s\" (expected %s)", SHOW(v, vn),
				   d->name, d->expect);
	}
	switch ((enum key)i) {
	case K_MODE:
		pol->mode = val;
		if (rule)
			rule->set |= CFG_MODE;
		break;
	case K_CONFLICTS:
		pol->conflicts_fd = val;
		if (rule)
			rule->set |= CFG_CONFLICTS;
		break;
	case K_BACKEND:
		pol->backend = val;
		if (rule)
			rule->set |= CFG_BACKEND;
		break;
	case K_LOG:
		if (eq(v, vn, "stderr")) {
			c->log_dest = LOGD_STDERR;
		} else if (eq(v, vn, "syslog")) {
			c->log_dest = LOGD_SYSLOG;
		} else if (v[0] == '/' && vn < sizeof(c->log_path)) {
			c->log_dest = LOGD_FILE;
			memcpy(c->log_path, v, vn);
			c->log_path[vn] = 0;
		} else {
			return why(msg, msglen, "bad value \"%.*s\" for key "
				   "\"log\" (expected %s)", SHOW(v, vn),
				   d->expect);
		}
		break;
	case K_LOG_LEVEL:
		c->log_level = val;
		break;
	case K_BACKTRACE:
		c->backtrace = val;
		break;
	}
	return 0;
}

int config_set(struct config *c, const char *key, const char *val,
	       char *whybuf, size_t whylen)
{
	const char *v = val;
	size_t vn = strlen(val);

	trim(&v, &vn);
	return set_key(c, NULL, key, strlen(key), v, vn, whybuf, whylen);
}

static int add_rule(struct config *c, const char *pat, size_t n)
{
	struct config_rule *r;
	char *g;

	r = realloc(c->rules, (c->nrules + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	c->rules = r;
	g = realloc(c->globs, c->globs_len + n + 1);
	if (!g)
		return -ENOMEM;
	c->globs = g;
	memcpy(g + c->globs_len, pat, n);
	g[c->globs_len + n] = 0;
	r[c->nrules].glob = c->globs_len;
	r[c->nrules].set = 0;
	r[c->nrules].pol = c->global;
	c->globs_len += n + 1;
	c->nrules++;
	return 0;
}

/* One line, without its '\n'. */
static int parse_line(struct config *c, const char *s, size_t n, char *msg,
		      size_t msglen)
{
	const char *hash, *k, *v, *eqs;
	size_t kn, vn;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!ch)
			return why(msg, msglen, "NUL byte at column %zu "
				   "(not a text file?)", i + 1);
		if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f)
			return why(msg, msglen, "control character 0x%02x at "
				   "column %zu (not a text file?)", ch, i + 1);
	}
	hash = memchr(s, '#', n);
	if (hash)
		n = (size_t)(hash - s);
	trim(&s, &n);
	if (!n)
		return 0;
	if (s[0] == '[') {
		if (s[n - 1] != ']' || n < 2)
			return why(msg, msglen, "unterminated section \"%.*s\""
				   " (expected \"[pattern]\")", SHOW(s, n));
		s++;
		n -= 2;
		trim(&s, &n);
		if (!n)
			return why(msg, msglen, "empty section pattern");
		if (add_rule(c, s, n) < 0)
			return -ENOMEM;
		return 0;
	}
	eqs = memchr(s, '=', n);
	if (!eqs)
		return why(msg, msglen, "expected \"key = value\" or "
			   "\"[pattern]\", not \"%.*s\"", SHOW(s, n));
	k = s;
	kn = (size_t)(eqs - s);
	v = eqs + 1;
	vn = n - kn - 1;
	trim(&k, &kn);
	trim(&v, &vn);
	if (!kn)
		return why(msg, msglen, "missing key before '='");
	return set_key(c, c->nrules ? &c->rules[c->nrules - 1] : NULL, k, kn,
		       v, vn, msg, msglen);
}

int config_parse(const char *text, size_t len, struct config *out,
		 struct config_err *e)
{
	size_t off = 0;
	unsigned line = 0;
	int rc = 0;

	config_defaults(out);
	e->line = 0;
	e->reason[0] = 0;
	if (len > CONFIG_SIZE_MAX) {
		snprintf(e->reason, sizeof(e->reason),
			 "larger than %d bytes", CONFIG_SIZE_MAX);
		return -EFBIG;
	}
	while (off < len) {
		const char *s = text + off, *nl;
		size_t n;

		nl = memchr(s, '\n', len - off);
		n = nl ? (size_t)(nl - s) : len - off;
		off += n + (nl ? 1 : 0);
		line++;
		if (n > CONFIG_LINE_MAX) {
			snprintf(e->reason, sizeof(e->reason),
				 "line longer than %d bytes", CONFIG_LINE_MAX);
			rc = -EINVAL;
			break;
		}
		rc = parse_line(out, s, n, e->reason, sizeof(e->reason));
		if (rc == -ENOMEM)
			snprintf(e->reason, sizeof(e->reason),
				 "out of memory");
		if (rc)
			break;
	}
	if (rc) {
		e->line = line;
		config_free(out);
		config_defaults(out);
	}
	return rc;
}

void config_lookup(const struct config *c, const char *path,
		   struct policy *p)
{
	*p = c->global;
	for (size_t i = 0; path && i < c->nrules; i++) {
		const struct config_rule *r = &c->rules[i];

		if (fnmatch(c->globs + r->glob, path, 0))
			continue;
		if ((r->set & CFG_MODE) && !(c->forced & CFG_MODE))
			p->mode = r->pol.mode;
		if ((r->set & CFG_CONFLICTS) && !(c->forced & CFG_CONFLICTS))
			p->conflicts_fd = r->pol.conflicts_fd;
		if ((r->set & CFG_BACKEND) && !(c->forced & CFG_BACKEND))
			p->backend = r->pol.backend;
		break;
	}
}
