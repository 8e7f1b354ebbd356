/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_fuzz_regress.c: every input of the fuzz corpora and crash
 * directories (tests/fuzz/{corpus,crash}_{handoff,import}/), fed again to
 * the parsers with the fuzz targets' own checks, so that a crasher found
 * once stays fixed. The pure hand-over reader and writer are compiled in
 * (through fuzz_handoff.c, which includes ../shim/handoff.c); lockspace_import
 * comes from liblockspace.a. A failed check aborts: Criterion reports the
 * test as crashed, and stderr names the input.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

#define LLVMFuzzerTestOneInput fuzz_handoff_one
#include "fuzz/fuzz_handoff.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_import_one
#include "fuzz/fuzz_import.c"
#undef LLVMFuzzerTestOneInput

int fuzz_handoff_one(const uint8_t *data, size_t size);
int fuzz_import_one(const uint8_t *data, size_t size);

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

/* tests/fuzz/NAME, found from the build directory like tests/real. */
static const char *fuzz_dir(const char *name)
{
	static __thread char buf[4096];
	static const char *const cands[] = { "/../tests/fuzz/",
					     "/../../tests/fuzz/" };
	struct stat st;

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s%s", BUILD_DIR, cands[i], name);
		if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
			return buf;
	}
	snprintf(buf, sizeof(buf), "tests/fuzz/%s", name);
	return buf;
}

static uint8_t *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	cr_assert_not_null(f, "%s: %m", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n ? (size_t)n : 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n, "%s", path);
	fclose(f);
	*size = (size_t)n;
	return buf;
}

/* Feed every file of tests/fuzz/NAME to fn; returns how many (0 when the
 * directory does not exist: crash directories appear with a crasher). */
static int feed_dir(const char *name, fuzz_fn fn)
{
	char path[8192];
	const char *dir = fuzz_dir(name);
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		uint8_t *data;
		size_t size;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		cr_log_info("%s", path);
		data = slurp(path, &size);
		fn(data, size);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

TestSuite(fuzzregress, .timeout = 30);

Test(fuzzregress, handoff_corpus_and_crashers)
{
	cr_expect_gt(feed_dir("corpus_handoff", fuzz_handoff_one), 0);
	feed_dir("crash_handoff", fuzz_handoff_one);
}

Test(fuzzregress, import_corpus_and_crashers)
{
	cr_expect_gt(feed_dir("corpus_import", fuzz_import_one), 0);
	feed_dir("crash_import", fuzz_import_one);
}

/* The shim's own output (a real hand-over of four files) parses back,
 * and writes back to the same text. */
Test(fuzzregress, handoff_real_table_parses)
{
	char path[8192], *text;
	struct handoff h;
	const char *why = NULL;
	size_t size, len;
	uint8_t *data;

	snprintf(path, sizeof(path), "%s/shim_4files.txt",
		 fuzz_dir("corpus_handoff"));
	data = slurp(path, &size);
	while (size && data[size - 1] == '\n')
		size--;
	cr_assert_eq(handoff_parse((char *)data, size, FUZZ_PID, FUZZ_FDMAX,
				   &h, &why), 0, "%s", why);
	cr_expect_eq(h.nf, 4);
	cr_expect_eq(h.f[2].nh, 2);
	cr_expect_eq(h.f[2].map[2].start, 600);
	cr_expect_eq(h.nd, 0);
	text = handoff_emit(&h, &len);
	cr_assert_not_null(text);
	cr_expect(len == size && !memcmp(text, data, size),
		  "emitted:\n%s\nread:\n%.*s", text, (int)size, data);
	free(text);
	handoff_free(&h);
	free(data);
}

/* A hand-over with files under backend = posix (issue 20): their maps,
 * holders and kept descriptors parse back and write back to the text. */
Test(fuzzregress, handoff_posix_section_round_trips)
{
	char path[8192], *text;
	struct handoff h;
	const char *why = NULL;
	size_t size, len;
	uint8_t *data;

	snprintf(path, sizeof(path), "%s/posix_1file.txt",
		 fuzz_dir("corpus_handoff"));
	data = slurp(path, &size);
	cr_assert_eq(handoff_parse((char *)data, size, FUZZ_PID, FUZZ_FDMAX,
				   &h, &why), 0, "%s", why);
	cr_expect_eq(h.nf, 1);
	cr_expect_eq(h.nd, 1);
	cr_assert_eq(h.np, 1);
	cr_expect_eq(h.p[0].ino, 10960135);
	cr_expect_eq(h.p[0].nmap, 2);
	cr_expect_eq(h.p[0].map[1].type, LSR_RDLCK);
	cr_expect_eq(h.p[0].nh, 2);
	cr_expect_eq(h.p[0].h[1].fds[0], 6);
	cr_assert_eq(h.p[0].nk, 2);
	cr_expect(h.p[0].kept[0] == 7 && h.p[0].kept[1] == 8);
	text = handoff_emit(&h, &len);
	cr_assert_not_null(text);
	cr_expect(len == size && !memcmp(text, data, size),
		  "emitted:\n%s\nread:\n%.*s", text, (int)size, data);
	free(text);
	handoff_free(&h);
	free(data);
}

/* Inode and device numbers past 2^63 (a FUSE filesystem's) go through:
 * the writer and the parser agree on unsigned 64-bit. */
Test(fuzzregress, handoff_inode_past_int64_max_round_trips)
{
	struct hf_range map = {0, 9, LSR_WRLCK};
	int fds[1] = {7};
	struct hf_span span = {0, 9};
	struct hf_holder holder = {O_RDWR, 1, fds, 1, &span};
	struct hf_file file = {UINT64_MAX - 1, 9223372036854775808ull, 300, 1,
			       1, &map, 1, &holder};
	struct handoff h = {FUZZ_PID, 1, &file, 0, NULL, 0, NULL}, back;
	const char *why = NULL;
	size_t len;
	char *text = handoff_emit(&h, &len);

	cr_assert_not_null(text);
	cr_assert_eq(handoff_parse(text, len, FUZZ_PID, FUZZ_FDMAX, &back,
				   &why), 0, "%s: %s", text, why);
	cr_expect_eq(back.f[0].ino, 9223372036854775808ull);
	cr_expect_eq(back.f[0].dev, UINT64_MAX - 1);
	cr_expect(same_handoff(&h, &back));
	free(text);
	handoff_free(&back);
}

/* The fixture makes the seeds importable: the target reaches past the
 * syntax into the checks against the system and the adoption. */
Test(fuzzregress, import_seed_is_adopted)
{
	static const char seed[] =
		"lockspace/1\ndir @D@\n"
		"resource fd=240 shared=0 autocreate=0 owners=100 spares= "
		"path=@D@/a\n"
		"resource fd=241 shared=1 autocreate=0 owners=1,2,3 "
		"spares=244 path=@D@/b\nend\n";
	struct lockspace *ls;
	char *s;

	fx_setup();
	s = expand((const uint8_t *)seed, sizeof(seed) - 1);
	cr_assert_not_null(s);
	ls = lockspace_import(s);
	cr_assert_not_null(ls, "import: %m");
	cr_expect_str_eq(lockspace_dir(ls), fx_dir);
	cr_expect_eq(lockspace_release(ls, "b", 2), 0);
	lockspace_free(ls);
	cr_expect_eq(fcntl(FX_FD, F_GETFD), -1, "fd 240 not closed by free");
	free(s);
}
