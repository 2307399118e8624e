/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the runtime's plain-data parts: in-root path resolution,
 * environment forms, passwd/group generation, the site policy parser. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfdeps.h"
#include "env.h"
#include "launch.h"
#include "passwd.h"
#include "resolve.h"
#include "siteconf.h"
#include "tap.h"

static char tmp[PATH_MAX / 2];

static void path(char *out, const char *rel)
{
	if (snprintf(out, PATH_MAX, "%s/%s", tmp, rel) >= PATH_MAX)
		exit(99);
}

static void link_to(const char *target, const char *rel)
{
	char p[PATH_MAX];
	path(p, rel);
	if (symlink(target, p) < 0) {
		perror("symlink");
		exit(99);
	}
}

static void test_resolve(void)
{
	char p[PATH_MAX], canon[PATH_MAX], rest[PATH_MAX];
	struct sif_err err = {0};
	struct stat st;
	int root, fd;

	path(p, "root"); mkdir(p, 0755);
	path(p, "root/etc"); mkdir(p, 0755);
	path(p, "outside"); mkdir(p, 0755);
	link_to("/etc", "root/data");                   /* absolute */
	link_to("../../../../outside", "root/up");      /* dot-dot beyond the root */
	link_to("loop", "root/loop");
	path(p, "root/etc/file"); close(open(p, O_CREAT | O_WRONLY, 0644));
	path(p, "root");
	root = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);

	fd = sif_resolve(root, "/data/file", SIF_RESOLVE_EXISTING, true, canon, sizeof(canon), &err);
	tap_ok(fd >= 0 && strcmp(canon, "/etc/file") == 0, "an absolute link resolves inside the root "
	       "(%s)", fd >= 0 ? canon : err.msg);
	if (fd >= 0)
		close(fd);
	fd = sif_resolve(root, "/up/x", SIF_RESOLVE_MKDIR, true, canon, sizeof(canon), &err);
	path(p, "outside/x");
	tap_ok(fd >= 0 && strcmp(canon, "/outside/x") == 0 && stat(p, &st) < 0,
	       "'..' stops at the root: a directory made through ../../../../outside is not "
	       "the host's (%s)", fd >= 0 ? canon : err.msg);
	if (fd >= 0)
		close(fd);
	path(p, "root/outside/x");
	tap_ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "  ... but the root's /outside/x");
	fd = sif_resolve(root, "/loop/a", SIF_RESOLVE_EXISTING, true, NULL, 0, &err);
	tap_ok(fd == -ELOOP, "a link loop is refused (%s)", err.msg);
	fd = sif_resolve(root, "/etc/file/below", SIF_RESOLVE_MKDIR, true, NULL, 0, &err);
	tap_ok(fd == -ENOTDIR, "a file in the middle of a path is refused");
	fd = sif_resolve(root, "/data", SIF_RESOLVE_EXISTING, false, canon, sizeof(canon), &err);
	tap_ok(fd >= 0 && strcmp(canon, "/data") == 0, "a final link is kept when not followed");
	if (fd >= 0)
		close(fd);
	tap_ok(sif_resolve_prefix(root, "/data/new/deeper", canon, sizeof(canon), rest,
	                          sizeof(rest), &err) == 0 &&
	       strcmp(canon, "/etc") == 0 && strcmp(rest, "new/deeper") == 0,
	       "prefix: /data/new/deeper exists up to /etc, then new/deeper (%s | %s)", canon, rest);
	close(root);
}

static void test_env(void)
{
	struct sif_env e, host;

	sif_env_init(&e);
	sif_env_parse_export_p(&e,
	                       "export A='it'\\''s'\n"
	                       "declare -x B=\"say \\\"hi\\\" \\$HOME\"\n"
	                       "export C=\"two\nlines\"\n"
	                       "export D\n"
	                       "export E=plain\n");
	tap_ok(sif_env_get(&e, "A") && strcmp(sif_env_get(&e, "A"), "it's") == 0,
	       "export -p, dash quoting: %s", sif_env_get(&e, "A"));
	tap_ok(sif_env_get(&e, "B") && strcmp(sif_env_get(&e, "B"), "say \"hi\" $HOME") == 0,
	       "export -p, bash quoting: %s", sif_env_get(&e, "B"));
	tap_ok(sif_env_get(&e, "C") && strcmp(sif_env_get(&e, "C"), "two\nlines") == 0,
	       "export -p, a value across lines");
	tap_ok(!sif_env_get(&e, "D") && sif_env_get(&e, "E") && strcmp(sif_env_get(&e, "E"), "plain") == 0,
	       "export -p: a name without value is not set; a bare word is");
	sif_env_free(&e);

	sif_env_init(&e);
	sif_env_init(&host);
	sif_env_set(&host, "LANG", "host-lang");
	sif_env_set(&host, "PATH", "/host/bin");
	sif_env_set(&e, "LANG", "host-lang");
	tap_ok(sif_env_apply_simple(&e, &host,
	                            "#!/bin/sh\n"
	                            "export PATH=\"/image/bin:/usr/bin\"\n"
	                            "export LANG=\"${LANG:-C.UTF-8}\"\n"
	                            "export TZ=\"${TZ:-\"UTC\"}\"\n"
	                            "export QUOTED=\"a \\\"b\\\" \\$c\"\n"
	                            "export PLAIN=value\n") == 0,
	       "the converted forms are evaluated without a shell");
	tap_ok(strcmp(sif_env_get(&e, "PATH"), "/image/bin:/usr/bin") == 0 &&
	       strcmp(sif_env_get(&e, "LANG"), "host-lang") == 0 &&
	       strcmp(sif_env_get(&e, "TZ"), "UTC") == 0 &&
	       strcmp(sif_env_get(&e, "QUOTED"), "a \"b\" $c") == 0 &&
	       strcmp(sif_env_get(&e, "PLAIN"), "value") == 0,
	       "  ... the image's PATH, the host's LANG, the image's defaults, escapes undone");
	tap_ok(sif_env_apply_simple(&e, &host, "export X=\"$HOME/bin\"\n") == 1 &&
	       !sif_env_get(&e, "X"), "an expansion is left to the shell (nothing applied)");
	tap_ok(sif_env_apply_simple(&e, &host, "export Y=1\nif true; then :; fi\n") == 1 &&
	       !sif_env_get(&e, "Y"), "a script with other code: all or nothing");
	sif_env_free(&e);
	sif_env_free(&host);
}

static void test_passwd(void)
{
	char *pw = sif_passwd_generate("root:x:0:0:root:/root:/bin/sh\n"
	                               "old:x:1000:1000::/home/old:/bin/sh\n"
	                               "alice:x:5:5::/nowhere:/bin/false\n",
	                               "alice", 1000, 1000, "Alice: A", "/home/alice", "/bin/sh");
	char *gr = sif_group_generate("root:x:0:\nusers:x:1000:\n", "alice", 1000, "alice");

	tap_ok(pw && strcmp(pw, "root:x:0:0:root:/root:/bin/sh\n"
	                        "alice:x:1000:1000:Alice_ A:/home/alice:/bin/sh\n") == 0,
	       "passwd: the image's entries minus those of the same uid or name, plus the user");
	tap_ok(gr && strcmp(gr, "root:x:0:\nalice:x:1000:alice\n") == 0,
	       "group: the same for the user's group");
	free(pw);
	free(gr);
	pw = sif_passwd_generate(NULL, "bob", 7, 7, "", "/", "/bin/sh");
	tap_ok(pw && strcmp(pw, "bob:x:7:7::/:/bin/sh\n") == 0, "passwd: an image without one");
	free(pw);
}

static void test_siteconf(void)
{
	char p[PATH_MAX];
	struct sif_config c;
	struct sif_err err = {0};
	FILE *f;

	path(p, "sif.conf");
	f = fopen(p, "w");
	fputs("# policy\n\nbind path = /scratch:/scratch:ro\nallow user binds = no\n"
	      "allowed image path = /cvmfs\nmount linger = 0\n", f);
	fclose(f);
	tap_ok(sif_config_load(&c, p, &err) == 0 && c.nbinds == 1 && !c.user_binds &&
	       c.nimage_paths == 1 && c.linger == 0 && c.dir_images && c.mount_home,
	       "sif.conf: keys, lists, defaults (%s)", err.msg);
	sif_config_free(&c);
	f = fopen(p, "w");
	fputs("allow user binds = yes\nallow users binds = no\n", f);
	fclose(f);
	tap_ok(sif_config_load(&c, p, &err) == -EINVAL && strstr(err.msg, "sif.conf:2:") &&
	       strstr(err.msg, "unknown key"), "sif.conf: an unknown key, with file and line (%s)",
	       err.msg);
	f = fopen(p, "w");
	fputs("bind path = relative\n", f);
	fclose(f);
	tap_ok(sif_config_load(&c, p, &err) == -EINVAL, "sif.conf: a relative path is refused");
	path(p, "missing.conf");
	tap_ok(sif_config_load(&c, p, &err) == 0 && c.user_binds && c.linger == SIF_DEFAULT_LINGER,
	       "sif.conf: a missing file means the defaults");
	sif_config_free(&c);
}

/* The closure of this very program, as its loader found it: every
 * library it has mapped must be in it, under the path mapped. */
static void test_elfdeps(void)
{
	struct sif_elfdeps d = {0};
	struct sif_err err = {0};
	char p[PATH_MAX], line[PATH_MAX + 256];
	FILE *f;
	int missing = 0, mapped = 0;

	int r = sif_elfdeps_add(&d, "/proc/self/exe", &err);
	tap_ok(r == 0 && d.interp,
	       "elfdeps: this program's closure (%s), loader %s", err.msg, d.interp ? d.interp : "-");
	f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *lib = strchr(line, '/'), real[PATH_MAX];
		bool found = false;
		if (!lib || !strstr(lib, ".so"))
			continue;
		lib[strcspn(lib, "\n")] = '\0';
		if (!realpath(lib, real))
			continue;
		mapped++;
		found = d.interp && strcmp(real, d.interp) == 0;
		for (size_t i = 0; i < d.nlibs && !found; i++)
			found = strcmp(d.libs[i].path, real) == 0;
		if (!found) {
			missing++;
			printf("# mapped, not in the closure: %s\n", real);
		}
	}
	if (f)
		fclose(f);
	tap_ok(mapped > 0 && missing == 0, "elfdeps: each of the %d mapped libraries is in it", mapped);
	sif_elfdeps_free(&d);
	tap_ok(sif_elf_is_dynamic_program("/proc/self/exe"), "elfdeps: this program is dynamic");
	path(p, "script");
	f = fopen(p, "w");
	fputs("#!/bin/sh\necho hi\n", f);
	fclose(f);
	tap_ok(!sif_elf_is_dynamic_program(p), "elfdeps: a script is no program of its own");
	tap_ok(sif_elfdeps_add(&d, p, &err) == -ENOEXEC && strstr(err.msg, "not an ELF file"),
	       "elfdeps: a script has no closure (%s)", err.msg);
	sif_elfdeps_free(&d);
}

/* --slurm's PATH goes first once, whatever the image and --env set. */
static void test_env_slurm(void)
{
	struct sif_launch l = {0};
	struct sif_env e;
	struct sif_err err = {0};
	char *set[] = {"PATH=/user/bin", "SLURM_CONF=/mine.conf"};

	l.image.path = "img.sif";
	l.path_prepend = "/.sif/slurm/bin";
	l.slurm_conf = "/etc/slurm/slurm.conf";
	sif_env_init(&e);
	sif_env_set(&e, "PATH", "/image/bin");
	tap_ok(sif_env_overrides(&e, &l, NULL, &err) == 0 &&
	       strcmp(sif_env_get(&e, "PATH"), "/.sif/slurm/bin:/image/bin") == 0 &&
	       strcmp(sif_env_get(&e, "SLURM_CONF"), "/etc/slurm/slurm.conf") == 0,
	       "--slurm: PATH starts with the prefix; SLURM_CONF set");
	tap_ok(sif_env_overrides(&e, &l, NULL, &err) == 0 &&
	       strcmp(sif_env_get(&e, "PATH"), "/.sif/slurm/bin:/image/bin") == 0,
	       "  ... once, when applied again after the image's scripts");
	l.env_set = set;
	l.nenv_set = 2;
	tap_ok(sif_env_overrides(&e, &l, NULL, &err) == 0 &&
	       strcmp(sif_env_get(&e, "PATH"), "/.sif/slurm/bin:/user/bin") == 0 &&
	       strcmp(sif_env_get(&e, "SLURM_CONF"), "/mine.conf") == 0,
	       "  ... before an --env PATH; an --env SLURM_CONF wins");
	sif_env_free(&e);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "%s/sif-unit.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 99;
	}
	test_resolve();
	test_env();
	test_passwd();
	test_siteconf();
	test_elfdeps();
	test_env_slurm();
	{
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			tap_ok(false, "clean up %s", tmp);
	}
	return tap_done();
}
