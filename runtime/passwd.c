/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"

/* Does LINE ("name:x:id:...") name NAME or carry ID in its third field? */
static bool entry_matches(const char *line, size_t len, const char *name, unsigned id)
{
	const char *c1 = memchr(line, ':', len), *c2, *c3;
	char num[16];
	size_t n;

	if (!c1)
		return false;
	if ((size_t)(c1 - line) == strlen(name) && memcmp(line, name, strlen(name)) == 0)
		return true;
	c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
	if (!c2)
		return false;
	c3 = memchr(c2 + 1, ':', len - (size_t)(c2 + 1 - line));
	n = (size_t)((c3 ? c3 : line + len) - (c2 + 1));
	snprintf(num, sizeof(num), "%u", id);
	return n == strlen(num) && memcmp(c2 + 1, num, n) == 0;
}

/* The image's lines, minus those that name the user or its id, then ENTRY. */
static char *merge(const char *image, const char *name, unsigned id, const char *entry)
{
	size_t cap = (image ? strlen(image) : 0) + strlen(entry) + 2, used = 0;
	char *out = malloc(cap);
	const char *p = image ? image : "";

	if (!out)
		return NULL;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 0 && !entry_matches(p, len, name, id)) {
			memcpy(out + used, p, len);
			used += len;
			out[used++] = '\n';
		}
		p += len + (nl ? 1 : 0);
	}
	memcpy(out + used, entry, strlen(entry) + 1);
	return out;
}

/* Fields must not break the file's format. */
static void clean(char *dst, size_t n, const char *src)
{
	size_t j = 0;
	for (size_t i = 0; src && src[i] && j + 1 < n; i++)
		dst[j++] = (src[i] == ':' || src[i] == '\n') ? '_' : src[i];
	dst[j] = '\0';
}

char *sif_passwd_generate(const char *image, const char *user, uid_t uid, gid_t gid,
                          const char *gecos, const char *home, const char *shell)
{
	char u[256], g[256], h[4096], sh[4096], entry[9000];

	clean(u, sizeof(u), user);
	clean(g, sizeof(g), gecos);
	clean(h, sizeof(h), home);
	clean(sh, sizeof(sh), shell);
	snprintf(entry, sizeof(entry), "%s:x:%u:%u:%s:%s:%s\n", u, (unsigned)uid, (unsigned)gid, g,
	         h, sh);
	return merge(image, u, (unsigned)uid, entry);
}

char *sif_group_generate(const char *image, const char *group, gid_t gid, const char *user)
{
	char gr[256], u[256], entry[600];

	clean(gr, sizeof(gr), group);
	clean(u, sizeof(u), user);
	snprintf(entry, sizeof(entry), "%s:x:%u:%s\n", gr, (unsigned)gid, u);
	return merge(image, gr, (unsigned)gid, entry);
}
