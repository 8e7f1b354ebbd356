/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_range.c: the POSIX range algebra of core/range.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "range.h"

static struct lsr_pool pool;
static struct lsr_set set;

static void setup(void)
{
	memset(&pool, 0, sizeof(pool));
	lsr_set_init(&set);
}

static void teardown(void)
{
	lsr_set_clear(&set, &pool);
	lsr_pool_trim(&pool, 0);
}

static void apply(int64_t s, int64_t e, int type)
{
	cr_assert_eq(lsr_pool_fill(&pool, LSR_APPLY_NODES), 0);
	lsr_set_apply(&set, &pool, s, e, type);
}

static int dump_step(void *arg, int64_t s, int64_t e, int type)
{
	char *buf = arg;
	size_t len = strlen(buf);

	snprintf(buf + len, 512 - len, "%s%c%lld-%lld", len ? " " : "",
		 type == LSR_WRLCK ? 'W' : 'R', (long long)s,
		 e == LSR_OFF_MAX ? -1LL : (long long)e);
	return 0;
}

/* The set as text: "W0-39 R40-59 W60-99"; an end of -1 is LSR_OFF_MAX. */
static const char *dump(void)
{
	static char buf[512];

	buf[0] = 0;
	lsr_set_visit(&set, 0, LSR_OFF_MAX, dump_step, buf);
	return buf;
}

#define expect(str) cr_assert_str_eq(dump(), str)

TestSuite(range, .init = setup, .fini = teardown);

Test(range, single_lock)
{
	apply(10, 19, LSR_WRLCK);
	expect("W10-19");
	cr_assert_eq(set.count, 1);
}

Test(range, different_type_in_middle_splits)
{
	apply(0, 99, LSR_WRLCK);
	apply(40, 59, LSR_RDLCK);
	expect("W0-39 R40-59 W60-99");
	cr_assert_eq(set.count, 3);
}

Test(range, same_type_overlapping_merges)
{
	apply(0, 9, LSR_RDLCK);
	apply(5, 14, LSR_RDLCK);
	expect("R0-14");
}

Test(range, same_type_touching_merges_both_sides)
{
	apply(0, 9, LSR_RDLCK);
	apply(20, 29, LSR_RDLCK);
	apply(10, 19, LSR_RDLCK);
	expect("R0-29");
	cr_assert_eq(set.count, 1);
}

Test(range, different_type_touching_stays_apart)
{
	apply(0, 9, LSR_RDLCK);
	apply(10, 19, LSR_WRLCK);
	apply(20, 29, LSR_RDLCK);
	expect("R0-9 W10-19 R20-29");
}

Test(range, covering_request_swallows_ranges)
{
	apply(0, 9, LSR_RDLCK);
	apply(20, 29, LSR_WRLCK);
	apply(40, 49, LSR_RDLCK);
	apply(5, 44, LSR_WRLCK);
	expect("R0-4 W5-44 R45-49");
}

Test(range, conversion_of_whole_range)
{
	apply(0, 9, LSR_RDLCK);
	apply(0, 9, LSR_WRLCK);
	expect("W0-9");
	apply(0, 9, LSR_RDLCK);
	expect("R0-9");
}

Test(range, unlock_middle_splits)
{
	apply(0, 99, LSR_WRLCK);
	apply(40, 59, LSR_UNLCK);
	expect("W0-39 W60-99");
	cr_assert_eq(set.count, 2);
}

Test(range, unlock_edges_trims)
{
	apply(10, 19, LSR_WRLCK);
	apply(0, 12, LSR_UNLCK);
	apply(18, 30, LSR_UNLCK);
	expect("W13-17");
}

Test(range, unlock_across_several)
{
	apply(0, 9, LSR_RDLCK);
	apply(20, 29, LSR_WRLCK);
	apply(40, 49, LSR_RDLCK);
	apply(5, 44, LSR_UNLCK);
	expect("R0-4 R45-49");
	apply(0, LSR_OFF_MAX, LSR_UNLCK);
	expect("");
	cr_assert_eq(set.count, 0);
}

Test(range, unlock_of_nothing_is_nothing)
{
	apply(0, 9, LSR_UNLCK);
	expect("");
}

Test(range, to_end_of_file_and_largest_offsets)
{
	apply(100, LSR_OFF_MAX, LSR_WRLCK);
	expect("W100--1");
	apply(LSR_OFF_MAX, LSR_OFF_MAX, LSR_RDLCK);
	cr_assert_eq(lsr_set_type_at(&set, LSR_OFF_MAX), LSR_RDLCK);
	cr_assert_eq(lsr_set_type_at(&set, LSR_OFF_MAX - 1), LSR_WRLCK);
	apply(LSR_OFF_MAX - 1, LSR_OFF_MAX, LSR_UNLCK);
	cr_assert_eq(lsr_set_type_at(&set, LSR_OFF_MAX), LSR_UNLCK);
	cr_assert_eq(lsr_set_type_at(&set, LSR_OFF_MAX - 2), LSR_WRLCK);
	apply(0, LSR_OFF_MAX, LSR_RDLCK);
	expect("R0--1");
}

Test(range, covers_and_type_at)
{
	apply(0, 9, LSR_RDLCK);
	apply(10, 19, LSR_WRLCK);
	apply(30, 39, LSR_RDLCK);
	cr_assert(lsr_set_covers(&set, 0, 19));
	cr_assert(lsr_set_covers(&set, 5, 15));
	cr_assert_not(lsr_set_covers(&set, 0, 30));
	cr_assert_not(lsr_set_covers(&set, 20, 29));
	cr_assert_eq(lsr_set_type_at(&set, 25), LSR_UNLCK);
	cr_assert_eq(lsr_set_type_at(&set, 19), LSR_WRLCK);
}

Test(range, resolve_like_the_kernel)
{
	int64_t s, e;

	cr_assert_eq(lsr_resolve(0, 10, 5, &s, &e), 0);
	cr_assert(s == 10 && e == 14);
	cr_assert_eq(lsr_resolve(0, 10, 0, &s, &e), 0);
	cr_assert(s == 10 && e == LSR_OFF_MAX);
	/* Negative length: [start + len, start - 1]. */
	cr_assert_eq(lsr_resolve(0, 10, -4, &s, &e), 0);
	cr_assert(s == 6 && e == 9);
	cr_assert_eq(lsr_resolve(0, 10, -10, &s, &e), 0);
	cr_assert(s == 0 && e == 9);
	cr_assert_eq(lsr_resolve(0, 10, -11, &s, &e), -EINVAL);
	/* Base from SEEK_CUR or SEEK_END. */
	cr_assert_eq(lsr_resolve(100, -20, 10, &s, &e), 0);
	cr_assert(s == 80 && e == 89);
	cr_assert_eq(lsr_resolve(100, -101, 10, &s, &e), -EINVAL);
	cr_assert_eq(lsr_resolve(0, -1, 1, &s, &e), -EINVAL);
	/* Overflow. */
	cr_assert_eq(lsr_resolve(1, LSR_OFF_MAX, 1, &s, &e), -EOVERFLOW);
	cr_assert_eq(lsr_resolve(0, LSR_OFF_MAX, 2, &s, &e), -EOVERFLOW);
	cr_assert_eq(lsr_resolve(0, LSR_OFF_MAX, 1, &s, &e), 0);
	cr_assert(s == LSR_OFF_MAX && e == LSR_OFF_MAX);
	cr_assert_eq(lsr_resolve(0, 1, LSR_OFF_MAX, &s, &e), 0);
	cr_assert(s == 1 && e == LSR_OFF_MAX);
	cr_assert_eq(lsr_resolve(0, 2, LSR_OFF_MAX, &s, &e), -EOVERFLOW);
	cr_assert_eq(lsr_resolve(0, LSR_OFF_MAX, INT64_MIN, &s, &e), -EINVAL);
}

/* Many ranges: stays canonical and the tree stays usable. */
Test(range, many_ranges)
{
	int i;

	for (i = 0; i < 10000; i++)
		apply(i * 10, i * 10 + 4, i % 3 ? LSR_RDLCK : LSR_WRLCK);
	cr_assert_eq(set.count, 10000);
	for (i = 0; i < 10000; i++)
		apply(i * 10 + 5, i * 10 + 9, LSR_RDLCK);
	/* Every W 5-byte range now sits between R neighbours. */
	cr_assert_eq(lsr_set_type_at(&set, 2), LSR_WRLCK);
	cr_assert_eq(lsr_set_type_at(&set, 12), LSR_RDLCK);
	cr_assert(lsr_set_covers(&set, 0, 99999));
	apply(0, LSR_OFF_MAX, LSR_RDLCK);
	expect("R0--1");
}
