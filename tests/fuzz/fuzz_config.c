/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz_config.c: libFuzzer target over config_parse().
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Ishim -o build/fuzz_config tests/fuzz/fuzz_config.c
 *   build/fuzz_config -max_total_time=60 tests/fuzz/corpus_config
 *
 * Beyond "no crash": every error names a line inside the text and a
 * reason; a text refused as a whole (-EFBIG) leaves the defaults with
 * mode = observe; whatever applies gives in-range values, and every
 * rule's pattern ends in its NUL inside globs. Each config is looked up
 * once, too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/config_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	static struct config_errs e;
	struct policy p;
	size_t lines = 1;
	int rc;

	rc = config_parse((const char *)data, size, &c, &e);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	for (size_t i = 0; i < e.n; i++)
		if (!e.e[i].reason[0] || e.e[i].line > lines)
			abort();
	if (rc && !e.n)
		abort();
	if (rc == -EFBIG) {
		if (c.nrules || c.rules || c.global.mode != MODE_OBSERVE)
			abort();
		return 0;
	}
	if (c.global.mode < MODE_OFF || c.global.mode > MODE_PROTECT ||
	    c.log_level < LOGL_ERROR || c.log_level > LOGL_DEBUG ||
	    (c.log_dest == LOGD_FILE && c.log_path[0] != '/'))
		abort();
	for (size_t i = 0; i < c.nrules; i++) {
		const struct config_rule *r = &c.rules[i];

		if (r->glob >= c.globs_len ||
		    !memchr(c.globs + r->glob, 0, c.globs_len - r->glob))
			abort();
	}
	config_lookup(&c, "/var/lib/legacy/a.db", &p);
	config_free(&c);
	return 0;
}
