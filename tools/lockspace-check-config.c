/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tools/lockspace-check-config.c: check a lockspace-preload.conf before
 * deploying it, as sshd -t and nginx -t do (lockspace-run --check-config
 * runs it).
 *
 * The file is parsed by the shim's own parser (shim/config_parse.c), so
 * what this says is what the shim will do: every bad line as
 * FILE:LINE: REASON on stderr, then what applies (-p prints all of it).
 * The LOCKSPACE_PRELOAD_* variables of the environment are checked too,
 * as the shim applies them over the file. Exit status 0: no error; 1:
 * errors (the shim would skip those lines); 2: usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_parse.h"

#ifndef LOCKSPACE_SYSCONFDIR
#define LOCKSPACE_SYSCONFDIR "/etc"
#endif
#ifndef LOCKSPACE_VERSION
#define LOCKSPACE_VERSION "0.1.0"
#endif

static const char *me = "lockspace-check-config";
static const char *file;
static unsigned nerr;

static void print_err(void *arg, const struct config_err *e)
{
	(void)arg;
	nerr++;
	if (e->line)
		fprintf(stderr, "%s:%u: %s\n", file, e->line, e->reason);
	else
		fprintf(stderr, "%s: %s\n", file, e->reason);
}

/* The whole file, or NULL with a message. */
static char *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	*len = 0;
	if (!f) {
		fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: is a directory\n", path);
		fclose(f);
		return NULL;
	}
	for (;;) {
		size_t n;

		if (*len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);

			if (!nb) {
				fprintf(stderr, "%s: out of memory\n", me);
				exit(2);
			}
			buf = nb;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
		if (!n || *len > CONFIG_SIZE_MAX)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
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

static void print_policy(const struct policy *p, unsigned set)
{
	if (set & CFG_MODE)
		printf("mode = %s\n", config_mode_name(p->mode));
	if (set & CFG_CONFLICTS)
		printf("conflicts = %s\n", p->conflicts_fd ? "fd" : "process");
	if (set & CFG_BACKEND)
		printf("backend = %s\n",
		       p->backend == BACKEND_POSIX ? "posix" : "anchor");
}

static void print_config(const struct config *c)
{
	print_policy(&c->global, CFG_MODE | CFG_CONFLICTS | CFG_BACKEND);
	printf("log = %s\n", c->log_dest == LOGD_FILE ? c->log_path :
			     c->log_dest == LOGD_SYSLOG ? "syslog" : "stderr");
	printf("log-level = %s\n", config_level_name(c->log_level));
	printf("backtrace = %s\n", c->backtrace ? "on" : "off");
	printf("trace = %s\n", c->trace_path[0] ? c->trace_path : "off");
	for (size_t i = 0; i < c->nrules; i++) {
		printf("\n[%s]\n", c->globs + c->rules[i].glob);
		print_policy(&c->rules[i].pol, c->rules[i].set);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-p] [FILE]\n"
		"Check a lockspace-preload.conf (default: $LOCKSPACE_PRELOAD_CONF,\n"
		"else %s/lockspace-preload.conf) and the LOCKSPACE_PRELOAD_*\n"
		"variables, with the shim's own parser. Each bad line is printed as\n"
		"FILE:LINE: REASON; the shim skips it and applies the rest.\n"
		"\n"
		"  -p, --print     print the configuration that applies\n"
		"  -q, --quiet     print nothing but the errors\n"
		"  -h, --help      this text\n"
		"  -V, --version   the version\n"
		"\n"
		"Exit status: 0 no error, 1 errors, 2 usage.\n",
		me, LOCKSPACE_SYSCONFDIR);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"print", no_argument, NULL, 'p'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	static struct config_errs errs = {.fn = print_err};
	struct config c;
	int opt, print = 0, quiet = 0, named = 0;
	char *text = NULL;
	size_t len = 0;

	while ((opt = getopt_long(argc, argv, "pqhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			print = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", me, LOCKSPACE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return 2;
	}
	if (optind < argc) {
		file = argv[optind];
		named = 1;
	} else if (getenv("LOCKSPACE_PRELOAD_CONF") &&
		   *getenv("LOCKSPACE_PRELOAD_CONF")) {
		file = getenv("LOCKSPACE_PRELOAD_CONF");
		named = 1;
	} else {
		file = LOCKSPACE_SYSCONFDIR "/lockspace-preload.conf";
	}
	config_defaults(&c);
	if (named || access(file, F_OK) == 0) {
		text = slurp(file, &len);
		if (!text) {
			nerr++;
			config_fallback(&c);
			fprintf(stderr, "%s: the shim would use the defaults "
				"with mode = observe\n", file);
		} else {
			config_parse(text, len, &c, &errs);
			free(text);
		}
	} else if (!quiet) {
		printf("%s: none (the built-in defaults apply)\n", file);
	}
	for (size_t i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++) {
		const char *v = getenv(env_keys[i].var);
		char why[256];

		if (!v)
			continue;
		if (config_set(&c, env_keys[i].key, v, why, sizeof(why)) < 0) {
			nerr++;
			fprintf(stderr, "%s: %s\n", env_keys[i].var, why);
			if (env_keys[i].forces != CFG_MODE)
				continue;
		}
		c.forced |= env_keys[i].forces;
	}
	if (print)
		print_config(&c);
	if (nerr) {
		fprintf(stderr, "%s: %u error%s: the shim skips %s and applies "
			"the rest, with mode = %s\n", file, nerr,
			nerr == 1 ? "" : "s", nerr == 1 ? "it" : "them",
			config_mode_name(c.global.mode));
	} else if (!quiet) {
		printf("%s: ok (mode = %s)\n", file,
		       config_mode_name(c.global.mode));
	}
	config_free(&c);
	return nerr ? 1 : 0;
}
