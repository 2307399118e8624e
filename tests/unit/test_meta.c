/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of image-tools/meta.c: the runscript run by real shells (dash,
 * bash, busybox sh where present) with hostile words; the Env script read
 * back both by runtime/env.c without a shell and by the shells, which must
 * agree; labels.json; and the tree meta_add_singularity and
 * meta_ensure_mountpoints make, written to a squashfs and read back with
 * unsquashfs when it is installed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "env.h"
#include "meta.h"
#include "sqfs_out.h"
#include "tap.h"
#include "tree.h"

static char tmp[PATH_MAX / 2];

/* ---- helpers ------------------------------------------------------------- */

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	if (!j) {
		fprintf(stderr, "test JSON: %s\n", je.text);
		exit(99);
	}
	return j;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0) {
		perror(path);
		exit(99);
	}
	chmod(path, mode);
}

/* Run ARGV with environment ENVP (NULL: none at all) and IN on standard
 * input; standard output into OUT (malloc'd, NUL-terminated, *LEN bytes).
 * Returns the exit status, or -1. */
static bool quiet;   /* the command's standard error to /dev/null */

static int run(char *const argv[], char *const envp[], const char *in, char **out, size_t *len)
{
	int ip[2], op[2], st;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	pid_t pid;
	static char *const empty[] = {NULL};

	if (pipe(ip) < 0 || pipe(op) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(ip[0], 0);
		dup2(op[1], 1);
		close(ip[0]);
		close(ip[1]);
		close(op[0]);
		close(op[1]);
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, 2);
		}
		execve(argv[0], argv, envp ? envp : empty);
		_exit(127);
	}
	close(ip[0]);
	close(op[1]);
	if (in && write(ip[1], in, strlen(in)) < 0)
		perror("write");
	close(ip[1]);
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			if (!buf)
				exit(99);
		}
		ssize_t k = read(op[0], buf + n, cap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(op[0]);
	buf[n] = '\0';
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	*out = buf;
	if (len)
		*len = n;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The shells to check with: the name to report and the argv prefix. */
static const struct shell {
	const char *name;
	const char *argv[3];
} shells[] = {
	{"sh", {"/bin/sh", NULL, NULL}},
	{"dash", {"/usr/bin/dash", NULL, NULL}},
	{"bash --posix", {"/usr/bin/bash", "--posix", NULL}},
	{"busybox sh", {"/usr/bin/busybox", "sh", NULL}},
};
#define NSHELLS (sizeof(shells) / sizeof(shells[0]))

static bool have_shell(const struct shell *s)
{
	return access(s->argv[0], X_OK) == 0;
}

/* ---- the runscript -------------------------------------------------------- */

static char printer[PATH_MAX];   /* prints its arguments as <a><b>... */

/* Run SCRIPT with shell SH (or directly when SH is NULL) and ARGS. */
static int run_script(const struct shell *sh, const char *script, const char *const *args,
                      const char *in, char **out)
{
	char *argv[32];
	int k = 0;

	if (sh)
		for (int i = 0; i < 2 && sh->argv[i]; i++)
			argv[k++] = (char *)sh->argv[i];
	argv[k++] = (char *)script;
	for (; args && *args; args++)
		argv[k++] = (char *)*args;
	argv[k] = NULL;
	char *envp[] = {"PATH=/usr/bin:/bin", "HOME=/nonexistent", NULL};
	return run(argv, envp, in, out, NULL);
}

struct rs_case {
	const char *what;
	const char *config;            /* with @P@ for the printer's path */
	const char *args[6];
	const char *in;
	const char *want;
};

static char *subst_printer(const char *s)
{
	static char buf[8192];
	const char *p;
	size_t j = 0;

	while ((p = strstr(s, "@P@"))) {
		j += (size_t)snprintf(buf + j, sizeof(buf) - j, "%.*s%s", (int)(p - s), s, printer);
		s = p + 3;
	}
	snprintf(buf + j, sizeof(buf) - j, "%s", s);
	return buf;
}

static void test_runscript(void)
{
	static const struct rs_case cases[] = {
		{"ENTRYPOINT only, no arguments",
		 "{\"config\":{\"Entrypoint\":[\"@P@\",\"fixed\"]}}", {NULL}, NULL, "<fixed>\n"},
		{"ENTRYPOINT only: arguments are appended",
		 "{\"config\":{\"Entrypoint\":[\"@P@\"]}}", {"x y", "$HOME", NULL}, NULL,
		 "<x y><$HOME>\n"},
		{"CMD only, no arguments: CMD runs, its words not evaluated",
		 "{\"config\":{\"Cmd\":[\"@P@\",\"a b\",\"it's\",\"$(touch pwned)\",\"`touch pwned`\","
		 "\"\\\\n\",\"\",\"*\",\"-e\",\"x\\ny\",\"'\\\"'\"]}}", {NULL}, NULL,
		 "<a b><it's><$(touch pwned)><`touch pwned`><\\n><><*><-e><x\ny><'\"'>\n"},
		{"CMD only: arguments replace CMD",
		 "{\"config\":{\"Cmd\":[\"/bin/false\",\"ignored\"]}}", {"@P@", "z", NULL}, NULL, "<z>\n"},
		{"ENTRYPOINT and CMD, no arguments: CMD as ENTRYPOINT's arguments",
		 "{\"config\":{\"Entrypoint\":[\"@P@\",\"-e\"],\"Cmd\":[\"default\",\"two words\"]}}",
		 {NULL}, NULL, "<-e><default><two words>\n"},
		{"ENTRYPOINT and CMD: arguments replace CMD",
		 "{\"config\":{\"Entrypoint\":[\"@P@\",\"-e\"],\"Cmd\":[\"default\"]}}",
		 {"q", "", "'", NULL}, NULL, "<-e><q><><'>\n"},
		{"neither, no arguments: a shell",
		 "{\"config\":{\"Env\":[\"A=1\"]}}", {NULL}, "echo from-the-shell\n", "from-the-shell\n"},
		{"neither: the arguments run",
		 "{\"config\":{}}", {"@P@", "k", NULL}, NULL, "<k>\n"},
		{"null ENTRYPOINT and empty CMD: the arguments run",
		 "{\"config\":{\"Entrypoint\":null,\"Cmd\":[]}}", {"@P@", "k", NULL}, NULL, "<k>\n"},
		{"the \"config\" object alone (oci-config.json as Apptainer stores it)",
		 "{\"Entrypoint\":[\"@P@\",\"alone\"]}", {NULL}, NULL, "<alone>\n"},
	};
	struct sif_err err = {0};
	char path[PATH_MAX], pwned[PATH_MAX];

	snprintf(printer, sizeof(printer), "%s/printer", tmp);
	write_file(printer, "#!/bin/sh\nfor a in \"$@\"; do printf '<%s>' \"$a\"; done\necho\n", 0755);
	snprintf(path, sizeof(path), "%s/runscript", tmp);
	snprintf(pwned, sizeof(pwned), "%s/pwned", tmp);

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct rs_case *k = &cases[c];
		json_t *cfg = parse(subst_printer(k->config));
		char *script = meta_runscript(cfg, &err);
		const char *args[6] = {NULL};
		char want[4096];

		json_decref(cfg);
		if (!tap_ok(script != NULL, "runscript made: %s", k->what)) {
			printf("# %s\n", err.msg);
			continue;
		}
		write_file(path, script, 0755);
		for (int i = 0; k->args[i]; i++)
			args[i] = strcmp(k->args[i], "@P@") == 0 ? printer : k->args[i];
		snprintf(want, sizeof(want), "%s", k->want);

		/* run directly (its #!/bin/sh) and with every shell there is */
		for (size_t s = 0; s <= NSHELLS; s++) {
			const struct shell *sh = s < NSHELLS ? &shells[s] : NULL;
			char *out = NULL;
			int st;
			if (sh && !have_shell(sh))
				continue;
			st = run_script(sh, path, args, k->in, &out);
			if (!tap_ok(st == 0 && strcmp(out, want) == 0, "  ... run by %s",
			            sh ? sh->name : "its #! line"))
				printf("# status %d, got \"%s\", want \"%s\"\n# script:\n%s", st, out, want,
				       script);
			free(out);
		}
		free(script);
	}
	tap_ok(access(pwned, F_OK) < 0, "no word of ENTRYPOINT or CMD was evaluated");

	/* Apptainer interprets a runscript with this exact line itself */
	json_t *cfg = parse("{\"config\":{\"Cmd\":[\"/bin/true\"]}}");
	char *s = meta_runscript(cfg, &err);
	tap_ok(s && strstr(s, "\neval \"set ${SINGULARITY_OCI_RUN}\"\nexec \"$@\"\n") &&
	       strncmp(s, "#!/bin/sh\n", 10) == 0,
	       "runscript: #!/bin/sh, Apptainer's eval line on a line of its own, ends in exec");
	free(s);
	json_decref(cfg);

	cfg = parse("{\"config\":{\"Entrypoint\":\"/bin/sh -c x\"}}");
	s = meta_runscript(cfg, &err);
	tap_ok(!s && err.code == SIF_EFORMAT && strstr(err.msg, "Entrypoint"),
	       "a string ENTRYPOINT is refused (%s)", err.msg);
	free(s);
	json_decref(cfg);
	cfg = parse("{\"config\":{\"Cmd\":[\"a\",1]}}");
	s = meta_runscript(cfg, &err);
	tap_ok(!s && strstr(err.msg, "Cmd[1]"), "a CMD word that is not a string is refused (%s)",
	       err.msg);
	free(s);
	json_decref(cfg);
}

/* ---- the Env script ------------------------------------------------------- */

struct kv {
	const char *name, *value;   /* value NULL: must not be set */
};

static const char env_config[] =
	"{\"config\":{\"Env\":["
	"\"PATH=/opt/bin:/usr/bin\","
	"\"PLAIN=plain\","
	"\"SPACE=with  two spaces \","
	"\"DQ=say \\\"hi\\\"\","
	"\"SQ=it's\","
	"\"DOLLAR=$HOME and ${HOME} and $(id)\","
	"\"TICK=`id`\","
	"\"BS=back\\\\slash\","
	"\"TRAIL=ends in \\\\\","
	"\"BSQ=a\\\\\\\"b\","
	"\"EQ=a=b==c\","
	"\"EMPTY=\","
	"\"BRACE=}{${X:-y}}\","
	"\"TAB=a\\tb\","
	"\"UTF=\\u00e9t\\u00e9\","
	"\"HOSTWINS=image\","
	"\"noequals\","
	"\"1BAD=x\","
	"\"BAD-NAME=x\","
	"\"=nameless\","
	"\"DUP=first\","
	"\"DUP=second\""
	"]}}";

static const struct kv env_want[] = {
	{"PATH", "/opt/bin:/usr/bin"},
	{"PLAIN", "plain"},
	{"SPACE", "with  two spaces "},
	{"DQ", "say \"hi\""},
	{"SQ", "it's"},
	{"DOLLAR", "$HOME and ${HOME} and $(id)"},
	{"TICK", "`id`"},
	{"BS", "back\\slash"},
	{"TRAIL", "ends in \\"},
	{"BSQ", "a\\\"b"},
	{"EQ", "a=b==c"},
	{"EMPTY", ""},
	{"BRACE", "}{${X:-y}}"},
	{"TAB", "a\tb"},
	{"UTF", "\xc3\xa9t\xc3\xa9"},
	{"HOSTWINS", "host"},
	{"noequals", NULL},
	{"DUP", "second"},
};

/* Evaluate SCRIPT with shell SH on top of ENVP; the environment it leaves
 * (env -0) into E. */
static int shell_env(const struct shell *sh, const char *script, char *const envp[],
                     struct sif_env *e)
{
	char *argv[8], *out = NULL;
	size_t len, k = 0;
	int st;

	for (int i = 0; i < 2 && sh->argv[i]; i++)
		argv[k++] = (char *)sh->argv[i];
	argv[k++] = "-c";
	argv[k++] = ". \"$1\" && exec /usr/bin/env -0";
	argv[k++] = "sh";
	argv[k++] = (char *)script;
	argv[k] = NULL;
	st = run(argv, envp, NULL, &out, &len);
	sif_env_init(e);
	for (size_t i = 0; st == 0 && i < len; i += strlen(out + i) + 1) {
		char *eq = strchr(out + i, '=');
		if (eq) {
			*eq = '\0';
			sif_env_set(e, out + i, eq + 1);
		}
	}
	free(out);
	return st;
}

static void test_env(void)
{
	struct sif_err err = {0};
	json_t *cfg = parse(env_config);
	char *s = meta_env_script(cfg, &err), path[PATH_MAX];
	struct sif_env e, host;
	char *envp[] = {"HOSTWINS=host", "PATH=/host/bin", NULL};
	int r;

	json_decref(cfg);
	if (!tap_ok(s != NULL, "Env script made")) {
		printf("# %s\n", err.msg);
		return;
	}
	tap_ok(strncmp(s, "#!/bin/sh\n", 10) == 0, "Env script starts with #!/bin/sh");
	tap_ok(strstr(s, "\nexport PATH=\"/opt/bin:/usr/bin\"\n") != NULL,
	       "PATH is set as is: export PATH=\"...\"");
	tap_ok(strstr(s, "\nexport PLAIN=\"${PLAIN:-\"plain\"}\"\n") != NULL,
	       "others keep a value already set: export NAME=\"${NAME:-\"value\"}\"");
	tap_ok(strstr(s, "\nexport BSQ=\"${BSQ:-\"a\\\\\\\"b\"}\"\n") != NULL &&
	       strstr(s, "\nexport DOLLAR=\"${DOLLAR:-\"\\$HOME and \\${HOME} and \\$(id)\"}\"\n"),
	       "\\ \" $ ` are escaped inside the double quotes");
	tap_ok(!strstr(s, "noequals") && !strstr(s, "1BAD") && !strstr(s, "BAD-NAME") &&
	       !strstr(s, "nameless"), "entries without '=' or with an invalid name are skipped");
	tap_ok(strstr(s, "DUP=\"${DUP:-\"second\"}\"") && !strstr(s, "first"),
	       "a name given twice: the last value only");

	/* runtime/env.c evaluates the file without a shell: all of it, same values */
	sif_env_init(&e);
	sif_env_init(&host);
	sif_env_set(&host, "HOSTWINS", "host");
	sif_env_set(&host, "PATH", "/host/bin");
	sif_env_set(&e, "HOSTWINS", "host");
	r = sif_env_apply_simple(&e, &host, s);
	tap_ok(r == 0, "sif_env_apply_simple takes every line (returned %d)", r);
	for (size_t i = 0; i < sizeof(env_want) / sizeof(env_want[0]); i++) {
		const char *got = sif_env_get(&e, env_want[i].name);
		bool same = env_want[i].value ? got && strcmp(got, env_want[i].value) == 0 : !got;
		if (!tap_ok(same, "  ... %s round-trips through sif_env_apply_simple",
		            env_want[i].name))
			printf("# got [%s], want [%s]\n", got ? got : "(unset)",
			       env_want[i].value ? env_want[i].value : "(unset)");
	}

	/* and every shell reads the same */
	snprintf(path, sizeof(path), "%s/10-docker2singularity.sh", tmp);
	write_file(path, s, 0755);
	for (size_t k = 0; k < NSHELLS; k++) {
		struct sif_env se;
		bool same = true;
		if (!have_shell(&shells[k]))
			continue;
		r = shell_env(&shells[k], path, envp, &se);
		for (size_t i = 0; r == 0 && i < sizeof(env_want) / sizeof(env_want[0]); i++) {
			const char *a = sif_env_get(&se, env_want[i].name);
			const char *b = sif_env_get(&e, env_want[i].name);
			if (!(a && b ? strcmp(a, b) == 0 : a == b)) {
				printf("# %s: %s: shell [%s], sif [%s]\n", shells[k].name, env_want[i].name,
				       a ? a : "(unset)", b ? b : "(unset)");
				same = false;
			}
		}
		tap_ok(r == 0 && same, "%s sets the same values as sif_env_apply_simple", shells[k].name);
		sif_env_free(&se);
	}
	sif_env_free(&e);
	sif_env_free(&host);
	free(s);

	/* a newline in a value: right in a shell; sif hands such a file to the shell */
	cfg = parse("{\"config\":{\"Env\":[\"NL=line1\\nline2\",\"A=b\"]}}");
	s = meta_env_script(cfg, &err);
	json_decref(cfg);
	sif_env_init(&e);
	r = s ? sif_env_apply_simple(&e, NULL, s) : -1;
	tap_ok(r == 1, "a value with a newline: not a simple form (the launcher runs the shell)");
	sif_env_free(&e);
	if (s) {
		struct sif_env se;
		write_file(path, s, 0755);
		r = shell_env(&shells[0], path, NULL, &se);
		tap_ok(r == 0 && sif_env_get(&se, "NL") && strcmp(sif_env_get(&se, "NL"),
		       "line1\nline2") == 0 && strcmp(sif_env_get(&se, "A"), "b") == 0,
		       "  ... and /bin/sh reads it right");
		sif_env_free(&se);
	}
	free(s);

	cfg = parse("{\"config\":{\"Env\":null}}");
	s = meta_env_script(cfg, &err);
	sif_env_init(&e);
	tap_ok(s && sif_env_apply_simple(&e, NULL, s) == 0 && e.n == 0,
	       "no Env: a script that sets nothing");
	sif_env_free(&e);
	free(s);
	json_decref(cfg);
}

/* ---- labels.json ---------------------------------------------------------- */

static void test_labels(void)
{
	static const struct {
		const char *config, *want;
	} cases[] = {
		{"{\"config\":{\"Labels\":{\"b\":\"2\",\"a\":\"1\",\"\\u00e9\":\"x\\\"y\"}}}",
		 "{\n    \"a\": \"1\",\n    \"b\": \"2\",\n    \"\xc3\xa9\": \"x\\\"y\"\n}\n"},
		{"{\"config\":{}}", "{}\n"},
		{"{\"config\":{\"Labels\":null}}", "{}\n"},
		{"{\"config\":{\"Labels\":{}}}", "{}\n"},
	};
	struct sif_err err = {0};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *cfg = parse(cases[i].config);
		char *s = meta_labels_json(cfg, &err);
		if (!tap_ok(s && strcmp(s, cases[i].want) == 0, "labels.json from %s",
		            cases[i].config))
			printf("# got:\n%s", s ? s : err.msg);
		free(s);
		json_decref(cfg);
	}
	json_t *cfg = parse("{\"config\":{\"Labels\":[\"a\"]}}");
	char *s = meta_labels_json(cfg, &err);
	tap_ok(!s && err.code == SIF_EFORMAT, "Labels that are not an object are refused");
	free(s);
	json_decref(cfg);
}

/* ---- the tree ------------------------------------------------------------- */

static struct tree_node *node(struct tree *t, const char *path)
{
	char buf[256], *save = NULL;
	struct tree_node *n = t->root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *c = strtok_r(buf, "/", &save); c && n; c = strtok_r(NULL, "/", &save))
		n = tree_child(n, c);
	return n;
}

static struct tree_node *add(struct tree *t, const char *path, uint32_t mode, const char *target)
{
	char buf[256], *slash;
	struct tree_node *dir, *n;

	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	*slash = '\0';
	dir = buf[0] ? node(t, buf) : t->root;
	n = tree_add_child(t, dir, slash + 1);
	if (!n)
		exit(99);
	if (mode) {
		n->inode = tree_inode_new(mode);
		n->inode->uid = n->inode->gid = 1000;
		n->inode->mtime = 12345;
		if (target)
			n->inode->target = strdup(target);
		if (S_ISREG(mode))
			n->inode->data_done = true;   /* an empty file, as a layer made it */
	}
	return n;
}

static bool shaped(struct tree *t, const char *path, uint32_t mode, int64_t time)
{
	struct tree_node *n = node(t, path);
	return n && n->inode && n->inode->mode == mode && n->inode->uid == 0 &&
	       n->inode->gid == 0 && n->inode->mtime == time;
}

static const char config_json[] =
	"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
	"\"Entrypoint\":[\"/usr/bin/tini\",\"--\"],\"Cmd\":[\"python3\",\"-c\",\"print('hi')\"],"
	"\"Env\":[\"PATH=/usr/local/bin:/usr/bin:/bin\",\"LANG=C.UTF-8\"],"
	"\"Labels\":{\"org.opencontainers.image.version\":\"1.0\",\"maintainer\":\"A <a@b>\"},"
	"\"WorkingDir\":\"/work\"}}";

/* Build a tree the way layers may leave it, add the metadata, write it to
 * the squashfs FILE; returns the tree (to be freed). */
static int build(struct tree *t, const char *file, int64_t time, struct sif_err *err)
{
	struct sqfs_out *out;
	uint64_t size;
	int fd, r;

	if (tree_init(t, err) < 0)
		return -1;
	/* /.singularity.d from an earlier conversion: some of it hostile */
	add(t, "/.singularity.d", S_IFDIR | 0700, NULL);
	add(t, "/.singularity.d/runscript", S_IFLNK | 0777, "/etc/shadow");
	add(t, "/.singularity.d/libs", S_IFLNK | 0777, "/usr/lib");
	add(t, "/.singularity.d/env", S_IFDIR | 0755, NULL);
	add(t, "/.singularity.d/env/10-docker2singularity.sh", S_IFREG | 0644, NULL);
	add(t, "/.singularity.d/env/91-environment.sh", S_IFREG | 0644, NULL);
	add(t, "/singularity", S_IFREG | 0755, NULL);
	add(t, "/environment", S_IFDIR | 0755, NULL);
	/* mount points: /etc a symlink, /tmp dangling, /home whited out, /proc a file */
	add(t, "/etc", S_IFLNK | 0777, "private/etc");
	add(t, "/tmp", S_IFLNK | 0777, "/nowhere");
	add(t, "/home", 0, NULL);
	add(t, "/proc", S_IFREG | 0644, NULL);

	fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return sif_err_set(err, errno, "%s: %s", file, strerror(errno));
	r = sqfs_out_open(&out, fd, 0, &(struct sqfs_out_opts){.comp = SQFS_OUT_GZIP, .jobs = 1,
	                  .mkfs_time = time}, err);
	if (r == 0) {
		r = meta_add_singularity(t, out, config_json, strlen(config_json), time, err);
		if (r == 0)
			r = meta_ensure_mountpoints(t, out, time, err);
		if (r == 0)
			r = sqfs_out_finish(out, t, &size, err);
		sqfs_out_free(out);
	}
	close(fd);
	return r;
}

/* The file PATH of the squashfs FILE, with unsquashfs; NULL if it failed. */
static char *unsquash_cat(const char *file, const char *path)
{
	char *argv[] = {"/usr/bin/unsquashfs", "-cat", (char *)file, (char *)path, NULL};
	char *out = NULL;

	if (run(argv, NULL, NULL, &out, NULL) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void test_tree(void)
{
	const int64_t time = 1700000000;
	struct sif_err err = {0};
	struct tree t, t2;
	char file[PATH_MAX], file2[PATH_MAX];
	struct tree_node *n;
	int r;

	snprintf(file, sizeof(file), "%s/img.sqfs", tmp);
	snprintf(file2, sizeof(file2), "%s/img2.sqfs", tmp);
	r = build(&t, file, time, &err);
	if (!tap_ok(r == 0, "metadata added and the squashfs written")) {
		printf("# %s\n", err.msg);
		return;
	}

	tap_ok(shaped(&t, ".singularity.d", S_IFDIR | 0755, time) &&
	       shaped(&t, ".singularity.d/env", S_IFDIR | 0755, time) &&
	       shaped(&t, ".singularity.d/libs", S_IFDIR | 0755, time),
	       "/.singularity.d, env/ and libs/: directories, 0755, root's, mtime TIME "
	       "(a symlink libs replaced)");
	tap_ok(shaped(&t, ".singularity.d/runscript", S_IFREG | 0755, time) &&
	       node(&t, ".singularity.d/runscript")->inode->data_done,
	       "runscript: a 0755 file with its data written (the symlink replaced)");
	tap_ok(shaped(&t, ".singularity.d/labels.json", S_IFREG | 0644, time), "labels.json: 0644");
	static const char *const envs[] = {"01-base.sh", "10-docker2singularity.sh",
	                                   "90-environment.sh", "95-apps.sh", "99-base.sh"};
	bool all = true;
	for (size_t i = 0; i < 5; i++) {
		char p[128];
		snprintf(p, sizeof(p), ".singularity.d/env/%s", envs[i]);
		all = all && shaped(&t, p, S_IFREG | 0755, time);
	}
	tap_ok(all, "env/01-base.sh 10-docker2singularity.sh 90-environment.sh 95-apps.sh "
	       "99-base.sh: 0755 files");
	n = node(&t, ".singularity.d/env/91-environment.sh");
	tap_ok(n && n->inode && n->inode->uid == 1000, "a file of the layers that is not ours "
	       "(env/91-environment.sh) is kept");
	n = node(&t, "singularity");
	tap_ok(shaped(&t, "singularity", S_IFLNK | 0777, time) &&
	       strcmp(n->inode->target, ".singularity.d/runscript") == 0,
	       "/singularity -> .singularity.d/runscript (a file there replaced)");
	n = node(&t, "environment");
	tap_ok(n && S_ISDIR(n->inode->mode) && n->inode->uid == 1000,
	       "a directory /environment (someone's data) is left alone");
	tap_ok(!node(&t, ".singularity.d/actions") && !node(&t, ".singularity.d/startscript"),
	       "no actions/ and no startscript (Apptainer's runtime does not read them)");

	n = node(&t, "etc");
	tap_ok(n && S_ISLNK(n->inode->mode) && n->nchildren == 0,
	       "/etc a symlink: nothing is made through it");
	n = node(&t, "tmp");
	tap_ok(n && S_ISLNK(n->inode->mode) && strcmp(n->inode->target, "/nowhere") == 0,
	       "a dangling symlink /tmp is left");
	tap_ok(shaped(&t, "var", S_IFDIR | 0755, time) && shaped(&t, "var/tmp", S_IFDIR | 01777, time),
	       "/var made (0755) for /var/tmp (01777)");
	tap_ok(shaped(&t, "home", S_IFDIR | 0755, time), "a whited-out /home is made");
	n = node(&t, "proc");
	tap_ok(n && S_ISREG(n->inode->mode), "a file /proc is left");
	tap_ok(shaped(&t, "sys", S_IFDIR | 0755, time) && shaped(&t, "dev", S_IFDIR | 0755, time),
	       "/sys and /dev made");

	/* the same input, the same bytes */
	r = build(&t2, file2, time, &err);
	if (r == 0) {
		char *argv[] = {"/usr/bin/cmp", "-s", file, file2, NULL}, *out = NULL;
		tap_ok(run(argv, NULL, NULL, &out, NULL) == 0, "built twice: the same bytes");
		free(out);
	} else {
		tap_ok(false, "built twice: %s", err.msg);
	}
	tree_free(&t2);

	/* read back what was written */
	if (access("/usr/bin/unsquashfs", X_OK) < 0) {
		tap_skip("unsquashfs is not installed: file contents not read back");
	} else {
		json_t *cfg = parse(config_json);
		char *want = meta_runscript(cfg, &err), *got = unsquash_cat(file, ".singularity.d/runscript");
		tap_ok(want && got && strcmp(want, got) == 0, "the runscript read back is meta_runscript's");
		free(want);
		free(got);
		want = meta_labels_json(cfg, &err);
		got = unsquash_cat(file, ".singularity.d/labels.json");
		tap_ok(want && got && strcmp(want, got) == 0 &&
		       strstr(got, "\"maintainer\": \"A <a@b>\""), "labels.json read back");
		free(want);
		free(got);
		json_decref(cfg);
		/* every env script: evaluated without a shell, as the launcher does */
		struct sif_env e;
		sif_env_init(&e);
		bool simple = true;
		for (size_t i = 0; i < 5; i++) {
			char p[128];
			snprintf(p, sizeof(p), ".singularity.d/env/%s", envs[i]);
			got = unsquash_cat(file, p);
			if (!got || sif_env_apply_simple(&e, NULL, got) != 0) {
				printf("# %s is not in the simple forms:\n%s", p, got ? got : "(unreadable)");
				simple = false;
			}
			free(got);
		}
		tap_ok(simple && sif_env_get(&e, "LANG") && strcmp(sif_env_get(&e, "LANG"), "C.UTF-8") == 0,
		       "all five env scripts are in the forms the launcher evaluates without a shell");
		sif_env_free(&e);
		quiet = true;
		got = unsquash_cat(file, "etc/passwd");
		quiet = false;
		tap_ok(!got, "nothing was written through the /etc symlink");
		free(got);
	}
	tree_free(&t);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmp, sizeof(tmp), "%s/test_meta.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 99;
	}
	if (chdir(tmp) < 0) {   /* where an evaluated "touch pwned" would land */
		perror(tmp);
		return 99;
	}
	test_runscript();
	test_env();
	test_labels();
	test_tree();

	if (!getenv("TEST_META_KEEP")) {
		char *argv[] = {"/bin/rm", "-rf", tmp, NULL}, *out = NULL;
		run(argv, NULL, NULL, &out, NULL);
		free(out);
	}
	return tap_done();
}
