/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_contract.c: the shim against a model of the contract, in
 * one process (tests/progs/contract.c), for several seeds; among what it
 * covers: dups made before the first lock keep the lock alive until the
 * last of them is closed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

Test(contract, random_steps_match_the_model_under_the_shim, .timeout = 120)
{
	for (int seed = 1; seed <= 6; seed++) {
		char arg[16], out[4096];
		const char *argv[] = {tu_prog("contract"), arg, NULL};
		int st;

		snprintf(arg, sizeof(arg), "%d", seed);
		st = tu_run(1, argv, NULL, out, sizeof(out));
		cr_assert_eq(st, 0, "seed %d: status %d\n%s", seed, st, out);
		cr_assert(strstr(out, " ok"), "seed %d:\n%s", seed, out);
	}
}
