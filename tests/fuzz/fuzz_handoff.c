/* tests/fuzz/fuzz_handoff.c: libFuzzer target over handoff_parse(), the
 * parser of the exec hand-over text (format in shim/exec.c).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Ishim -Icore -o build/fuzz/fuzz_handoff tests/fuzz/fuzz_handoff.c
 *   build/fuzz/fuzz_handoff -dict=tests/fuzz/handoff.dict \
 *	tests/fuzz/corpus_handoff
 *
 * The text must name pid FUZZ_PID and descriptors up to FUZZ_FDMAX. Beyond
 * "no crash": a refusal gives a reason; an accepted text gives files whose
 * anchors and descriptors are in [0, FUZZ_FDMAX], whose map is sorted,
 * disjoint, with start <= end and a lock type, and whose holders have
 * as many descriptors and ranges as they claim, each range with
 * start <= end, and whose dups are in [0, FUZZ_FDMAX]. No text has more
 * files, map entries, holder entries or dups than it has bytes for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/handoff_parse.c"

#define FUZZ_PID 4242
#define FUZZ_FDMAX 65535

static void check_file(const struct hf_file *f, size_t size)
{
	size_t j, k;

	if (f->anchor < 0 || f->anchor > FUZZ_FDMAX || (f->rw != 0 && f->rw != 1))
		abort();
	if (f->nmap > size || f->nh > size || (f->nmap && !f->map) ||
	    (f->nh && !f->h))
		abort();
	for (j = 0; j < f->nmap; j++) {
		const struct snap_range *m = &f->map[j];

		if (m->start < 0 || m->start > m->end ||
		    (m->type != LSR_RDLCK && m->type != LSR_WRLCK))
			abort();
		if (j && m->start <= f->map[j - 1].end)
			abort();
	}
	for (j = 0; j < f->nh; j++) {
		const struct hf_holder *h = &f->h[j];

		if (h->accmode < 0 || h->accmode > O_RDWR || h->nfds < 0 ||
		    (size_t)h->nfds > size || h->nr > size || !h->fds || !h->r)
			abort();
		for (k = 0; k < (size_t)h->nfds; k++)
			if (h->fds[k] < 0 || h->fds[k] > FUZZ_FDMAX)
				abort();
		for (k = 0; k < h->nr; k++)
			if (h->r[2 * k] < 0 || h->r[2 * k] > h->r[2 * k + 1])
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parser ps = {
		.p = (const char *)data,
		.end = (const char *)data + size,
	};
	struct hf_file *hf = NULL;
	size_t n = 0, nd = 0, i;
	int *dups = NULL;

	if (handoff_parse(&ps, FUZZ_PID, FUZZ_FDMAX, &hf, &n, &dups, &nd)) {
		if (!ps.why || !ps.why[0])
			abort();
		return 0;
	}
	if (ps.p != ps.end || n > size || !hf || nd > size || (nd && !dups))
		abort();
	for (i = 0; i < n; i++)
		check_file(&hf[i], size);
	for (i = 0; i < nd; i++)
		if (dups[i] < 0 || dups[i] > FUZZ_FDMAX)
			abort();
	handoff_free(hf, n);
	free(dups);
	return 0;
}
