/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfdeps.h"
#include "io.h"

/* What one ELF file says about its loading. */
struct elfinfo {
	char interp[PATH_MAX];      /* PT_INTERP, "" if none */
	char *strtab;               /* the dynamic string table */
	size_t strsz;
	size_t needed[256];         /* DT_NEEDED: offsets into strtab */
	size_t nneeded;
	long runpath, rpath;        /* offsets into strtab, -1 if none */
};

/* This process's own ELF class and machine: the host programs must match. */
static int native_machine(void)
{
	static int machine = -1;
	if (machine < 0) {
		ElfW(Ehdr) eh;
		int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		machine = 0;
		if (fd >= 0) {
			if (sif_pread_full(fd, &eh, sizeof(eh), 0) == 0)
				machine = eh.e_machine;
			close(fd);
		}
	}
	return machine;
}

static bool header_ok(const ElfW(Ehdr) *eh)
{
	return memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
	       eh->e_ident[EI_CLASS] == (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) &&
	       eh->e_machine == native_machine() && eh->e_phentsize == sizeof(ElfW(Phdr)) &&
	       eh->e_phnum > 0 && eh->e_phnum <= 128;
}

/* A file offset for virtual address VADDR, from the PT_LOAD segments. */
static long vaddr_to_off(const ElfW(Phdr) *ph, size_t n, uint64_t vaddr)
{
	for (size_t i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && vaddr >= ph[i].p_vaddr &&
		    vaddr < ph[i].p_vaddr + ph[i].p_filesz)
			return (long)(vaddr - ph[i].p_vaddr + ph[i].p_offset);
	return -1;
}

/* 0 and INFO filled; -ENOEXEC for a file that is not ELF for this machine. */
static int read_elf(const char *path, struct elfinfo *info)
{
	ElfW(Ehdr) eh;
	ElfW(Phdr) ph[128];
	ElfW(Dyn) *dyn = NULL;
	size_t ndyn = 0;
	uint64_t strtab_vaddr = 0;
	int fd, r;

	memset(info, 0, sizeof(*info));
	info->runpath = info->rpath = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = sif_pread_full(fd, &eh, sizeof(eh), 0);
	if (r < 0 || !header_ok(&eh)) {
		r = -ENOEXEC;
		goto out;
	}
	r = sif_pread_full(fd, ph, eh.e_phnum * sizeof(ph[0]), (int64_t)eh.e_phoff);
	if (r < 0) {
		r = -ENOEXEC;
		goto out;
	}
	for (size_t i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP && ph[i].p_filesz > 1 && ph[i].p_filesz < PATH_MAX) {
			if (sif_pread_full(fd, info->interp, ph[i].p_filesz, (int64_t)ph[i].p_offset) < 0)
				info->interp[0] = '\0';
			info->interp[ph[i].p_filesz] = '\0';
		} else if (ph[i].p_type == PT_DYNAMIC && !dyn && ph[i].p_filesz <= (1 << 20)) {
			ndyn = ph[i].p_filesz / sizeof(*dyn);
			dyn = malloc(ndyn * sizeof(*dyn) + 1);
			if (!dyn) {
				r = -ENOMEM;
				goto out;
			}
			if (sif_pread_full(fd, dyn, ndyn * sizeof(*dyn), (int64_t)ph[i].p_offset) < 0) {
				r = -ENOEXEC;
				goto out;
			}
		}
	}
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		switch (dyn[i].d_tag) {
		case DT_STRTAB: strtab_vaddr = dyn[i].d_un.d_ptr; break;
		case DT_STRSZ: info->strsz = dyn[i].d_un.d_val; break;
		case DT_RUNPATH: info->runpath = (long)dyn[i].d_un.d_val; break;
		case DT_RPATH: info->rpath = (long)dyn[i].d_un.d_val; break;
		case DT_NEEDED:
			if (info->nneeded < sizeof(info->needed) / sizeof(info->needed[0]))
				info->needed[info->nneeded++] = dyn[i].d_un.d_val;
			break;
		}
	}
	r = 0;
	if (!ndyn)
		goto out;   /* static */
	long off = vaddr_to_off(ph, eh.e_phnum, strtab_vaddr);
	if (off < 0 || info->strsz == 0 || info->strsz > (16 << 20)) {
		r = -ENOEXEC;
		goto out;
	}
	info->strtab = malloc(info->strsz + 1);
	if (!info->strtab) {
		r = -ENOMEM;
		goto out;
	}
	if (sif_pread_full(fd, info->strtab, info->strsz, off) < 0) {
		r = -ENOEXEC;
		goto out;
	}
	info->strtab[info->strsz] = '\0';
	/* every offset must land inside the table */
	for (size_t i = 0; i < info->nneeded; i++)
		if (info->needed[i] >= info->strsz)
			r = -ENOEXEC;
	if ((info->runpath >= 0 && (size_t)info->runpath >= info->strsz) ||
	    (info->rpath >= 0 && (size_t)info->rpath >= info->strsz))
		r = -ENOEXEC;
out:
	free(dyn);
	close(fd);
	if (r < 0) {
		free(info->strtab);
		info->strtab = NULL;
	}
	return r;
}

bool sif_elf_is_dynamic_program(const char *path)
{
	struct elfinfo info;
	bool yes = read_elf(path, &info) == 0 && info.interp[0] == '/';
	free(info.strtab);
	return yes;
}

/* Is PATH an ELF file for this machine? */
static bool loadable(const char *path)
{
	ElfW(Ehdr) eh;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = false;
	if (fd < 0)
		return false;
	ok = sif_pread_full(fd, &eh, sizeof(eh), 0) == 0 && header_ok(&eh);
	close(fd);
	return ok;
}

/* NAME in ld.so.cache (glibc's "glibc-ld.so.cache1.1" format, alone or
 * after the old "ld.so-1.7.0" table), into OUT. */
static bool cache_lookup(struct sif_elfdeps *d, const char *name, char *out, size_t outlen)
{
	static const char old_magic[] = "ld.so-1.7.0", new_magic[] = "glibc-ld.so.cache1.1";
	const char *c;
	size_t len, base = 0;
	uint32_t nlibs;

	if (!d->cache) {
		int fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
		struct stat st;
		d->cachelen = 0;
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20) &&
		    (d->cache = malloc((size_t)st.st_size)) &&
		    sif_pread_full(fd, d->cache, (size_t)st.st_size, 0) == 0)
			d->cachelen = (size_t)st.st_size;
		if (fd >= 0)
			close(fd);
		if (!d->cache && !(d->cache = malloc(1)))
			return false;
	}
	c = d->cache;
	len = d->cachelen;
	if (len >= 16 && memcmp(c, old_magic, sizeof(old_magic) - 1) == 0) {
		memcpy(&nlibs, c + 12, 4);
		base = (16 + (size_t)nlibs * 12 + 3) & ~(size_t)3;
	}
	if (base + 48 > len || memcmp(c + base, new_magic, sizeof(new_magic) - 1) != 0)
		return false;
	memcpy(&nlibs, c + base + 20, 4);
	for (size_t i = 0; i < nlibs; i++) {
		size_t e = base + 48 + i * 24;
		uint32_t key, value;
		uint64_t hwcap;
		if (e + 24 > len)
			break;
		memcpy(&key, c + e + 4, 4);
		memcpy(&value, c + e + 8, 4);
		memcpy(&hwcap, c + e + 16, 8);
		if (hwcap || base + key >= len || base + value >= len ||
		    !memchr(c + base + key, '\0', len - base - key) ||
		    !memchr(c + base + value, '\0', len - base - value))
			continue;
		if (strcmp(c + base + key, name) == 0 && loadable(c + base + value)) {
			snprintf(out, outlen, "%s", c + base + value);
			return true;
		}
	}
	return false;
}

/* NAME in the ':'-separated LIST, with $ORIGIN (ORIGIN) expanded. */
static bool search_list(const char *list, const char *origin, const char *name, char *out,
                        size_t outlen)
{
	char *copy = strdup(list), *save = NULL, *dir;
	bool found = false;

	if (!copy)
		return false;
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char expanded[PATH_MAX];
		const char *rest = NULL;
		if (strncmp(dir, "$ORIGIN", 7) == 0)
			rest = dir + 7;
		else if (strncmp(dir, "${ORIGIN}", 9) == 0)
			rest = dir + 9;
		if (rest)
			snprintf(expanded, sizeof(expanded), "%s%s", origin, rest);
		else if (strchr(dir, '$'))
			continue;   /* $LIB, $PLATFORM: not used by the programs sif looks at */
		else
			snprintf(expanded, sizeof(expanded), "%s", dir);
		if (snprintf(out, outlen, "%s/%s", expanded, name) < (int)outlen && loadable(out))
			found = true;
	}
	free(copy);
	return found;
}

static int add_lib(struct sif_elfdeps *d, const char *name, const char *path)
{
	struct sif_elflib *nl;
	for (size_t i = 0; i < d->nlibs; i++)
		if (strcmp(d->libs[i].name, name) == 0)
			return 0;   /* the first found wins, as in one process */
	nl = realloc(d->libs, (d->nlibs + 1) * sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	d->libs = nl;
	nl[d->nlibs].name = strdup(name);
	nl[d->nlibs].path = strdup(path);
	if (!nl[d->nlibs].name || !nl[d->nlibs].path) {
		free(nl[d->nlibs].name);
		free(nl[d->nlibs].path);
		return -ENOMEM;
	}
	d->nlibs++;
	return 0;
}

/* Has the file PATH (resolved) been read already?  Remembers it. */
static bool seen_path(char ***seen, size_t *nseen, const char *path)
{
	for (size_t i = 0; i < *nseen; i++)
		if (strcmp((*seen)[i], path) == 0)
			return true;
	char **ns = realloc(*seen, (*nseen + 1) * sizeof(*ns));
	if (ns) {
		*seen = ns;
		ns[*nseen] = strdup(path);
		if (ns[*nseen])
			(*nseen)++;
	}
	return false;
}

int sif_elfdeps_add(struct sif_elfdeps *d, const char *path, struct sif_err *err)
{
	char **todo = NULL;
	size_t ntodo = 0;
	char real[PATH_MAX];
	int r = 0;

	if (!realpath(path, real))
		return sif_err_set(err, errno, "%s: %s", path, strerror(errno));
	if (!(todo = malloc(sizeof(*todo))) || !(todo[0] = strdup(real))) {
		free(todo);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	ntodo = 1;
	while (ntodo > 0 && r == 0) {
		char *cur = todo[--ntodo];
		struct elfinfo info;
		char origin[PATH_MAX];

		if (seen_path(&d->seen, &d->nseen, cur)) {
			free(cur);
			continue;
		}
		r = read_elf(cur, &info);
		if (r < 0) {
			r = sif_err_set(err, -r, "%s: %s", cur, r == -ENOEXEC ?
			                "not an ELF file for this machine" : strerror(-r));
			free(cur);
			break;
		}
		if (info.interp[0] == '/' && !d->interp) {
			char ri[PATH_MAX];
			if (!realpath(info.interp, ri)) {
				r = sif_err_set(err, errno, "%s: its loader %s: %s", cur, info.interp,
				                strerror(errno));
			} else if (!(d->interp = strdup(ri))) {
				r = sif_err_set(err, ENOMEM, "out of memory");
			}
		}
		snprintf(origin, sizeof(origin), "%s", cur);
		*strrchr(origin, '/') = '\0';
		for (size_t i = 0; i < info.nneeded && r == 0; i++) {
			const char *name = info.strtab + info.needed[i];
			char found[PATH_MAX], rf[PATH_MAX];
			bool ok = false;
			/* loaded already (a plugin's libslurmfull.so: the program's) */
			for (size_t k = 0; k < d->nlibs && !ok; k++)
				if (strcmp(d->libs[k].name, name) == 0) {
					snprintf(found, sizeof(found), "%s", d->libs[k].path);
					ok = true;
				}
			if (!ok && strchr(name, '/')) {
				snprintf(found, sizeof(found), "%s", name);
				ok = loadable(found);
			}
			/* the loader's order: DT_RPATH (without DT_RUNPATH), DT_RUNPATH,
			 * the cache, the default directories (and the loader's own) */
			if (!ok && info.rpath >= 0 && info.runpath < 0)
				ok = search_list(info.strtab + info.rpath, origin, name, found, sizeof(found));
			if (!ok && info.runpath >= 0)
				ok = search_list(info.strtab + info.runpath, origin, name, found,
				                 sizeof(found));
			if (!ok)
				ok = cache_lookup(d, name, found, sizeof(found));
			if (!ok) {
				char defaults[PATH_MAX + 64] = "/lib64:/usr/lib64:/lib:/usr/lib";
				if (d->interp) {
					char *slash = strrchr(d->interp, '/');
					snprintf(defaults, sizeof(defaults), "%.*s:/lib64:/usr/lib64:/lib:/usr/lib",
					         (int)(slash - d->interp), d->interp);
				}
				ok = search_list(defaults, origin, name, found, sizeof(found));
			}
			if (!ok) {
				r = sif_err_set(err, ENOENT, "%s needs %s, which is not found on this host "
				                "(as its loader would look)", cur, name);
				break;
			}
			if (!realpath(found, rf)) {
				r = sif_err_set(err, errno, "%s: %s", found, strerror(errno));
				break;
			}
			if (add_lib(d, name, rf) < 0) {
				r = sif_err_set(err, ENOMEM, "out of memory");
				break;
			}
			char **nt = realloc(todo, (ntodo + 1) * sizeof(*nt));
			if (!nt || !(nt[ntodo] = strdup(rf))) {
				if (nt)
					todo = nt;
				r = sif_err_set(err, ENOMEM, "out of memory");
				break;
			}
			todo = nt;
			ntodo++;
		}
		free(info.strtab);
		free(cur);
	}
	for (size_t i = 0; i < ntodo; i++)
		free(todo[i]);
	free(todo);
	return r;
}

void sif_elfdeps_free(struct sif_elfdeps *d)
{
	for (size_t i = 0; i < d->nlibs; i++) {
		free(d->libs[i].name);
		free(d->libs[i].path);
	}
	free(d->libs);
	for (size_t i = 0; i < d->nseen; i++)
		free(d->seen[i]);
	free(d->seen);
	free(d->interp);
	free(d->cache);
	memset(d, 0, sizeof(*d));
}
