/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * examples/imagelock.c: lock a disk image the way libvirt's virtlockd
 * does, by the SHA-256 of its canonical path, in a lockspace directory.
 *
 *   imagelock DIR IMAGE-PATH [--shared]
 *
 * Prints "locked DIR/HASH" and holds the lock until SIGINT, SIGTERM or
 * end of standard input; prints "busy" and exits 1 when someone else
 * holds it. Two names of one image (a symlink, "a/../b") hash the same
 * because the path is canonicalised with realpath(3) first.
 *
 * SHA-256 is written out here (FIPS 180-4, about 80 lines) rather than
 * taken from a Debian-packaged library (libssl, libgcrypt, nettle): an
 * example should build with nothing but libc and liblockspace, and the
 * hash needs no speed or side-channel care for a file name.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lockspace.h"

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------- */

struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	uint64_t len; /* bytes hashed */
};

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
	return x >> n | x << (32 - n);
}

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], v[8], t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] + w[i - 7] +
		       (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^
			w[i - 15] >> 3) +
		       (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ w[i - 2] >> 10);
	memcpy(v, s->h, sizeof(v));
	for (i = 0; i < 64; i++) {
		t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
		     ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha_k[i] + w[i];
		t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
		     ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		memmove(v + 1, v, 7 * sizeof(*v));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++)
		s->h[i] += v[i];
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t n)
{
	const uint8_t *p = data;

	while (n--) {
		s->buf[s->len++ % 64] = *p++;
		if (s->len % 64 == 0)
			sha256_block(s, s->buf);
	}
}

/* The digest as 64 lowercase hex digits and a NUL. */
static void sha256_hex(struct sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, be[8];
	int i;

	sha256_update(s, &pad, 1);
	pad = 0;
	while (s->len % 64 != 56)
		sha256_update(s, &pad, 1);
	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, be, 8);
	for (i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

/* ---- the command ------------------------------------------------- */

/* Wait for SIGINT, SIGTERM or end of standard input. */
static int wait_for_release(void)
{
	struct pollfd pfd[2];
	char buf[256];
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	pfd[0].fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (pfd[0].fd < 0)
		return -errno;
	pfd[0].events = POLLIN;
	pfd[1].fd = 0;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return -errno;
		if (pfd[0].revents)
			return 0;
		if (pfd[1].revents && read(0, buf, sizeof(buf)) <= 0)
			return 0;
	}
}

int main(int argc, char **argv)
{
	unsigned flags = LOCKSPACE_AUTOCREATE;
	struct lockspace *ls;
	struct sha256 sha;
	char hash[65], *image;
	int rc;

	if (argc == 4 && !strcmp(argv[3], "--shared"))
		flags |= LOCKSPACE_SHARED;
	else if (argc != 3) {
		fprintf(stderr, "usage: %s DIR IMAGE-PATH [--shared]\n",
			argv[0]);
		return 2;
	}
	image = realpath(argv[2], NULL);
	if (!image) {
		fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	sha256_init(&sha);
	sha256_update(&sha, image, strlen(image));
	sha256_hex(&sha, hash);
	ls = lockspace_new(argv[1]);
	if (!ls) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	rc = lockspace_acquire(ls, hash, getpid(), flags);
	if (rc == -EBUSY) {
		printf("busy\n");
		lockspace_free(ls);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "%s/%s: %s\n", lockspace_dir(ls), hash,
			strerror(-rc));
		lockspace_free(ls);
		return 2;
	}
	printf("locked %s/%s (%s%s)\n", lockspace_dir(ls), hash, image,
	       flags & LOCKSPACE_SHARED ? ", shared" : "");
	fflush(stdout);
	rc = wait_for_release();
	lockspace_free(ls);
	free(image);
	printf("released\n");
	return rc ? 2 : 0;
}
