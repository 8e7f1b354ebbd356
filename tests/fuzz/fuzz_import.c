/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz_import.c: libFuzzer target over lockspace_import().
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Icore -o build/fuzz/fuzz_import tests/fuzz/fuzz_import.c core/[a-z]*.c
 *   build/fuzz/fuzz_import -dict=tests/fuzz/import.dict \
 *	tests/fuzz/corpus_import
 *
 * import checks its input against the system, so the target brings a
 * fixture the input can name: a directory (every "@D@" of the input is
 * replaced by its path) with regular files a, b, c, a subdirectory s and
 * a symlink l -> a, and descriptors of them at fixed numbers (FX_FD..).
 * The target only ever opens and closes its own descriptors: an input
 * that could name another one (through /proc or /dev) is skipped.
 *
 * Beyond "no crash": a refusal sets errno and leaves every descriptor as
 * it was (open or closed, FD_CLOEXEC); an accepted state gives a
 * lockspace whose directory is what the input said, which a second import
 * of the same state refuses (its files are held), which exports to a
 * well-formed state with as many resources, and which lockspace_free()
 * frees, closing only fixture descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockspace.h"

#define FX_FD 240
#define FX_N 6
#define SNAP_MAX 320

static char fx_dir[64];

/* name, flags of each fixture descriptor FX_FD + i */
static const struct {
	const char *name;
	int flags;
} fx[FX_N] = {
	{ "a", O_RDWR }, { "b", O_RDWR }, { "c", O_RDONLY },
	{ "a", O_RDONLY }, { "b", O_RDWR }, { ".", O_RDONLY | O_DIRECTORY },
};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_import: %s\n", what);
	abort();
}

static void fx_open(void)
{
	char path[128];
	int i, fd;

	for (i = 0; i < FX_N; i++) {
		close(FX_FD + i);
		snprintf(path, sizeof(path), "%s/%s", fx_dir, fx[i].name);
		if (!(fx[i].flags & O_DIRECTORY)) {
			fd = open(path, O_RDWR | O_CREAT, 0600);
			if (fd < 0)
				die("cannot create a fixture file");
			close(fd);
		}
		fd = open(path, fx[i].flags);
		if (fd < 0 || dup2(fd, FX_FD + i) != FX_FD + i)
			die("cannot open the fixture");
		close(fd);
	}
}

static void fx_remove(void)
{
	static const char *const names[] = { "a", "b", "c", "l", "s" };
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx_dir, names[i]);
		if (unlink(path))
			rmdir(path);
	}
	rmdir(fx_dir);
}

static void fx_setup(void)
{
	char tmpl[] = "/tmp/lsfuzz.XXXXXX", *real, path[128];

	if (!mkdtemp(tmpl))
		die("mkdtemp");
	real = realpath(tmpl, NULL);
	if (!real || strlen(real) >= sizeof(fx_dir))
		die("realpath");
	strcpy(fx_dir, real);
	free(real);
	snprintf(path, sizeof(path), "%s/s", fx_dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/l", fx_dir);
	if (symlink("a", path))
		die("symlink");
	fx_open();
	atexit(fx_remove);
}

/* Drop whatever locks a failed import took on the fixture. */
static void fx_unlock(void)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
	int i;

	for (i = 0; i < FX_N; i++)
		fcntl(FX_FD + i, F_SETLK, &fl);
}

static int fx_is(int fd)
{
	return fd >= FX_FD && fd < FX_FD + FX_N;
}

/* F_GETFD of every descriptor below SNAP_MAX (-1: closed). */
static void snap(int *s)
{
	for (int fd = 0; fd < SNAP_MAX; fd++)
		s[fd] = fcntl(fd, F_GETFD);
}

/* The input as a string, "@D@" replaced by the fixture's directory; NULL
 * for an input that could reach a descriptor outside the fixture. */
static char *expand(const uint8_t *data, size_t size)
{
	size_t dl = strlen(fx_dir), i, n = 0;
	char *s = malloc(size * dl + 1), *dec;

	for (i = 0; i < size && data[i]; i++) {
		if (i + 3 <= size && !memcmp(data + i, "@D@", 3)) {
			memcpy(s + n, fx_dir, dl);
			n += dl;
			i += 2;
		} else {
			s[n++] = (char)data[i];
		}
	}
	s[n] = 0;
	/* The same with %XX decoded, as import decodes paths. */
	dec = malloc(n + 1);
	for (i = 0, n = 0; s[i]; i++) {
		unsigned int c;

		if (s[i] == '%' && sscanf(s + i + 1, "%2X", &c) == 1 &&
		    s[i + 1] && s[i + 2]) {
			dec[n++] = c ? (char)c : '?';
			i += 2;
		} else {
			dec[n++] = s[i];
		}
	}
	dec[n] = 0;
	if (strstr(dec, "/proc") || strstr(dec, "/dev") ||
	    strstr(dec, "/sys")) {
		free(s);
		s = NULL;
	}
	free(dec);
	return s;
}

static size_t count_res(const char *s)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, "\nresource ")); p++)
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int before[SNAP_MAX], after[SNAP_MAX];
	struct lockspace *ls, *ls2;
	char *s, *e;
	size_t len;
	int fd;

	if (!fx_dir[0])
		fx_setup();
	s = expand(data, size);
	if (!s)
		return 0;
	snap(before);
	errno = 0;
	ls = lockspace_import(s);
	if (!ls) {
		if (!errno)
			die("refused without errno");
		snap(after);
		if (memcmp(before, after, sizeof(before)))
			die("a refused import changed a descriptor");
		fx_unlock();
		free(s);
		return 0;
	}
	if (!strncmp(s, "lockspace/1\ndir -\n", 18) != !lockspace_dir(ls))
		die("directory not as the state said");
	ls2 = lockspace_import(s);
	if (ls2 && count_res(s))
		die("a second import of held files succeeded");
	lockspace_free(ls2);
	e = lockspace_export(ls);
	if (!e)
		die("export of an imported lockspace failed");
	len = strlen(e);
	if (strncmp(e, "lockspace/1\ndir ", 16) || len < 4 ||
	    strcmp(e + len - 4, "end\n") || count_res(e) != count_res(s))
		die("export not well-formed");
	free(e);
	lockspace_free(ls);
	snap(after);
	for (fd = 0; fd < SNAP_MAX; fd++)
		if (!fx_is(fd) && (before[fd] < 0) != (after[fd] < 0))
			die("a descriptor outside the fixture was opened or closed");
	fx_open();
	free(s);
	return 0;
}
