/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_config.c: the lockspace-preload.conf parser (shim/config_parse.c,
 * compiled in here: it is pure, and the test binary links the core only). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shim/config_parse.c"

static struct config c;
static struct config_errs e;

static int parse(const char *text)
{
	config_free(&c);
	return config_parse(text, strlen(text), &c, &e);
}

static void teardown(void)
{
	config_free(&c);
}

TestSuite(config, .fini = teardown);

static void assert_defaults(void)
{
	cr_assert_eq(c.global.mode, MODE_PROTECT);
	cr_assert_eq(c.global.conflicts_fd, 0);
	cr_assert_eq(c.global.backend, BACKEND_ANCHOR);
	cr_assert_eq(c.log_dest, LOGD_STDERR);
	cr_assert_eq(c.log_level, LOGL_NOTICE);
	cr_assert_eq(c.backtrace, 0);
	cr_assert_eq(c.nrules, 0);
	cr_assert_null(c.rules);
}

/* A text with one bad line: the reason holds want, the line is line (the
 * line is skipped, the rest applies: the callers check what). */
static void assert_refused(const char *text, size_t len, unsigned line,
			   const char *want)
{
	config_free(&c);
	cr_assert_eq(config_parse(text, len, &c, &e), -EINVAL, "%s", want);
	cr_assert_eq(e.n, 1, "%zu errors, the first: %s", e.n,
		     e.e[0].reason);
	cr_assert_eq(e.e[0].line, line, "line %u, reason %s", e.e[0].line,
		     e.e[0].reason);
	cr_assert(strstr(e.e[0].reason, want), "reason \"%s\" lacks \"%s\"",
		  e.e[0].reason, want);
}

static void refused(const char *text, unsigned line, const char *want)
{
	assert_refused(text, strlen(text), line, want);
}

/* ... and the mode that results. */
static void refused_mode(const char *text, unsigned line, const char *want,
			 int mode)
{
	refused(text, line, want);
	cr_assert_eq(c.global.mode, mode, "%s: mode %d", text, c.global.mode);
}

Test(config, empty_text_gives_defaults)
{
	cr_assert_eq(config_parse("", 0, &c, &e), 0);
	assert_defaults();
	cr_assert_eq(parse("\n\n   \n\t\n# only a comment\n  # another\n"), 0);
	assert_defaults();
}

Test(config, every_global_key_and_value)
{
	cr_assert_eq(parse("mode = off\n"), 0);
	cr_assert_eq(c.global.mode, MODE_OFF);
	cr_assert_eq(parse("mode = observe\n"), 0);
	cr_assert_eq(c.global.mode, MODE_OBSERVE);
	cr_assert_eq(parse("mode = protect\n"), 0);
	cr_assert_eq(c.global.mode, MODE_PROTECT);
	cr_assert_eq(parse("conflicts = fd\n"), 0);
	cr_assert_eq(c.global.conflicts_fd, 1);
	cr_assert_eq(parse("conflicts = process\n"), 0);
	cr_assert_eq(c.global.conflicts_fd, 0);
	cr_assert_eq(parse("backend = anchor\n"), 0);
	cr_assert_eq(c.global.backend, BACKEND_ANCHOR);
	cr_assert_eq(parse("backend = posix\n"), 0);
	cr_assert_eq(c.global.backend, BACKEND_POSIX);
	cr_assert_eq(parse("log = syslog\n"), 0);
	cr_assert_eq(c.log_dest, LOGD_SYSLOG);
	cr_assert_eq(parse("log = stderr\n"), 0);
	cr_assert_eq(c.log_dest, LOGD_STDERR);
	cr_assert_eq(parse("log = /var/log/lockspace.log\n"), 0);
	cr_assert_eq(c.log_dest, LOGD_FILE);
	cr_assert_str_eq(c.log_path, "/var/log/lockspace.log");
	cr_assert_eq(parse("log-level = error"), 0);
	cr_assert_eq(c.log_level, LOGL_ERROR);
	cr_assert_eq(parse("log-level = warning"), 0);
	cr_assert_eq(c.log_level, LOGL_WARNING);
	cr_assert_eq(parse("log-level = notice"), 0);
	cr_assert_eq(c.log_level, LOGL_NOTICE);
	cr_assert_eq(parse("log-level = info"), 0);
	cr_assert_eq(c.log_level, LOGL_INFO);
	cr_assert_eq(parse("log-level = debug"), 0);
	cr_assert_eq(c.log_level, LOGL_DEBUG);
	cr_assert_eq(parse("backtrace = on"), 0);
	cr_assert_eq(c.backtrace, 1);
	cr_assert_eq(parse("backtrace = off"), 0);
	cr_assert_eq(c.backtrace, 0);
	cr_assert_eq(parse("trace = /tmp/locks.json"), 0);
	cr_assert_str_eq(c.trace_path, "/tmp/locks.json");
	cr_assert_eq(parse("trace = /tmp/locks.json\ntrace = off"), 0);
	cr_assert_str_eq(c.trace_path, "");
	refused("trace = locks.json\n", 1, "for key \"trace\"");
	refused("[/a/*]\ntrace = /t.json\n", 2, "key \"trace\" is global");
}

Test(config, spaces_comments_crlf_and_last_line_without_newline)
{
	cr_assert_eq(parse("  \tmode=observe   # trailing comment\r\n"
			   "conflicts\t=\tfd\r\n"
			   "log-level = debug"), 0);
	cr_assert_eq(c.global.mode, MODE_OBSERVE);
	cr_assert_eq(c.global.conflicts_fd, 1);
	cr_assert_eq(c.log_level, LOGL_DEBUG);
}

Test(config, later_key_wins)
{
	cr_assert_eq(parse("mode = off\nmode = observe\n"), 0);
	cr_assert_eq(c.global.mode, MODE_OBSERVE);
}

Test(config, the_shipped_file_parses)
{
	char buf[8192];
	FILE *f = fopen(BUILD_DIR "/../lockspace-preload.conf", "r");
	size_t n;

	if (!f) /* B=build/asan and the like */
		f = fopen(BUILD_DIR "/../../lockspace-preload.conf", "r");
	if (!f)
		cr_skip_test("no lockspace-preload.conf above %s", BUILD_DIR);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_eq(config_parse(buf, n, &c, &e), 0, "line %u: %s",
		     e.e[0].line, e.e[0].reason);
}

Test(config, sections_first_match_wins_and_inherit_global)
{
	struct policy p;

	cr_assert_eq(parse("mode = observe\nconflicts = process\n"
			   "[/srv/db/a*]   # a comment\n"
			   "mode = protect\n"
			   "\n"
			   "[ /srv/db/* ]\n"
			   "conflicts = fd\n"
			   "backend = anchor\n"
			   "[/srv/*]\n"
			   "mode = off\n"), 0);
	cr_assert_eq(c.nrules, 3);
	config_lookup(&c, "/srv/db/a.db", &p);
	cr_assert_eq(p.mode, MODE_PROTECT);
	cr_assert_eq(p.conflicts_fd, 0); /* not set there: the global one */
	config_lookup(&c, "/srv/db/b.db", &p);
	cr_assert_eq(p.mode, MODE_OBSERVE);
	cr_assert_eq(p.conflicts_fd, 1);
	/* no FNM_PATHNAME: '*' also matches '/' */
	config_lookup(&c, "/srv/db/sub/b.db", &p);
	cr_assert_eq(p.conflicts_fd, 1);
	config_lookup(&c, "/srv/x", &p);
	cr_assert_eq(p.mode, MODE_OFF);
	config_lookup(&c, "/elsewhere", &p);
	cr_assert_eq(p.mode, MODE_OBSERVE);
	config_lookup(&c, NULL, &p);
	cr_assert_eq(p.mode, MODE_OBSERVE);
}

/* issue 20: the paths whose lock holders other tools name (dpkg's locks,
 * pidfiles) keep classic POSIX locks; the others keep the anchor. */
Test(config, backend_per_section_and_forced)
{
	struct policy p;
	char why[160];

	cr_assert_eq(parse("[/var/lib/dpkg/lock*]\nbackend = posix\n"
			   "[/run/*.pid]\nbackend = posix\nconflicts = fd\n"),
		     0);
	config_lookup(&c, "/var/lib/dpkg/lock-frontend", &p);
	cr_assert_eq(p.backend, BACKEND_POSIX);
	config_lookup(&c, "/run/sshd.pid", &p);
	cr_assert_eq(p.backend, BACKEND_POSIX);
	cr_assert_eq(p.conflicts_fd, 1);
	config_lookup(&c, "/var/lib/dpkg/status", &p);
	cr_assert_eq(p.backend, BACKEND_ANCHOR);
	cr_assert_eq(config_set(&c, "backend", "anchor", why, sizeof(why)),
		     0);
	c.forced |= CFG_BACKEND;
	config_lookup(&c, "/run/sshd.pid", &p);
	cr_assert_eq(p.backend, BACKEND_ANCHOR);
	cr_assert_eq(p.conflicts_fd, 1);
}

Test(config, bracket_expressions_in_patterns)
{
	struct policy p;

	cr_assert_eq(parse("[/data/[ab]*.db]\nconflicts = fd\n"), 0);
	cr_assert_str_eq(c.globs + c.rules[0].glob, "/data/[ab]*.db");
	config_lookup(&c, "/data/b1.db", &p);
	cr_assert_eq(p.conflicts_fd, 1);
	config_lookup(&c, "/data/c1.db", &p);
	cr_assert_eq(p.conflicts_fd, 0);
}

Test(config, forced_keys_beat_sections)
{
	struct policy p;
	char why[160];

	cr_assert_eq(parse("[/a/*]\nmode = off\nconflicts = fd\n"), 0);
	cr_assert_eq(config_set(&c, "mode", " observe ", why, sizeof(why)),
		     0);
	c.forced |= CFG_MODE;
	config_lookup(&c, "/a/x", &p);
	cr_assert_eq(p.mode, MODE_OBSERVE);
	cr_assert_eq(p.conflicts_fd, 1);
}

Test(config, config_set_refuses_bad_values)
{
	char why[160];

	cr_assert_eq(config_set(&c, "mode", "fast", why, sizeof(why)),
		     -EINVAL);
	cr_assert(strstr(why, "bad value \"fast\" for key \"mode\""), "%s",
		  why);
	cr_assert_eq(config_set(&c, "log", "relative.log", why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(config_set(&c, "log-level", "", why, sizeof(why)),
		     -EINVAL);
	cr_assert(strstr(why, "missing value"), "%s", why);
	cr_assert_eq(config_set(&c, "log", "/tmp/x.log", why, sizeof(why)), 0);
	cr_assert_eq(c.log_dest, LOGD_FILE);
}

Test(config, unknown_key)
{
	/* The mode line applies; the rest of the file too. */
	refused_mode("mode = observe\n\nspeed = fast\nconflicts = fd\n", 3,
		     "unknown key \"speed\"", MODE_OBSERVE);
	cr_assert_eq(c.global.conflicts_fd, 1);
	/* It may have been the mode line: observe, which changes least. */
	refused_mode("Mode = protect\n", 1, "unknown key \"Mode\"",
		     MODE_OBSERVE);
	cr_assert(strstr(e.e[0].reason, "no valid mode line among the global "
			 "keys: mode = observe"), "%s", e.e[0].reason);
	/* ... unless a mode line says otherwise, before or after. */
	refused_mode("mdoe = off\nmode = protect\n", 1, "unknown key",
		     MODE_PROTECT);
	refused_mode("mode = off\nmdoe = protect\n", 2, "unknown key",
		     MODE_OFF);
}

Test(config, bad_values)
{
	refused_mode("mode = fast\n", 1, "bad value \"fast\" for key \"mode\"",
		     MODE_OBSERVE);
	cr_assert(strstr(e.e[0].reason, "mode = observe"), "%s",
		  e.e[0].reason);
	refused_mode("mode = Protect\n", 1, "bad value \"Protect\"",
		     MODE_OBSERVE);
	/* A bad mode line stands where it is: a later one wins. */
	refused_mode("mode = fast\nmode = protect\n", 1, "bad value",
		     MODE_PROTECT);
	refused_mode("mode = off\nmode = fast\n", 2, "bad value",
		     MODE_OBSERVE);
	/* A bad value of another key keeps that key's default, and says
	 * nothing of the mode. */
	refused_mode("conflicts = thread\n", 1, "for key \"conflicts\"",
		     MODE_PROTECT);
	cr_assert_eq(c.global.conflicts_fd, 0);
	refused_mode("backend = ofd\n", 1, "bad value \"ofd\" for key "
		     "\"backend\" (expected anchor or posix)", MODE_PROTECT);
	cr_assert_eq(c.global.backend, BACKEND_ANCHOR);
	refused("log = file.log\n", 1, "for key \"log\"");
	cr_assert_eq(c.log_dest, LOGD_STDERR);
	refused("log-level = verbose\n", 1, "for key \"log-level\"");
	cr_assert_eq(c.log_level, LOGL_NOTICE);
	refused("backtrace = yes\n", 1, "for key \"backtrace\"");
	cr_assert_eq(c.backtrace, 0);
	refused_mode("mode =\n", 1, "missing value for key \"mode\"",
		     MODE_OBSERVE);
	refused_mode("mode = # nothing\n", 1, "missing value", MODE_OBSERVE);
	refused_mode("mode = on off\n", 1, "bad value \"on off\"",
		     MODE_OBSERVE);
}

/* Every bad line is reported, in order, and each is skipped. */
Test(config, every_bad_line_reported_and_the_rest_applies)
{
	cr_assert_eq(parse("mode = observe\nspeed = fast\n"
			   "conflicts = thread\nlog-level = info\n"
			   "nonsense\n[/a/*]\nconflicts = fd\n"
			   "log = syslog\n"), -EINVAL);
	cr_assert_eq(e.n, 4);
	cr_assert_eq(e.more, 0);
	cr_assert_eq(e.e[0].line, 2);
	cr_assert_eq(e.e[1].line, 3);
	cr_assert_eq(e.e[2].line, 5);
	cr_assert_eq(e.e[3].line, 8);
	cr_assert(strstr(e.e[3].reason, "is global"), "%s", e.e[3].reason);
	cr_assert_eq(c.global.mode, MODE_OBSERVE);
	cr_assert_eq(c.log_level, LOGL_INFO);
	cr_assert_eq(c.log_dest, LOGD_STDERR);
	cr_assert_eq(c.nrules, 1);
	cr_assert_eq(c.rules[0].pol.conflicts_fd, 1);
}

static int seen_by_fn;

static void count_err(void *arg, const struct config_err *err)
{
	(void)arg;
	(void)err;
	seen_by_fn++;
}

/* The log keeps CONFIG_ERRS_MAX of them and counts the rest; a checker
 * (lockspace-run --check-config) sees every one through fn. */
Test(config, many_errors_are_counted)
{
	char text[2000] = "";

	for (int i = 0; i < 40; i++)
		strcat(text, "bogus = 1\n");
	e.fn = count_err;
	seen_by_fn = 0;
	cr_assert_eq(parse(text), -EINVAL);
	cr_assert_eq(e.n, CONFIG_ERRS_MAX);
	cr_assert_eq(e.more, 40 - CONFIG_ERRS_MAX);
	cr_assert_eq(seen_by_fn, 40);
	cr_assert_eq(e.e[CONFIG_ERRS_MAX - 1].line, CONFIG_ERRS_MAX);
	cr_assert_eq(c.global.mode, MODE_OBSERVE);
	e.fn = NULL;
}

/* A section's mode follows the same rule inside the section. */
Test(config, section_scope_of_the_mode_rule)
{
	struct policy p;

	refused("[/a/*]\nmdoe = off\n", 2, "unknown key");
	cr_assert(strstr(e.e[0].reason, "in its section"), "%s",
		  e.e[0].reason);
	cr_assert_eq(c.global.mode, MODE_PROTECT);
	config_lookup(&c, "/a/x", &p);
	cr_assert_eq(p.mode, MODE_OBSERVE);
	config_lookup(&c, "/b/x", &p);
	cr_assert_eq(p.mode, MODE_PROTECT);
	refused("[/a/*]\nmode = off\nmdoe = x\n", 3, "unknown key");
	config_lookup(&c, "/a/x", &p);
	cr_assert_eq(p.mode, MODE_OFF);
	refused("[/a/*]\nmode = fast\n", 2, "bad value");
	config_lookup(&c, "/a/x", &p);
	cr_assert_eq(p.mode, MODE_OBSERVE);
}

/* A malformed header is skipped with its keys: they were meant for the
 * files it names, not for the scope before it. Those files get the global
 * keys, so the global mode turns observe unless a mode line sets it. */
Test(config, malformed_section_skipped_with_its_keys)
{
	struct policy p;

	refused_mode("[/srv/*\nmode = off\nconflicts = fd\n", 1,
		     "unterminated section", MODE_OBSERVE);
	cr_assert_eq(c.global.conflicts_fd, 0);
	cr_assert_eq(c.nrules, 0);
	refused_mode("mode = protect\n[/srv/*\nmode = off\n[/b/*]\n"
		     "conflicts = fd\n", 2, "unterminated section",
		     MODE_PROTECT);
	cr_assert_eq(c.nrules, 1);
	config_lookup(&c, "/b/x", &p);
	cr_assert_eq(p.mode, MODE_PROTECT);
	cr_assert_eq(p.conflicts_fd, 1);
	config_lookup(&c, "/srv/x", &p);
	cr_assert_eq(p.mode, MODE_PROTECT);
	cr_assert_eq(p.conflicts_fd, 0);
	/* Two bad headers in a row: each reported. */
	cr_assert_eq(parse("[\n[]\nmode = off\n"), -EINVAL);
	cr_assert_eq(e.n, 2);
	cr_assert_eq(c.global.mode, MODE_OBSERVE);
}

/* A path longer than log_path holds cannot fit on a line of the file, but
 * can come from LOCKSPACE_PRELOAD_LOG. */
Test(config, overlong_log_path)
{
	static char path[PATH_MAX + 1];
	char why[160];

	memset(path, 'a', PATH_MAX);
	path[0] = '/';
	cr_assert_eq(config_set(&c, "log", path, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "for key \"log\""), "%s", why);
	path[PATH_MAX - 1] = 0;
	cr_assert_eq(config_set(&c, "log", path, why, sizeof(why)), 0);
	cr_assert_eq(strlen(c.log_path), PATH_MAX - 1);
}

Test(config, syntax_errors)
{
	refused("mode observe\n", 1, "expected \"key = value\"");
	refused("= observe\n", 1, "missing key");
	refused("mode = observe\n[/srv/*\nmode = off\n", 2,
		"unterminated section");
	cr_assert_eq(c.global.mode, MODE_OBSERVE); /* not off */
	refused("[\n", 1, "unterminated section");
	refused("[]\n", 1, "empty section pattern");
	refused("[   ]\n", 1, "empty section pattern");
	refused("[/a/*] trailing\n", 1, "unterminated section");
}

Test(config, global_only_keys_in_a_section)
{
	refused("[/a/*]\nlog = syslog\n", 2, "key \"log\" is global");
	refused("[/a/*]\nlog-level = debug\n", 2, "key \"log-level\"");
	refused("[/a/*]\nbacktrace = on\n", 2, "key \"backtrace\"");
}

Test(config, overlong_line)
{
	static char text[CONFIG_LINE_MAX + 64];

	/* exactly CONFIG_LINE_MAX bytes is fine */
	memset(text, ' ', CONFIG_LINE_MAX);
	memcpy(text, "mode = off", 10);
	text[CONFIG_LINE_MAX] = '\n';
	cr_assert_eq(config_parse(text, CONFIG_LINE_MAX + 1, &c, &e), 0);
	cr_assert_eq(c.global.mode, MODE_OFF);
	config_free(&c);
	text[CONFIG_LINE_MAX] = ' ';
	text[CONFIG_LINE_MAX + 1] = '\n';
	assert_refused(text, CONFIG_LINE_MAX + 2, 1, "line longer than 4096");
	cr_assert_eq(c.global.mode, MODE_OBSERVE); /* it may have been one */
	/* ... and without a newline at the end of the text */
	assert_refused(text, CONFIG_LINE_MAX + 1, 1, "line longer than 4096");
}

Test(config, binary_garbage)
{
	static const char nul[] = "mode = off\nmo\0de = observe\n";
	static const char elf[] = "\x7f" "ELF\x02\x01\x01";

	assert_refused(nul, sizeof(nul) - 1, 2, "NUL byte at column 3");
	cr_assert_eq(c.global.mode, MODE_OFF); /* line 1 applies */
	assert_refused(elf, sizeof(elf) - 1, 1, "control character 0x7f");
	cr_assert_eq(c.global.mode, MODE_OBSERVE);
	refused("mode = off\x1b[0m\n", 1, "control character 0x1b");
}

Test(config, larger_than_the_limit)
{
	size_t len = CONFIG_SIZE_MAX + 1;
	char *big = malloc(len);

	cr_assert_not_null(big);
	memset(big, '\n', len);
	cr_assert_eq(config_parse(big, len, &c, &e), -EFBIG);
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.e[0].line, 0);
	cr_assert(strstr(e.e[0].reason, "larger than"));
	/* Nothing of it can be trusted: the mode that changes least. */
	cr_assert_eq(c.global.mode, MODE_OBSERVE);
	cr_assert_eq(c.nrules, 0);
	/* exactly the limit is fine */
	cr_assert_eq(config_parse(big, len - 1, &c, &e), 0);
	free(big);
}

Test(config, error_after_sections_keeps_them)
{
	refused("[/a]\nmode = off\n[/b]\nmode = observe\n[/c]\nbogus = 1\n",
		6, "unknown key \"bogus\"");
	cr_assert_eq(c.nrules, 3);
	cr_assert_eq(c.rules[0].pol.mode, MODE_OFF);
	cr_assert_eq(c.rules[2].pol.mode, MODE_OBSERVE);
}

Test(config, long_words_are_cut_in_messages)
{
	char text[600];

	memset(text, 'k', 500);
	memcpy(text + 500, " = 1\n", 6);
	refused(text, 1, "unknown key \"kkkk");
	cr_assert_lt(strlen(e.e[0].reason), 200);
}

/* The smallest corners of the grammar. tests/fuzz/fuzz_config.c found no
 * failure in 13 million runs (5.5 minutes); inputs it finds go here. */
Test(config, fuzz_regressions)
{
	static const struct {
		const char *text;
		size_t len;
	} cases[] = {
		{"[", 1},
		{"]", 1},
		{"=", 1},
		{"[]", 2},
		{"#\n[", 3},
		{"\r", 1},
		{"[\r]\n", 4},
		{"mode=\r", 6},
		{"[x]\n=", 5},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_free(&c);
		config_parse(cases[i].text, cases[i].len, &c, &e);
		for (size_t j = 0; j < e.n; j++)
			cr_assert_lt(strlen(e.e[j].reason),
				     sizeof(e.e[j].reason));
	}
}
