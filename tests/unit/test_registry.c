/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the registry client's pure parts and of the pull cache. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include "cache.h"
#include "digest.h"
#include "registry.h"
#include "tap.h"

static void test_refs(void)
{
	static const struct { const char *in, *host, *repo, *tag, *digest; } good[] = {
		{"docker://ubuntu", REG_DOCKER_HUB, "library/ubuntu", "latest", ""},
		{"ubuntu:22.04", REG_DOCKER_HUB, "library/ubuntu", "22.04", ""},
		{"docker://user/app", REG_DOCKER_HUB, "user/app", "latest", ""},
		{"docker://docker.io/library/busybox:1.36", REG_DOCKER_HUB, "library/busybox", "1.36", ""},
		{"docker://docker.io/busybox", REG_DOCKER_HUB, "library/busybox", "latest", ""},
		{"docker://index.docker.io/u/x", REG_DOCKER_HUB, "u/x", "latest", ""},
		{"docker://localhost/app", "localhost", "app", "latest", ""},
		{"docker://localhost:5000/a/b/c:v1", "localhost:5000", "a/b/c", "v1", ""},
		{"docker://127.0.0.1:5000/test/layers:latest", "127.0.0.1:5000", "test/layers", "latest", ""},
		{"docker://ghcr.io/org/img_x-y.z:V1.0_rc-2", "ghcr.io", "org/img_x-y.z", "V1.0_rc-2", ""},
		{"docker://[::1]:5000/app", "[::1]:5000", "app", "latest", ""},
		{"docker://quay.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		 "quay.io", "a/b", "", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"docker://quay.io/a/b:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		 "quay.io", "a/b", "t", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	};
	static const char *const bad[] = {
		"docker://", "", "docker://Ubuntu", "docker://ubuntu:", "docker://ubuntu:-x",
		"docker://ubuntu@sha256:abc", "docker://ubuntu@md5:0123",
		"docker://ubuntu@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		"docker://host:99999/app", "docker://host:/app", "docker://-host.com/app",
		"docker://a//b", "docker://a/b/", "docker://_a", "docker://a b", "docker://ex.com/",
		"docker://ubuntu:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"docker://ex.com/a\x01", "docker://ex.com/a..",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct reg_ref r;
		struct sif_err e = {0};
		int rc = reg_parse_ref(good[i].in, &r, &e);
		tap_ok(rc == 0 && !strcmp(r.host, good[i].host) && !strcmp(r.repo, good[i].repo) &&
		       !strcmp(r.tag, good[i].tag) && !strcmp(r.digest, good[i].digest),
		       "ref %s -> %s %s %s %s (%s)", good[i].in, r.host, r.repo, r.tag,
		       r.digest[0] ? "@digest" : "", rc ? e.msg : "ok");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct reg_ref r;
		struct sif_err e = {0};
		int rc = reg_parse_ref(bad[i], &r, &e);
		tap_ok(rc < 0 && e.msg[0] && !strchr(e.msg, '\n'), "bad ref #%zu refused: %s", i, e.msg);
	}
	{
		char h[256];
		tap_ok(reg_host_normalize("docker.io", h, sizeof(h)) == 0 && !strcmp(h, REG_DOCKER_HUB),
		       "login host docker.io is Docker Hub");
		tap_ok(reg_host_normalize("https://reg.example.com:5000/", h, sizeof(h)) == 0 &&
		       !strcmp(h, "reg.example.com:5000"), "login host URL reduced: %s", h);
		tap_ok(reg_host_normalize("bad host", h, sizeof(h)) < 0, "login host with a space refused");
	}
}

static void test_challenges(void)
{
	struct reg_challenge c;

	tap_ok(reg_parse_challenge("Bearer realm=\"https://auth.docker.io/token\",service=\"registry."
	                           "docker.io\",scope=\"repository:library/ubuntu:pull\"", &c) == 0 &&
	       c.scheme == REG_AUTH_BEARER && !strcmp(c.realm, "https://auth.docker.io/token") &&
	       !strcmp(c.service, "registry.docker.io") &&
	       !strcmp(c.scope, "repository:library/ubuntu:pull"), "Bearer challenge");
	tap_ok(reg_parse_challenge("bearer  realm=\"https://h/t\" , scope=\"a,b\"", &c) == 0 &&
	       !strcmp(c.realm, "https://h/t") && !strcmp(c.scope, "a,b") && !c.service[0],
	       "lower-case scheme, spaces, a comma inside quotes");
	tap_ok(reg_parse_challenge("Basic realm=\"Registry Realm\"", &c) == 0 &&
	       c.scheme == REG_AUTH_BASIC && !strcmp(c.realm, "Registry Realm"), "Basic challenge");
	tap_ok(reg_parse_challenge("Basic", &c) == 0 && c.scheme == REG_AUTH_BASIC,
	       "Basic without parameters");
	tap_ok(reg_parse_challenge("Bearer realm=https://h/t,service=s", &c) == 0 &&
	       !strcmp(c.realm, "https://h/t") && !strcmp(c.service, "s"), "unquoted tokens");
	tap_ok(reg_parse_challenge("Bearer realm=\"a\\\"b\"", &c) == 0 && !strcmp(c.realm, "a\"b"),
	       "quoted-pair");
	tap_ok(reg_parse_challenge("Negotiate abc", &c) < 0, "unknown scheme refused");
	tap_ok(reg_parse_challenge("Bearer service=\"x\"", &c) < 0, "Bearer without realm refused");
	tap_ok(reg_parse_challenge("Bearer realm=\"unterminated", &c) < 0, "unterminated quote");
	tap_ok(reg_parse_challenge("Bearer =x", &c) < 0, "empty parameter name");
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static void test_auth_files(const char *dir)
{
	char p1[512], p2[512], p3[512];
	struct reg_creds c;
	struct sif_err e = {0};
	struct stat st;
	char *b;
	unsigned char dec[64];

	b = reg_base64("alice:s3:cret", 13);
	tap_ok(b && !strcmp(b, "YWxpY2U6czM6Y3JldA=="), "base64: %s", b ? b : "(null)");
	tap_ok(reg_unbase64(b, dec) == 13 && !memcmp(dec, "alice:s3:cret", 13), "base64 round trip");
	tap_ok(reg_unbase64("a$b=", dec) < 0, "bad base64 refused");
	snprintf(p1, sizeof(p1), "%s/auth.json", dir);
	snprintf(p2, sizeof(p2), "%s/docker.json", dir);
	snprintf(p3, sizeof(p3), "%s/bad.json", dir);
	{
		char json[512];
		snprintf(json, sizeof(json), "{\"auths\":{\"reg.example.com:5000\":{\"auth\":\"%s\"}}}", b);
		write_file(p1, json);
	}
	free(b);
	tap_ok(reg_auth_file_lookup(p1, "reg.example.com:5000", &c, &e) == 1 &&
	       !strcmp(c.user, "alice") && !strcmp(c.pass, "s3:cret"),
	       "sif auth.json: user and password (the password may hold ':')");
	reg_creds_free(&c);
	tap_ok(reg_auth_file_lookup(p1, "reg.example.com", &c, &e) == 0, "another port: not found");
	write_file(p2, "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"Ym9iOnB3\"},"
	               "\"http://other:80\":{\"username\":\"u\",\"password\":\"p\"},"
	               "\"helper.io\":{}},\"credsStore\":\"desktop\"}");
	tap_ok(reg_auth_file_lookup(p2, REG_DOCKER_HUB, &c, &e) == 1 && !strcmp(c.user, "bob") &&
	       !strcmp(c.pass, "pw"), "Docker config: Docker Hub's v1 URL key");
	reg_creds_free(&c);
	tap_ok(reg_auth_file_lookup(p2, "other:80", &c, &e) == 1 && !strcmp(c.user, "u"),
	       "Docker config: username/password fields and an http:// key");
	reg_creds_free(&c);
	tap_ok(reg_auth_file_lookup(p2, "helper.io", &c, &e) == 0, "a credential helper's entry "
	       "is not used");
	snprintf(p3, sizeof(p3), "%s/missing.json", dir);
	tap_ok(reg_auth_file_lookup(p3, "x", &c, &e) == 0, "a missing file: not found");
	snprintf(p3, sizeof(p3), "%s/bad.json", dir);
	write_file(p3, "{\"auths\":{\"h\":{\"auth\":\"SECRETSECRET\"}");
	memset(&e, 0, sizeof(e));
	tap_ok(reg_auth_file_lookup(p3, "h", &c, &e) < 0 && !strstr(e.msg, "SECRET"),
	       "broken JSON: an error that does not quote the file: %s", e.msg);
	write_file(p3, "{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}");
	memset(&e, 0, sizeof(e));
	tap_ok(reg_auth_file_lookup(p3, "h", &c, &e) < 0 && !strstr(e.msg, "nocolon"),
	       "an auth without ':' refused, secret not shown: %s", e.msg);

	snprintf(p3, sizeof(p3), "%s/sub/dir/auth.json", dir);
	tap_ok(reg_auth_file_store(p3, "h:1", "carol", "pa ss", &e) == 0, "store creates the file");
	tap_ok(stat(p3, &st) == 0 && (st.st_mode & 0777) == 0600, "stored file has mode 0600 (%o)",
	       (unsigned)(st.st_mode & 0777));
	tap_ok(reg_auth_file_store(p3, "h:2", "dave", "x", &e) == 0 &&
	       reg_auth_file_lookup(p3, "h:1", &c, &e) == 1 && !strcmp(c.pass, "pa ss"),
	       "a second host keeps the first");
	reg_creds_free(&c);
	chmod(p3, 0644);
	tap_ok(reg_auth_file_store(p3, "h:2", NULL, NULL, &e) == 0 &&
	       reg_auth_file_lookup(p3, "h:2", &c, &e) == 0 && stat(p3, &st) == 0 &&
	       (st.st_mode & 0777) == 0600, "remove (logout); mode 0600 again");
	memset(&e, 0, sizeof(e));
	tap_ok(reg_auth_file_store(p3, "h:2", NULL, NULL, &e) == -ENOENT, "logout twice: %s", e.msg);
}

static void test_key(void)
{
	char a[17], b[17], c[17], d[17], e[17];

	cache_options_key(6, 0, "amd64", false, 0, a);
	cache_options_key(6, 0, "amd64", false, 0, b);
	cache_options_key(1, 0, "amd64", false, 0, c);
	cache_options_key(6, 0, "arm64", false, 0, d);
	cache_options_key(6, 0, "amd64", true, 0, e);
	tap_ok(strlen(a) == 16 && !strcmp(a, b), "cache key is stable: %s", a);
	tap_ok(strcmp(a, c) && strcmp(a, d) && strcmp(a, e) && strcmp(c, d),
	       "compressor, arch and SOURCE_DATE_EPOCH change the key");
	cache_options_key(6, 19, "amd64", false, 0, c);
	tap_ok(strcmp(a, c) != 0, "the level changes the key");
}

static void test_markers(const char *dir)
{
	char p[512];
	struct timespec ts[2] = { {1000000, 0}, {1000000, 0} };
	struct sif_err e = {0};
	char sha[72], note[64];

	snprintf(p, sizeof(p), "%s/entry", dir);
	write_file(p, "hello");
	tap_ok(!cache_entry_ok(p, 5), "no marker: not valid");
	tap_ok(cache_mark(p, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	                  "reg/x:1", &e) == 0 && cache_entry_ok(p, 5) && cache_entry_ok(p, -1),
	       "marked: valid");
	tap_ok(cache_marker_read(p, sha, note, sizeof(note)) == 0 && !strncmp(sha, "sha256:0123", 11) &&
	       !strcmp(note, "reg/x:1"), "marker records digest and note");
	tap_ok(!cache_entry_ok(p, 6), "size other than the descriptor's: not valid");
	utimensat(AT_FDCWD, p, ts, 0);
	tap_ok(!cache_entry_ok(p, 5), "mtime changed: not valid");
	cache_mark(p, NULL, NULL, &e);
	write_file(p, "hellO!");
	tap_ok(!cache_entry_ok(p, -1), "size changed: not valid");
	cache_mark(p, NULL, NULL, &e);
	tap_ok(cache_entry_ok(p, 6), "marked again: valid");
	snprintf(p, sizeof(p), "%s/entry.ok", dir);
	write_file(p, "garbage");
	snprintf(p, sizeof(p), "%s/entry", dir);
	tap_ok(!cache_entry_ok(p, -1), "a garbage marker: not valid");
}

static int fetch_calls;
static int fetch_hello(void *arg, int fd, struct sif_err *err)
{
	(void)err;
	fetch_calls++;
	return write(fd, arg, strlen(arg)) == (ssize_t)strlen(arg) ? 0 : -EIO;
}

static void test_locks_and_blobs(const char *dir)
{
	char lp[512], path[PATH_MAX], dg[72];
	struct sif_cache c;
	struct sif_err e = {0};
	int fd, pfd[2], st;
	bool fetched;
	pid_t pid;

	snprintf(lp, sizeof(lp), "%s/x.lock", dir);
	fd = cache_lock(lp, &e);
	tap_ok(fd >= 0, "lock taken");
	if (pipe(pfd) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		/* another process: the lock is busy; cache_lock waits for it.
		 * (The inherited descriptor shares the parent's open file
		 * description, and with it an OFD lock: close it.) */
		char ok;
		close(fd);
		ok = cache_trylock(lp) == -EAGAIN ? 'b' : 'x';
		struct timespec t0, t1;
		int l;
		if (write(pfd[1], &ok, 1) != 1)
			_exit(2);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		l = cache_lock(lp, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ok = l >= 0 && (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 150
		     ? 'w' : 'x';
		if (write(pfd[1], &ok, 1) != 1)
			_exit(2);
		_exit(0);
	}
	{
		char got[2] = "";
		struct timespec d = {0, 300000000};
		tap_ok(read(pfd[0], &got[0], 1) == 1 && got[0] == 'b', "another process finds it busy");
		nanosleep(&d, NULL);
		cache_unlock(fd);
		tap_ok(read(pfd[0], &got[1], 1) == 1 && got[1] == 'w',
		       "another process waits, then gets it once released");
		waitpid(pid, &st, 0);
	}
	close(pfd[0]);
	close(pfd[1]);
	fd = cache_trylock(lp);
	tap_ok(fd >= 0, "free again after the holder exits");
	cache_unlock(fd);

	setenv("SIF_CACHEDIR", dir, 1);
	unsetenv("SIF_TMPDIR");
	unsetenv("SIF_CACHEDIR_SITE");
	tap_ok(cache_open(&c, true, &e) == 0, "cache open: %s", e.msg);
	sif_sha256_buf("blob!", 5, dg);
	tap_ok(cache_blob_get(&c, dg, 5, fetch_hello, (void *)"blob!", path, &fetched, &e) == 0 &&
	       fetched && cache_entry_ok(path, 5), "blob fetched into place and marked");
	tap_ok(cache_blob_get(&c, dg, 5, fetch_hello, (void *)"blob!", path, &fetched, &e) == 0 &&
	       !fetched && fetch_calls == 1, "cached blob not fetched again");
	{
		struct stat sb;
		tap_ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "blob mode 0644");
	}
	write_file(path, "BLOB!");   /* damaged: same size, new mtime */
	tap_ok(cache_blob_get(&c, dg, 5, fetch_hello, (void *)"blob!", path, &fetched, &e) == 0 &&
	       fetched, "a damaged blob (marker mismatch) is fetched again");
	sif_sha256_buf("other", 5, dg);
	memset(&e, 0, sizeof(e));
	tap_ok(cache_blob_get(&c, dg, 6, fetch_hello, (void *)"other", path, &fetched, &e) < 0 &&
	       access(path, F_OK) < 0, "short transfer: refused, nothing in place: %s", e.msg);
	{
		char *buf;
		size_t len;
		sif_sha256_buf("{}", 2, dg);
		tap_ok(cache_blob_put(&c, dg, "{}", 2, &e) == 0 &&
		       cache_blob_read(&c, dg, 100, &buf, &len) == 1 && len == 2, "put and read back");
		free(buf);
		memset(&e, 0, sizeof(e));
		tap_ok(cache_blob_put(&c, dg, "{ }", 3, &e) < 0, "put with a wrong digest refused");
	}
	{
		unsigned bad = 99;
		FILE *devnull = fopen("/dev/null", "w");
		tap_ok(cache_verify(&c, devnull, &bad, &e) == 0 && bad == 0, "verify: all good");
		sif_sha256_buf("blob!", 5, dg);
		cache_blob_path(&c, dg, path);
		write_file(path, "xxxxx");
		cache_mark(path, NULL, NULL, &e);   /* damage that the marker cannot see */
		tap_ok(cache_verify(&c, devnull, &bad, &e) == 0 && bad == 1 && access(path, F_OK) < 0,
		       "verify: a damaged blob found and removed");
		fclose(devnull);
	}
}


static void test_mirrors(void)
{
	struct reg_mirror m[REG_MAX_MIRRORS];
	struct sif_err e = {0};
	int n;

	n = reg_mirrors_parse("docker.io=mirror.example:5000,http://10.0.0.1/hub/cache; "
	                      "quay.io=https://q.example", REG_DOCKER_HUB, m, REG_MAX_MIRRORS, &e);
	tap_ok(n == 2 && !strcmp(m[0].host, "mirror.example:5000") && !m[0].prefix[0] &&
	       m[0].scheme == 0 && !strcmp(m[1].host, "10.0.0.1") &&
	       !strcmp(m[1].prefix, "hub/cache") && m[1].scheme == 1,
	       "mirrors: docker.io's two, in order, scheme and prefix (%d: %s)", n, e.msg);
	n = reg_mirrors_parse("docker.io=a.example\nquay.io=https://q.example/", "quay.io", m,
	                      REG_MAX_MIRRORS, &e);
	tap_ok(n == 1 && !strcmp(m[0].host, "q.example") && m[0].scheme == 2 && !m[0].prefix[0],
	       "mirrors: another registry's entry; a trailing '/' is no prefix");
	tap_ok(reg_mirrors_parse("docker.io=a.example", "ghcr.io", m, REG_MAX_MIRRORS, &e) == 0 &&
	       reg_mirrors_parse(NULL, "ghcr.io", m, REG_MAX_MIRRORS, &e) == 0 &&
	       reg_mirrors_parse(" ;; ", "ghcr.io", m, REG_MAX_MIRRORS, &e) == 0,
	       "mirrors: none for an unlisted registry, an empty or unset list");
	static const char *const bad[] = {
		"docker.io", "=a.example", "docker.io=", "docker.io=a.example,,b", "bad host=a",
		"docker.io=a b", "docker.io=ftp://a", "docker.io=a.example/UPPER",
		"docker.io=a.example:99999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		n = reg_mirrors_parse(bad[i], "x.example", m, REG_MAX_MIRRORS, &e);
		tap_ok(n < 0 && strstr(e.msg, "SIF_REGISTRY_MIRRORS"),
		       "mirrors: \"%s\" refused: %s", bad[i], e.msg);
	}
	memset(&e, 0, sizeof(e));
	tap_ok(reg_mirrors_parse("h.example=a,b,c", "h.example", m, 2, &e) < 0,
	       "mirrors: more than the limit refused: %s", e.msg);
}

/* A fake docker-credential-NAME in DIR/bin: answers for "good.example",
 * "credentials not found" for others, fails for "broken.example",
 * prints garbage for "garbage.example"; logs what it was asked. */
static void test_helpers(const char *dir)
{
	char bin[512], helper[600], cfg[700], conf[600], path[2048], log[600], script[2048];
	struct reg_creds c;
	struct sif_err e = {0};
	const char *old_path = getenv("PATH");
	char *saved_path = old_path ? strdup(old_path) : NULL;
	FILE *f;

	snprintf(bin, sizeof(bin), "%s/bin", dir);
	mkdir(bin, 0755);
	snprintf(log, sizeof(log), "%s/helper.log", dir);
	snprintf(helper, sizeof(helper), "%s/docker-credential-fake", bin);
	snprintf(script, sizeof(script),
	         "#!/bin/sh\n"
	         "server=$(cat)\n"
	         "printf '%%s|%%s\\n' \"$1\" \"$server\" >>'%s'\n"
	         "case $server in\n"
	         "good.example|https://index.docker.io/v1/) printf '{\"ServerURL\":\"%%s\",\"Username\":\"hu\",\"Secret\":\"TOPSECRET\"}' \"$server\" ;;\n"
	         "broken.example) echo 'helper exploded'; exit 7 ;;\n"
	         "garbage.example) echo '{\"Secret\":\"TOPSECRET\"'; exit 0 ;;\n"
	         "token.example) echo '{\"Username\":\"<token>\",\"Secret\":\"TOPSECRET\"}' ;;\n"
	         "*) echo 'credentials not found in native keychain'; exit 1 ;;\n"
	         "esac\n", log);
	write_file(helper, script);
	chmod(helper, 0755);
	snprintf(path, sizeof(path), "%s:/usr/bin:/bin", bin);
	setenv("PATH", path, 1);

	tap_ok(reg_helper_get("fake", "good.example", "test", &c, &e) == 1 && c.user &&
	       !strcmp(c.user, "hu") && !strcmp(c.pass, "TOPSECRET"),
	       "helper: Username and Secret from docker-credential-fake get (%s)", e.msg);
	reg_creds_free(&c);
	memset(&e, 0, sizeof(e));
	tap_ok(reg_helper_get("fake", "other.example", "test", &c, &e) == 0 && !c.user,
	       "helper: \"credentials not found\" is no credentials, no error");
	memset(&e, 0, sizeof(e));
	tap_ok(reg_helper_get("fake", "broken.example", "test", &c, &e) < 0 &&
	       strstr(e.msg, "status 7") && strstr(e.msg, "helper exploded") && !strchr(e.msg, '\n'),
	       "helper: a failure, one line with its status and message: %s", e.msg);
	memset(&e, 0, sizeof(e));
	tap_ok(reg_helper_get("fake", "garbage.example", "test", &c, &e) < 0 &&
	       !strstr(e.msg, "TOPSECRET"), "helper: a bad answer refused, never quoted: %s", e.msg);
	memset(&e, 0, sizeof(e));
	tap_ok(reg_helper_get("fake", "token.example", "test", &c, &e) < 0 &&
	       !strstr(e.msg, "TOPSECRET"), "helper: an identity token refused: %s", e.msg);
	memset(&e, 0, sizeof(e));
	tap_ok(reg_helper_get("absent", "good.example", "test", &c, &e) == -ENOENT &&
	       strstr(e.msg, "docker-credential-absent") && strstr(e.msg, "PATH"),
	       "helper: missing from PATH: %s", e.msg);
	memset(&e, 0, sizeof(e));
	tap_ok(reg_helper_get("../fake", "good.example", "test", &c, &e) < 0,
	       "helper: a name with '/' refused: %s", e.msg);

	/* Docker's config.json: credHelpers, then credsStore, then auths */
	snprintf(conf, sizeof(conf), "%s/dockercfg", dir);
	mkdir(conf, 0700);
	snprintf(cfg, sizeof(cfg), "%s/config.json", conf);
	setenv("DOCKER_CONFIG", conf, 1);
	setenv("XDG_CONFIG_HOME", conf, 1);   /* no sif/auth.json there */
	write_file(cfg, "{\"auths\":{\"good.example\":{\"auth\":\"Ym9iOnB3\"},"
	                "\"plain.example\":{\"auth\":\"Ym9iOnB3\"}},"
	                "\"credHelpers\":{\"good.example\":\"fake\"}}");
	tap_ok(reg_creds_lookup("good.example", &c, &e) == 1 && !strcmp(c.user, "hu"),
	       "config.json: credHelpers[host] before auths");
	reg_creds_free(&c);
	tap_ok(reg_creds_lookup("plain.example", &c, &e) == 1 && !strcmp(c.user, "bob"),
	       "config.json: a host without a helper: auths");
	reg_creds_free(&c);
	write_file(cfg, "{\"auths\":{\"https://index.docker.io/v1/\":{},"
	                "\"other.example\":{\"auth\":\"Ym9iOnB3\"}},\"credsStore\":\"fake\"}");
	tap_ok(reg_creds_lookup(REG_DOCKER_HUB, &c, &e) == 1 && !strcmp(c.pass, "TOPSECRET"),
	       "config.json: credsStore, asked for Docker Hub as https://index.docker.io/v1/");
	reg_creds_free(&c);
	tap_ok(reg_creds_lookup("other.example", &c, &e) == 1 && !strcmp(c.user, "bob"),
	       "config.json: credsStore has none: auths");
	reg_creds_free(&c);
	memset(&e, 0, sizeof(e));
	write_file(cfg, "{\"credHelpers\":{\"broken.example\":\"fake\"}}");
	tap_ok(reg_creds_lookup("broken.example", &c, &e) < 0 && strstr(e.msg, "credHelpers") &&
	       strstr(e.msg, cfg), "config.json: a failing helper is an error naming its origin: %s",
	       e.msg);
	f = fopen(log, "r");
	if (f) {
		char line[256];
		bool get = true;
		while (fgets(line, sizeof(line), f))
			get = get && !strncmp(line, "get|", 4);
		fclose(f);
		tap_ok(get, "helper: always run as 'get'");
	} else {
		tap_ok(false, "helper: no log");
	}
	unsetenv("DOCKER_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
	if (saved_path)
		setenv("PATH", saved_path, 1);
	free(saved_path);
}

/* 8 processes storing 10 hosts each into one auth.json at once: all 80
 * land (the read-change-rename is under a lock). */
static void test_auth_concurrent(const char *dir)
{
	char p[512];
	int nprocs = 8, per = 10, found = 0, failed = 0;
	pid_t pids[8];

	snprintf(p, sizeof(p), "%s/conc/auth.json", dir);
	for (int i = 0; i < nprocs; i++) {
		if ((pids[i] = fork()) == 0) {
			for (int k = 0; k < per; k++) {
				char host[64];
				snprintf(host, sizeof(host), "h%d-%d.example", i, k);
				if (reg_auth_file_store(p, host, "u", "p", NULL) < 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < nprocs; i++) {
		int st = 1;
		if (pids[i] > 0)
			waitpid(pids[i], &st, 0);
		failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (int i = 0; i < nprocs; i++)
		for (int k = 0; k < per; k++) {
			char host[64];
			struct reg_creds c;
			snprintf(host, sizeof(host), "h%d-%d.example", i, k);
			if (reg_auth_file_lookup(p, host, &c, NULL) == 1)
				found++;
			reg_creds_free(&c);
		}
	tap_ok(failed == 0 && found == nprocs * per,
	       "auth.json: %d concurrent writers, %d of %d entries land", nprocs, found, nprocs * per);
}

/* The lock-file unlink race: B waits for a lock file A holds; A removes
 * the file (as "sif cache clean" does) and lets go.  B must not count
 * the lock it then gets on the removed file: it locks the file at the
 * path instead, so C finds that busy. */
static void test_lock_unlink(const char *dir)
{
	char lp[512], ok = 0;
	int fd, tob[2], fromb[2], st;
	pid_t pid;

	snprintf(lp, sizeof(lp), "%s/race.lock", dir);
	if ((fd = cache_lock(lp, NULL)) < 0 || pipe(tob) < 0 || pipe(fromb) < 0) {
		tap_ok(false, "lock unlink race: setup");
		return;
	}
	if ((pid = fork()) == 0) {
		char go = 'o', done;
		int l;
		close(fd);
		if (write(fromb[1], &go, 1) != 1)
			_exit(2);
		l = cache_lock(lp, NULL);   /* opens the file A holds, waits */
		go = l >= 0 ? 'l' : 'x';
		if (write(fromb[1], &go, 1) != 1 || read(tob[0], &done, 1) != 1)
			_exit(2);
		_exit(0);                   /* holds it until told */
	}
	{
		struct timespec d = {0, 300000000};
		char go;
		int c;
		if (read(fromb[0], &go, 1) != 1)
			go = 0;
		nanosleep(&d, NULL);        /* B is waiting on the file now */
		unlink(lp);
		cache_unlock(fd);
		if (read(fromb[0], &ok, 1) != 1)
			ok = 0;
		c = cache_trylock(lp);
		tap_ok(go == 'o' && ok == 'l' && c == -EAGAIN,
		       "lock unlink race: B holds the file at the path, C finds it busy (%d)", c);
		if (c >= 0)
			cache_unlock(c);
		if (write(tob[1], "q", 1) != 1)
			kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	close(tob[0]);
	close(tob[1]);
	close(fromb[0]);
	close(fromb[1]);
}

static void test_refs_cache(const char *dir)
{
	struct sif_cache c;
	struct sif_err e = {0};
	char dg[72], got[72];

	setenv("SIF_CACHEDIR", dir, 1);
	unsetenv("SIF_TMPDIR");
	unsetenv("SIF_CACHEDIR_SITE");
	if (cache_open(&c, true, &e) < 0) {
		tap_ok(false, "ref records: cache open: %s", e.msg);
		return;
	}
	sif_sha256_buf("m", 1, dg);
	tap_ok(cache_ref_get(&c, "h.example/r:t", got) == 0, "ref record: none at first");
	cache_ref_put(&c, "h.example/r:t", dg);
	tap_ok(cache_ref_get(&c, "h.example/r:t", got) == 1 && !strcmp(got, dg) &&
	       cache_ref_get(&c, "h.example/r:u", got) == 0, "ref record: put, got back, per tag");
}

int main(void)
{
	char dir[] = "/tmp/sif-test-registry-XXXXXX";

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("SIF_LOCK_TIMEOUT", "20", 1);   /* a broken lock fails, not hangs */
	test_refs();
	test_challenges();
	test_auth_files(dir);
	test_key();
	test_markers(dir);
	test_locks_and_blobs(dir);
	test_mirrors();
	test_helpers(dir);
	test_auth_concurrent(dir);
	test_lock_unlink(dir);
	test_refs_cache(dir);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# cannot remove %s\n", dir);
	}
	return tap_done();
}
