/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/config.c: the policy of this process, from lockspace-preload.conf
 * and the LOCKSPACE_PRELOAD_* environment, read once in the constructor.
 *
 * The constructor runs before main() in a program that knows nothing of
 * us, so nothing here may take it down: no stdio FILE, the file read with
 * open/read into a buffer of at most CONFIG_SIZE_MAX bytes (mmap'ed, so a
 * failure is an error and not a crash), every failure reported once and
 * answered with the built-in defaults. Secure-execution processes
 * (AT_SECURE: setuid, file capabilities) see no variable: secure_getenv()
 * returns NULL there, so only the system file is read; and our variables
 * are removed from their environment, so none passes to their children.
 */
#include "config.h"
#include "defs.h"
#include "guard.h"
#include "log.h"
#include "real.h"

#include <errno.h>
#include <execinfo.h>
#include <sched.h>
#include <sys/auxv.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LOCKSPACE_SYSCONFDIR
#define LOCKSPACE_SYSCONFDIR "/etc"
#endif
#define SYSTEM_CONF LOCKSPACE_SYSCONFDIR "/lockspace-preload.conf"

/* Written once by config_read() (config_ensure: the first lock call, the
 * constructor of an image that takes over a hand-over, or exit), read-only
 * afterwards. cfg_state: 0 not read, 1 being read, 2 read. */
static struct config cfg;
static int cfg_mode;
static atomic_int cfg_state;

/* Read path into a fresh mapping of CONFIG_SIZE_MAX + 1 bytes. 0, or
 * -errno with the reason; -ENOENT is silent for the system file. */
static int read_file(const char *path, char **buf, size_t *len,
		     struct config_err *e)
{
	size_t cap = CONFIG_SIZE_MAX + 1, got = 0;
	struct stat st;
	int fd, rc = 0;
	char *b;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO in its place must not hang the program. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(e->reason, sizeof(e->reason), "cannot open: %s",
			 strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(e->reason, sizeof(e->reason), "cannot stat: %s",
			 strerror(-rc));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		snprintf(e->reason, sizeof(e->reason), "is a directory");
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		rc = -EINVAL;
		snprintf(e->reason, sizeof(e->reason),
			 "not a regular file");
		goto out;
	}
	if (st.st_size > CONFIG_SIZE_MAX) {
		rc = -EFBIG;
		snprintf(e->reason, sizeof(e->reason),
			 "larger than %d bytes", CONFIG_SIZE_MAX);
		goto out;
	}
	b = mmap(NULL, cap, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED) {
		rc = -ENOMEM;
		snprintf(e->reason, sizeof(e->reason), "out of memory");
		goto out;
	}
	while (got < cap) {
		ssize_t r = read(fd, b + got, cap - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(e->reason, sizeof(e->reason),
				 "cannot read: %s", strerror(-rc));
			break;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (!rc && got > CONFIG_SIZE_MAX) {
		rc = -EFBIG;
		snprintf(e->reason, sizeof(e->reason),
			 "larger than %d bytes", CONFIG_SIZE_MAX);
	}
	if (rc) {
		munmap(b, cap);
		goto out;
	}
	*buf = b;
	*len = got;
out:
	raw_close(fd);
	return rc;
}

/* The file's configuration into cfg. Its errors go to errs, reported
 * once the log is set up (so they go where the environment says): a bad
 * line is skipped, a file that cannot be used gives config_fallback(). */
static int load_file(const char *path, int named, struct config_errs *errs)
{
	struct config_err e = {0, ""};
	struct stat st;
	char *buf;
	size_t len;
	int rc;

	errs->n = errs->more = 0;
	rc = read_file(path, &buf, &len, &e);
	/* No system file: the defaults, silently. One that cannot be
	 * opened now (EMFILE) may not exist either: stat needs no
	 * descriptor. */
	if (rc && !named &&
	    (rc == -ENOENT || (stat(path, &st) < 0 && errno == ENOENT)))
		rc = 0;
	if (rc) {
		config_fallback(&cfg);
		config_err_add(errs, 0, "%s: the defaults with mode = observe",
			       e.reason);
		return rc;
	}
	if (!buf)
		return 0;
	rc = config_parse(buf, len, &cfg, errs);
	munmap(buf, CONFIG_SIZE_MAX + 1);
	return rc;
}

static const struct {
	const char *var, *key;
	unsigned forces;
} env_keys[] = {
	{"LOCKSPACE_PRELOAD_MODE", "mode", CFG_MODE},
	{"LOCKSPACE_PRELOAD_CONFLICTS", "conflicts", CFG_CONFLICTS},
	{"LOCKSPACE_PRELOAD_BACKEND", "backend", CFG_BACKEND},
	{"LOCKSPACE_PRELOAD_LOG", "log", 0},
	{"LOCKSPACE_PRELOAD_LOG_LEVEL", "log-level", 0},
	{"LOCKSPACE_PRELOAD_BACKTRACE", "backtrace", 0},
	{"LOCKSPACE_PRELOAD_TRACE", "trace", 0},
};
#define N_ENV (sizeof(env_keys) / sizeof(env_keys[0]))

static void config_read(void)
{
	const char *path = secure_getenv("LOCKSPACE_PRELOAD_CONF");
	const char *bad_var[N_ENV];
	char bad_why[N_ENV][160];
	static struct config_errs e; /* read once, under cfg_state */
	int named = path && *path, rc, report;
	size_t nbad = 0;

	if (!named)
		path = SYSTEM_CONF;
	config_defaults(&cfg);
	rc = load_file(path, named, &e);
	/* The environment applies over the file, or over the defaults that
	 * replaced a broken file, and beats every section. */
	for (size_t i = 0; i < N_ENV; i++) {
		const char *v = secure_getenv(env_keys[i].var);

		if (!v)
			continue;
		if (config_set(&cfg, env_keys[i].key, v, bad_why[nbad],
			       sizeof(bad_why[nbad])) < 0) {
			bad_var[nbad++] = env_keys[i].var;
			/* A bad mode is observe, as in the file. */
			if (env_keys[i].forces != CFG_MODE)
				continue;
		}
		cfg.forced |= env_keys[i].forces;
	}
	cfg_mode = cfg.global.mode;
	for (size_t i = 0; cfg_mode == MODE_OFF && i < cfg.nrules; i++)
		if ((cfg.rules[i].set & CFG_MODE) &&
		    !(cfg.forced & CFG_MODE) &&
		    cfg.rules[i].pol.mode > cfg_mode)
			cfg_mode = cfg.rules[i].pol.mode;

	report = 0;
	{
		const char *r = secure_getenv("LOCKSPACE_PRELOAD_REPORT");

		report = r && *r && strcmp(r, "0") != 0;
	}
	log_setup(&cfg, report, cfg_mode);
	if (rc) {
		char qf[PATH_MAX + 16], qr[sizeof(e.e[0].reason) * 2 + 4];

		log_quote(qf, sizeof(qf), path);
		for (size_t i = 0; i < e.n; i++) {
			log_quote(qr, sizeof(qr), e.e[i].reason);
			log_event(LOGL_ERROR, "config-error",
				  "file=%s line=%u reason=%s", qf, e.e[i].line,
				  qr);
		}
		if (e.more)
			log_event(LOGL_ERROR, "config-error",
				  "file=%s line=0 reason=\"%zu more errors\"", qf,
				  e.more);
	}
	for (size_t i = 0; i < nbad; i++) {
		char qr[sizeof(bad_why[0]) * 2 + 4];

		log_quote(qr, sizeof(qr), bad_why[i]);
		log_event(LOGL_ERROR, "config-error",
			  "variable=%s reason=%s ignored=1", bad_var[i], qr);
	}
	if (cfg.backtrace) {
		/* backtrace() loads libgcc_s (and allocates) on its first
		 * call: do that here, not where an event is logged. */
		void *frames[2];

		backtrace(frames, 2);
	}
}

/*
 * Nothing is read at startup: a program that never takes a lock pays for
 * no file, no variable and no log (issue 24: startup). The first caller
 * reads; another thread that comes meanwhile waits for it. A signal
 * handler that interrupts the reading thread never gets here (the lock
 * call passes through while shim_busy is set).
 */
void config_ensure(void)
{
	int st = atomic_load_explicit(&cfg_state, memory_order_acquire);

	if (likely(st == 2))
		return;
	st = 0;
	if (atomic_compare_exchange_strong(&cfg_state, &st, 1)) {
		shim_busy++;
		config_read();
		shim_busy_leave();
		atomic_store_explicit(&cfg_state, 2, memory_order_release);
		return;
	}
	while (atomic_load_explicit(&cfg_state, memory_order_acquire) != 2)
		sched_yield();
}

extern char **environ;

/* LOCKSPACE_PRELOAD_* (the hand-over LOCKSPACE_PRELOAD_HANDOFF among
 * them) and the registry's LOCKSPACE_WAIT_DIR. */
static int our_variable(const char *e)
{
	static const char pre[] = "LOCKSPACE_PRELOAD_";
	static const char wait[] = "LOCKSPACE_WAIT_DIR";
	size_t len = strcspn(e, "=");

	return !strncmp(e, pre, sizeof(pre) - 1) ||
	       (len == sizeof(wait) - 1 && !strncmp(e, wait, len));
}

/*
 * In secure execution our variables are ignored, and must not stay in
 * the environment either: a setuid program that becomes root for good
 * and execs a helper would hand the user's values (a log path, a
 * configuration file, a forged hand-over) to a process that no longer
 * runs in secure execution and believes them. They go as ld.so removes
 * LD_PRELOAD and the other unsafe variables in that mode: every
 * occurrence, in the constructor (single-threaded), before anything of
 * the program reads the environment.
 */
static void scrub_environment(void)
{
	char **r, **w;

	if (!environ)
		return;
	for (r = w = environ; *r; r++)
		if (!our_variable(*r))
			*w++ = *r;
	*w = NULL;
}

/* A run that names any LOCKSPACE_PRELOAD_* variable asked for something
 * (a log, a file, a mode): it is read before main, so that a mistake in
 * it is reported at once, and the log is open from the start. Otherwise
 * the first lock call reads it. Secure-execution processes see no
 * variable (secure_getenv), and keep none. */
void config_startup(void)
{
	if (getauxval(AT_SECURE)) {
		scrub_environment();
		return;
	}
	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, "LOCKSPACE_PRELOAD_", 18)) {
			config_ensure();
			return;
		}
}

int config_read_yet(void)
{
	return atomic_load_explicit(&cfg_state, memory_order_acquire) == 2;
}

int config_mode(void)
{
	config_ensure();
	return cfg_mode;
}

atomic_int watch_closes;

void config_policy(const char *path, struct policy *p)
{
	config_ensure();
	config_lookup(&cfg, path, p);
	if (p->mode == MODE_OBSERVE || log_enabled(LOGL_INFO) ||
	    log_reporting())
		atomic_fetch_or(&watch_closes, WATCH_EVENTS);
}

/* Whether any [glob] section exists: without one, a file's path need not
 * be looked up at its first lock. */
int config_has_rules(void)
{
	config_ensure();
	return cfg.nrules != 0;
}
