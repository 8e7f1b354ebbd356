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
 * around keys, values and patterns are ignored.
 *
 * A line that cannot be applied is an error: it is reported (file, line,
 * reason) and skipped, every one of them, and the rest of the file
 * applies. Refusing the whole file for one typo would replace what the
 * user asked for with the defaults, and the default mode, protect,
 * changes what a program sees of its locks. So the rule for the mode
 * of a scope (the global keys, or one [section]) is: the mode that
 * changes least, observe (it changes nothing the program sees, and
 * still reports the losses protect would prevent), wherever a bad line
 * may have been meant to set it:
 *   - a mode line with a bad value sets mode = observe in its place (a
 *     later mode line still wins, as always);
 *   - a line that may have been a mode line (an unknown key, a line
 *     that is not "key = value", a line with NUL or control bytes, an
 *     overlong line) makes the scope's mode observe, unless a mode line
 *     of that scope says otherwise;
 *   - a malformed section header is skipped with the keys under it (they
 *     were meant for the files it names, not for the scope before), and
 *     counts as such a line for the global scope;
 *   - a file that cannot be used at all (unreadable, larger than
 *     CONFIG_SIZE_MAX) gives the defaults with mode = observe.
 * A bad value of another key keeps that key's default.
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
static const char *const backend_names[] = {"anchor", "posix", NULL};
static const char *const level_names[] = {"error", "warning", "notice",
					  "info", "debug", NULL};
static const char *const bool_names[] = {"off", "on", NULL};

enum key {
	K_MODE, K_CONFLICTS, K_BACKEND, K_LOG, K_LOG_LEVEL, K_BACKTRACE,
	K_TRACE,
};

static const struct key_def {
	const char *name;
	int global_only;
	const char *const *values; /* NULL: log, trace, checked by hand */
	const char *expect;
} keys[] = {
	[K_MODE] = {"mode", 0, mode_names, "off, observe or protect"},
	[K_CONFLICTS] = {"conflicts", 0, conflicts_names, "process or fd"},
	[K_BACKEND] = {"backend", 0, backend_names, "anchor or posix"},
	[K_LOG] = {"log", 1, NULL, "stderr, syslog or an absolute path"},
	[K_LOG_LEVEL] = {"log-level", 1, level_names,
			 "error, warning, notice, info or debug"},
	[K_BACKTRACE] = {"backtrace", 1, bool_names, "on or off"},
	[K_TRACE] = {"trace", 1, NULL, "off or an absolute path"},
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

void config_fallback(struct config *c)
{
	config_defaults(c);
	c->global.mode = MODE_OBSERVE;
}

void config_err_add(struct config_errs *errs, unsigned line,
		    const char *fmt, ...)
{
	struct config_err e = {.line = line};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.reason, sizeof(e.reason), fmt, ap);
	va_end(ap);
	if (errs->fn)
		errs->fn(errs->arg, &e);
	if (errs->n < CONFIG_ERRS_MAX)
		errs->e[errs->n++] = e;
	else
		errs->more++;
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
	if (!vn && i == K_MODE) {
		pol->mode = MODE_OBSERVE;
		if (rule)
			rule->set |= CFG_MODE;
		return why(msg, msglen, "missing value for key \"mode\" "
			   "(expected %s): mode = observe, which changes "
			   "nothing", d->expect);
	}
	if (!vn)
		return why(msg, msglen, "missing value for key \"%s\" "
			   "(expected %s)", d->name, d->expect);
	if (d->values) {
		val = find_value(d->values, v, vn);
		if (val < 0 && i == K_MODE) {
			/* The mode that changes least (see above). */
			pol->mode = MODE_OBSERVE;
			if (rule)
				rule->set |= CFG_MODE;
			return why(msg, msglen, "bad value \"%.*s\" for key "
				   "\"mode\" (expected %s): mode = observe, "
				   "which changes nothing", SHOW(v, vn),
				   d->expect);
		}
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
	case K_TRACE:
		if (eq(v, vn, "off")) {
			c->trace_path[0] = 0;
		} else if (v[0] == '/' && vn < sizeof(c->trace_path)) {
			memcpy(c->trace_path, v, vn);
			c->trace_path[vn] = 0;
		} else {
			return why(msg, msglen, "bad value \"%.*s\" for key "
				   "\"trace\" (expected %s)", SHOW(v, vn),
				   d->expect);
		}
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

/* What a line did, beyond its error. */
enum {
	L_OK,      /* applied, or nothing to apply */
	L_MODE,    /* a mode line (applied, or observe in its place) */
	L_DOUBT,   /* bad, and it may have been meant to set the mode */
	L_BAD,     /* bad, and it was not about the mode */
	L_SECTION, /* a section header, applied */
	L_BADSEC,  /* a malformed section header */
	L_NOMEM,
};

static int key_is(const char *k, size_t kn, const char *name)
{
	return eq(k, kn, name);
}

/* One line, without its '\n': one of L_*, the reason in msg when bad. */
static int parse_line(struct config *c, const char *s, size_t n, char *msg,
		      size_t msglen)
{
	const char *hash, *k, *v, *eqs;
	size_t kn, vn;
	int rc;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!ch) {
			why(msg, msglen, "NUL byte at column %zu (not a text "
			    "file?)", i + 1);
			return L_DOUBT;
		}
		if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f) {
			why(msg, msglen, "control character 0x%02x at column "
			    "%zu (not a text file?)", ch, i + 1);
			return L_DOUBT;
		}
	}
	hash = memchr(s, '#', n);
	if (hash)
		n = (size_t)(hash - s);
	trim(&s, &n);
	if (!n)
		return L_OK;
	if (s[0] == '[') {
		if (s[n - 1] != ']' || n < 2) {
			why(msg, msglen, "unterminated section \"%.*s\" "
			    "(expected \"[pattern]\"): skipped with its keys",
			    SHOW(s, n));
			return L_BADSEC;
		}
		s++;
		n -= 2;
		trim(&s, &n);
		if (!n) {
			why(msg, msglen, "empty section pattern: skipped with "
			    "its keys");
			return L_BADSEC;
		}
		if (add_rule(c, s, n) < 0) {
			why(msg, msglen, "out of memory: section skipped with "
			    "its keys");
			return L_NOMEM;
		}
		return L_SECTION;
	}
	eqs = memchr(s, '=', n);
	if (!eqs) {
		why(msg, msglen, "expected \"key = value\" or \"[pattern]\", "
		    "not \"%.*s\"", SHOW(s, n));
		return L_DOUBT;
	}
	k = s;
	kn = (size_t)(eqs - s);
	v = eqs + 1;
	vn = n - kn - 1;
	trim(&k, &kn);
	trim(&v, &vn);
	if (!kn) {
		why(msg, msglen, "missing key before '='");
		return L_DOUBT;
	}
	rc = set_key(c, c->nrules ? &c->rules[c->nrules - 1] : NULL, k, kn,
		     v, vn, msg, msglen);
	if (key_is(k, kn, "mode"))
		return L_MODE;
	if (rc == 0)
		return L_OK;
	/* A known key with a bad value was not meant as the mode. */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (key_is(k, kn, keys[i].name))
			return L_BAD;
	return L_DOUBT;
}

/* A scope's mode after its lines: observe where a bad line may have
 * been its mode line and no mode line says otherwise. */
struct scope {
	int mode_set;       /* a mode line (good or bad) */
	int doubt;          /* errs index + 1 of the first doubtful line */
};

static void settle(struct config *c, struct config_rule *r,
		   const struct scope *sc, struct config_errs *errs)
{
	struct config_err *e;
	size_t n;

	if (!sc->doubt || sc->mode_set)
		return;
	if (r) {
		r->pol.mode = MODE_OBSERVE;
		r->set |= CFG_MODE;
	} else {
		c->global.mode = MODE_OBSERVE;
	}
	if ((size_t)sc->doubt > errs->n)
		return;
	e = &errs->e[sc->doubt - 1];
	n = strlen(e->reason);
	snprintf(e->reason + n, sizeof(e->reason) - n,
		 "; no valid mode line %s: mode = observe, which changes "
		 "nothing", r ? "in its section" : "among the global keys");
}

static int is_header(const char *s, size_t n)
{
	trim(&s, &n);
	return n && s[0] == '[';
}

int config_parse(const char *text, size_t len, struct config *out,
		 struct config_errs *errs)
{
	struct scope global = {0, 0}, sec = {0, 0};
	size_t off = 0;
	unsigned line = 0;
	/* The scope of the lines: -1 the global keys, >= 0 rules[cur], -2
	 * a section skipped with its keys. */
	int bad = 0, cur = -1;

	config_defaults(out);
	errs->n = errs->more = 0;
	if (len > CONFIG_SIZE_MAX) {
		config_fallback(out);
		config_err_add(errs, 0, "larger than %d bytes: the defaults "
			       "with mode = observe", CONFIG_SIZE_MAX);
		return -EFBIG;
	}
	while (off < len) {
		const char *s = text + off, *nl;
		char msg[sizeof(errs->e[0].reason)];
		struct scope *sc;
		size_t n;
		int what;

		nl = memchr(s, '\n', len - off);
		n = nl ? (size_t)(nl - s) : len - off;
		off += n + (nl ? 1 : 0);
		line++;
		msg[0] = 0;
		if (n > CONFIG_LINE_MAX) {
			if (cur == -2)
				continue;
			snprintf(msg, sizeof(msg), "line longer than %d bytes",
				 CONFIG_LINE_MAX);
			what = L_DOUBT;
		} else if (cur == -2 && !is_header(s, n)) {
			continue; /* a key of a skipped section */
		} else {
			what = parse_line(out, s, n, msg, sizeof(msg));
		}
		if (what == L_SECTION || what == L_BADSEC ||
		    what == L_NOMEM) {
			if (cur >= 0)
				settle(out, &out->rules[cur], &sec, errs);
			sec.mode_set = sec.doubt = 0;
			cur = what == L_SECTION ? (int)out->nrules - 1 : -2;
			if (what == L_SECTION)
				continue;
			sc = &global; /* it named files the global keys get */
		} else {
			sc = cur >= 0 ? &sec : &global;
		}
		if (what == L_MODE)
			sc->mode_set = 1;
		if (what == L_OK || (what == L_MODE && !msg[0]))
			continue;
		bad = 1;
		config_err_add(errs, line, "%s", msg);
		if (what != L_BAD && what != L_MODE && !sc->doubt)
			sc->doubt = errs->more ? -1 : (int)errs->n;
	}
	if (cur >= 0)
		settle(out, &out->rules[cur], &sec, errs);
	settle(out, NULL, &global, errs);
	return bad ? -EINVAL : 0;
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
