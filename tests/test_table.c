/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_table.c: the lock table of core/table.c: holders, releases,
 * process-wide unlock, conflicts, and a random run against a byte model. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"

static struct lsr_pool pool;
static struct lst_table table;
static struct lst_file *file;

static void setup(void)
{
	memset(&pool, 0, sizeof(pool));
	lst_table_init(&table);
	file = malloc(sizeof(*file));
	lst_file_init(file, 1, 42);
	lst_table_insert(&table, file);
}

static void teardown(void)
{
	lst_table_remove(&table, file);
	lst_file_clear(file, &pool);
	free(file);
	lsr_pool_trim(&pool, 0);
}

static void lock(uint64_t h, int64_t s, int64_t e, int type)
{
	cr_assert_eq(lst_prepare_lock(file, &pool, h), 0);
	lst_lock(file, &pool, h, s, e, type);
	cr_assert_eq(lst_file_check(file), 0);
}

static void unlock(int64_t s, int64_t e)
{
	cr_assert_eq(lst_prepare_unlock(file, &pool), 0);
	lst_unlock(file, &pool, s, e);
	cr_assert_eq(lst_file_check(file), 0);
}

static char freed[512];

static void freed_fn(void *arg, int64_t s, int64_t e)
{
	size_t len = strlen(freed);

	(void)arg;
	snprintf(freed + len, sizeof(freed) - len, "%s%lld-%lld",
		 len ? " " : "", (long long)s,
		 e == LSR_OFF_MAX ? -1LL : (long long)e);
}

static const char *release(uint64_t h)
{
	freed[0] = 0;
	cr_assert_eq(lst_release(file, &pool, h, freed_fn, NULL), 0);
	cr_assert_eq(lst_file_check(file), 0);
	return freed;
}

static int map_step(void *arg, int64_t s, int64_t e, int type)
{
	char *buf = arg;
	size_t len = strlen(buf);

	snprintf(buf + len, 512 - len, "%s%c%lld-%lld", len ? " " : "",
		 type == LSR_WRLCK ? 'W' : 'R', (long long)s,
		 e == LSR_OFF_MAX ? -1LL : (long long)e);
	return 0;
}

static const char *map(void)
{
	static char buf[512];

	buf[0] = 0;
	lsr_set_visit(&file->map, 0, LSR_OFF_MAX, map_step, buf);
	return buf;
}

TestSuite(table, .init = setup, .fini = teardown);

Test(table, lookup_by_dev_and_ino)
{
	struct lst_file other;

	cr_assert_eq(lst_table_find(&table, 1, 42), file);
	cr_assert_null(lst_table_find(&table, 2, 42));
	cr_assert_null(lst_table_find(&table, 1, 43));
	lst_file_init(&other, 2, 42);
	lst_table_insert(&table, &other);
	cr_assert_eq(lst_table_find(&table, 2, 42), &other);
	cr_assert_eq(lst_table_count(&table), 2);
	lst_table_remove(&table, &other);
	cr_assert_null(lst_table_find(&table, 2, 42));
}

Test(table, two_holders_one_range_survives_one_release)
{
	lock(1, 0, LSR_OFF_MAX, LSR_WRLCK);
	lock(2, 0, LSR_OFF_MAX, LSR_WRLCK);
	cr_assert_str_eq(release(2), "");
	cr_assert_str_eq(map(), "W0--1");
	cr_assert_str_eq(release(1), "0--1");
	cr_assert_str_eq(map(), "");
	cr_assert(lst_file_empty(file));
}

Test(table, release_frees_only_what_nobody_else_holds)
{
	lock(1, 0, 99, LSR_WRLCK);
	lock(2, 10, 19, LSR_WRLCK);
	lock(3, 50, 59, LSR_WRLCK);
	lock(3, 60, 69, LSR_WRLCK);
	cr_assert_str_eq(map(), "W0-99");
	cr_assert_str_eq(release(1), "0-9 20-49 70-99");
	cr_assert_str_eq(map(), "W10-19 W50-69");
}

Test(table, runs_spanning_several_holders)
{
	lock(1, 0, 99, LSR_RDLCK);
	lock(2, 10, 29, LSR_RDLCK);
	lock(3, 30, 49, LSR_RDLCK);
	cr_assert_str_eq(release(1), "0-9 50-99");
	cr_assert_str_eq(map(), "R10-49");
}

Test(table, type_is_process_wide)
{
	lock(1, 0, 99, LSR_RDLCK);
	lock(2, 40, 59, LSR_WRLCK);
	cr_assert_str_eq(map(), "R0-39 W40-59 R60-99");
	/* Holder 1 still holds 40-59: the latest request set its type. */
	cr_assert_str_eq(release(2), "");
	cr_assert_str_eq(map(), "R0-39 W40-59 R60-99");
	cr_assert_str_eq(release(1), "0-99");
}

Test(table, unlock_through_any_holder_is_process_wide)
{
	lock(1, 0, 99, LSR_WRLCK);
	lock(2, 50, 149, LSR_WRLCK);
	unlock(40, 109);
	cr_assert_str_eq(map(), "W0-39 W110-149");
	cr_assert_str_eq(release(2), "110-149");
	cr_assert_str_eq(release(1), "0-39");
}

Test(table, unknown_holder_releases_nothing)
{
	lock(1, 0, 9, LSR_WRLCK);
	cr_assert_str_eq(release(7), "");
	cr_assert_str_eq(map(), "W0-9");
}

Test(table, holder_with_nothing_left_is_kept_until_released)
{
	lock(1, 0, 9, LSR_WRLCK);
	unlock(0, 9);
	cr_assert_not(lst_holder_holds(file, 1));
	cr_assert_not_null(lst_holder_ranges(file, 1));
	cr_assert_not(lst_file_empty(file));
	cr_assert_str_eq(release(1), "");
	cr_assert(lst_file_empty(file));
}

Test(table, conflicts_between_holders)
{
	struct lst_conflict c;

	lock(1, 0, 9, LSR_RDLCK);
	lock(2, 20, 29, LSR_WRLCK);
	/* Read against read: none. Own ranges: none. */
	cr_assert_eq(lst_conflict(file, 2, 0, 9, LSR_RDLCK, &c), 0);
	cr_assert_eq(lst_conflict(file, 1, 0, 9, LSR_WRLCK, &c), 0);
	cr_assert_eq(lst_conflict(file, 3, 10, 19, LSR_WRLCK, &c), 0);
	/* Write against read. */
	cr_assert_eq(lst_conflict(file, 2, 5, 24, LSR_WRLCK, &c), 1);
	cr_assert(c.holder == 1 && c.start == 5 && c.end == 9);
	cr_assert_eq(c.type, LSR_RDLCK);
	/* Read against write. */
	cr_assert_eq(lst_conflict(file, 1, 25, 100, LSR_RDLCK, &c), 1);
	cr_assert(c.holder == 2 && c.start == 25 && c.end == 29);
	cr_assert_eq(c.type, LSR_WRLCK);
}

Test(table, conflict_looks_at_every_range_of_a_holder)
{
	struct lst_conflict c;

	lock(1, 0, 9, LSR_RDLCK);
	lock(1, 100, 109, LSR_RDLCK);
	cr_assert_eq(lst_conflict(file, 2, 50, 200, LSR_WRLCK, &c), 1);
	cr_assert(c.start == 100 && c.end == 109);
}

Test(table, only_holder_keeps_no_set_of_its_own)
{
	lock(1, 0, 9, LSR_RDLCK);
	lock(1, 20, 29, LSR_WRLCK);
	cr_assert(file->sole == 1 && !file->holders);
	cr_assert_eq(lst_holder_ranges(file, 1), &file->map);
	cr_assert(lst_holder_holds(file, 1) && lst_only_holder(file, 1));
	/* a second holder writes the first one's set out */
	lock(2, 5, 24, LSR_WRLCK);
	cr_assert(!file->sole && !lst_only_holder(file, 1));
	cr_assert_eq(lst_holder_ranges(file, 1)->count, 2);
	cr_assert_eq(lst_holder_ranges(file, 2)->count, 1);
	cr_assert_str_eq(map(), "R0-4 W5-29");
	/* and its release drops it again */
	cr_assert_str_eq(release(2), "10-19");
	cr_assert(file->sole == 1 && !file->holders);
	cr_assert_str_eq(map(), "R0-4 W5-9 W20-29");
	/* the last release frees each run of touching ranges at once */
	lock(1, 30, 39, LSR_RDLCK);
	cr_assert_str_eq(release(1), "0-9 20-39");
	cr_assert(lst_file_empty(file));
}

Test(table, many_files_found_iterated_and_removed)
{
	enum { N = 3000 };
	static struct lst_file f[N];
	struct lst_table t;
	struct lst_file *it;
	static char seen[N], removed[N];
	size_t i, n;

	lst_table_init(&t);
	for (i = 0; i < N; i++) {
		/* keys that share a device and crowd one inode range */
		lst_file_init(&f[i], 1 + i % 3, 1000 + i / 3);
		cr_assert_eq(lst_table_insert(&t, &f[i]), 0);
	}
	cr_assert_eq(lst_table_count(&t), N);
	memset(seen, 0, sizeof(seen));
	for (i = 0, n = 0; (it = lst_table_next(&t, &i)); n++)
		seen[it - f]++;
	cr_assert_eq(n, N);
	for (i = 0; i < N; i++)
		cr_assert_eq(seen[i], 1);
	/* remove half, in an order unrelated to the slots */
	memset(removed, 0, sizeof(removed));
	for (i = 0; i < N; i += 2) {
		lst_table_remove(&t, &f[i * 7919 % N]);
		removed[i * 7919 % N] = 1;
	}
	for (i = 0; i < N; i++)
		cr_assert_eq(lst_table_find(&t, f[i].key.dev, f[i].key.ino),
			     removed[i] ? NULL : &f[i], "file %zu", i);
	cr_assert_eq(lst_table_count(&t), N / 2);
	lst_table_remove(&t, &f[0]); /* not there: no change */
	cr_assert_eq(lst_table_count(&t), N / 2);
	for (i = 0; i < N; i++)
		if (lst_table_find(&t, f[i].key.dev, f[i].key.ino))
			lst_table_remove(&t, &f[i]);
	cr_assert_eq(lst_table_count(&t), 0);
	i = 0;
	cr_assert_null(lst_table_next(&t, &i));
	lst_table_free(&t);
}

Test(table, clear_drops_everything)
{
	lock(1, 0, 9, LSR_RDLCK);
	lock(2, 5, 19, LSR_WRLCK);
	lst_file_clear(file, &pool);
	cr_assert(lst_file_empty(file));
}

/* ---- random run against a byte-by-byte model ----------------------- */

#define NB 48 /* bytes modelled; byte NB-1 stands for NB-1..LSR_OFF_MAX */
#define NH 4

static int mtype[NB];
static unsigned mmask[NB];

static int64_t hi(int b)
{
	return b == NB - 1 ? LSR_OFF_MAX : b;
}

static char mfreed[NB];

static void model_freed(void *arg, int64_t s, int64_t e)
{
	int b;

	(void)arg;
	for (b = 0; b < NB; b++)
		if (b >= s && hi(b) <= e)
			mfreed[b]++;
}

static void compare_with_model(unsigned seed, int step)
{
	int b, h;

	for (b = 0; b < NB; b++) {
		int t = lsr_set_type_at(&file->map, b);

		cr_assert_eq(t, mtype[b], "seed %u step %d byte %d: %d != %d",
			     seed, step, b, t, mtype[b]);
		for (h = 0; h < NH; h++) {
			const struct lsr_set *hs = lst_holder_ranges(file,
								     h + 1);
			int held = hs && lsr_set_type_at(hs, b);

			cr_assert_eq(held, !!(mmask[b] & (1u << h)),
				     "seed %u step %d byte %d holder %d", seed,
				     step, b, h);
		}
	}
	cr_assert_eq(lst_file_check(file), 0, "seed %u step %d", seed, step);
}

Test(table, random_against_byte_model)
{
	unsigned seed = (unsigned)time(NULL), s0;
	int step, b;

	if (getenv("LOCKSPACE_TEST_SEED"))
		seed = (unsigned)atoi(getenv("LOCKSPACE_TEST_SEED"));
	s0 = seed;
	srand(seed);
	memset(mtype, 0, sizeof(mtype));
	memset(mmask, 0, sizeof(mmask));
	for (step = 0; step < 20000; step++) {
		/* phases of 1 to NH holders: the only holder's implicit
		 * set is written out and dropped again and again */
		int op = rand() % 10, h = rand() % (1 + step / 1000 % NH);
		int s = rand() % NB, e = s + rand() % (NB - s);
		int t = rand() % 2 ? LSR_WRLCK : LSR_RDLCK;

		if (op < 6) {
			struct lst_conflict c;
			int want = 0;

			for (b = s; b <= e; b++)
				if ((mmask[b] & ~(1u << h)) &&
				    (t == LSR_WRLCK || mtype[b] == LSR_WRLCK))
					want = 1;
			cr_assert_eq(lst_conflict(file, h + 1, s, hi(e), t, &c),
				     want, "seed %u step %d conflict", s0,
				     step);
			if (want)
				cr_assert(c.start >= s && c.end <= hi(e) &&
					  c.holder != (uint64_t)h + 1);
			lock(h + 1, s, hi(e), t);
			for (b = s; b <= e; b++) {
				mtype[b] = t;
				mmask[b] |= 1u << h;
			}
		} else if (op < 8) {
			unlock(s, hi(e));
			for (b = s; b <= e; b++) {
				mtype[b] = 0;
				mmask[b] = 0;
			}
		} else {
			memset(mfreed, 0, sizeof(mfreed));
			cr_assert_eq(lst_release(file, &pool, h + 1,
						 model_freed, NULL), 0);
			for (b = 0; b < NB; b++) {
				int was = mmask[b] != 0;

				mmask[b] &= ~(1u << h);
				if (was && !mmask[b]) {
					mtype[b] = 0;
					cr_assert_eq(mfreed[b], 1,
						     "seed %u step %d", s0,
						     step);
				} else {
					cr_assert_eq(mfreed[b], 0,
						     "seed %u step %d", s0,
						     step);
				}
			}
		}
		compare_with_model(s0, step);
	}
}
