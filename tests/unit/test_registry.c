/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the registry client's pure parts and of the pull cache. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# cannot remove %s\n", dir);
	}
	return tap_done();
}
