/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The OCI distribution client (registry.h): references, credentials, and
 * the HTTP requests of a pull, over libcurl easy handles.
 *
 * Why redirects are followed by hand: registries send blob requests on to
 * object storage (S3, GCS, a CDN) with a 307.  The Authorization header is
 * the registry's and must not travel with it; following each hop here
 * makes that explicit instead of relying on libcurl's version-dependent
 * rules for custom headers, and refuses a hop from https down to http.
 */
#include "config.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cache.h"
#include "digest.h"
#include "io.h"
#include "registry.h"
#include "source.h"

#define ACCEPT_MANIFESTS \
	"Accept: application/vnd.oci.image.index.v1+json, " \
	"application/vnd.oci.image.manifest.v1+json, " \
	"application/vnd.docker.distribution.manifest.list.v2+json, " \
	"application/vnd.docker.distribution.manifest.v2+json"

#define MAX_TOKEN_RESPONSE (1u << 20)
#define MAX_REDIRECTS 5
#define TRIES_429 4
#define TRIES_5XX 3
#define TRIES_NET 3

/* ---- references ------------------------------------------------------------ */

static bool is_alnum_lower(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* A repository path: '/'-separated components of [a-z0-9._-], each
 * beginning and ending with a letter or digit. */
static bool repo_valid(const char *s)
{
	const char *p = s;

	if (!*s || strlen(s) > 255)
		return false;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0 || !is_alnum_lower(p[0]) || !is_alnum_lower(p[n - 1]))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!is_alnum_lower(p[i]) && p[i] != '.' && p[i] != '_' && p[i] != '-')
				return false;
		p += n;
		if (*p == '/' && !*++p)
			return false;
	}
	return true;
}

static bool tag_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* HOST[:PORT]: a DNS name or IPv4 address, or a bracketed IPv6 one. */
static bool host_valid(const char *s)
{
	const char *port = NULL;

	if (!*s || strlen(s) > 253)
		return false;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close == s + 1)
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
		if (close[1] == '\0')
			return true;
		if (close[1] != ':')
			return false;
		port = close + 2;
	} else {
		const char *p;
		for (p = s; *p && *p != ':'; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
				return false;
		if (p == s || s[0] == '-' || s[0] == '.' || p[-1] == '-' || p[-1] == '.')
			return false;
		if (*p == ':')
			port = p + 1;
	}
	if (port) {
		char *end;
		long v;
		if (!isdigit((unsigned char)*port))
			return false;
		v = strtol(port, &end, 10);
		if (*end || v < 1 || v > 65535)
			return false;
	}
	return true;
}

static bool is_docker_hub(const char *host)
{
	return !strcmp(host, "docker.io") || !strcmp(host, "index.docker.io") ||
	       !strcmp(host, REG_DOCKER_HUB);
}

int reg_parse_ref(const char *s, struct reg_ref *r, struct sif_err *err)
{
	char buf[1024], *at, *slash, *colon, *name;
	const char *host;
	size_t hl;

	memset(r, 0, sizeof(*r));
	if (strncmp(s, "docker://", 9) == 0)
		s += 9;
	if (!*s)
		return sif_err_advise(err, EINVAL, "docker://: name an image (docker://REPO[:TAG])");
	if (strlen(s) >= sizeof(buf))
		return sif_err_advise(err, EINVAL, "docker://%.40s...: the reference is too long", s);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return sif_err_advise(err, EINVAL, "docker:// reference with a space or a "
			                      "control or non-ASCII character: check it");
	strcpy(buf, s);
	if ((at = strchr(buf, '@'))) {
		*at++ = '\0';
		if (!img_digest_valid(at))
			return sif_err_advise(err, EINVAL, "docker://%s: '@%s' is not a digest: give "
			                      "@sha256: and 64 lowercase hex digits", s, at);
		memcpy(r->digest, at, IMG_DIGEST_LEN + 1);
	}
	slash = strchr(buf, '/');
	name = buf;
	host = "docker.io";
	hl = 9;
	if (slash && (memchr(buf, '.', (size_t)(slash - buf)) || memchr(buf, ':', (size_t)(slash - buf)) ||
	              (slash - buf == 9 && strncmp(buf, "localhost", 9) == 0))) {
		host = buf;
		hl = (size_t)(slash - buf);
		*slash = '\0';
		name = slash + 1;
		if (!host_valid(host))
			return sif_err_advise(err, EINVAL, "docker://%s: '%s' is not a registry host "
			                      "name (HOST or HOST:PORT)", s, host);
	}
	if ((colon = strrchr(name, ':'))) {
		*colon++ = '\0';
		if (!tag_valid(colon))
			return sif_err_advise(err, EINVAL, "docker://%s: '%s' is not a tag (letters, "
			                      "digits, '_', '.', '-'; at most 128)", s, colon);
		snprintf(r->tag, sizeof(r->tag), "%s", colon);
	} else if (!r->digest[0]) {
		strcpy(r->tag, "latest");
	}
	if (!repo_valid(name))
		return sif_err_advise(err, EINVAL, "docker://%s: '%s' is not a repository name "
		                      "(lowercase letters, digits and '._-', components separated "
		                      "by '/')", s, name);
	if (hl == 9 && is_docker_hub(host)) {
		strcpy(r->host, REG_DOCKER_HUB);
		if (!strchr(name, '/')) {
			if (strlen(name) + 8 >= sizeof(r->repo))
				return sif_err_advise(err, EINVAL, "docker://%s: the name is too long", s);
			snprintf(r->repo, sizeof(r->repo), "library/%.*s", (int)(sizeof(r->repo) - 9), name);
			return 0;
		}
	} else {
		char h[256];
		snprintf(h, sizeof(h), "%.*s", (int)hl, host);
		snprintf(r->host, sizeof(r->host), "%s", is_docker_hub(h) ? REG_DOCKER_HUB : h);
	}
	snprintf(r->repo, sizeof(r->repo), "%s", name);
	return 0;
}

int reg_host_normalize(const char *in, char *out, size_t n)
{
	char buf[300];

	if (!strncmp(in, "https://", 8))
		in += 8;
	else if (!strncmp(in, "http://", 7))
		in += 7;
	if ((size_t)snprintf(buf, sizeof(buf), "%s", in) >= sizeof(buf))
		return -EINVAL;
	buf[strcspn(buf, "/")] = '\0';
	if (!host_valid(buf))
		return -EINVAL;
	snprintf(out, n, "%s", is_docker_hub(buf) ? REG_DOCKER_HUB : buf);
	return 0;
}

void reg_ref_format(const struct reg_ref *r, char *buf, size_t n)
{
	if (r->digest[0] && r->tag[0])
		snprintf(buf, n, "%s/%s:%s@%s", r->host, r->repo, r->tag, r->digest);
	else if (r->digest[0])
		snprintf(buf, n, "%s/%s@%s", r->host, r->repo, r->digest);
	else
		snprintf(buf, n, "%s/%s:%s", r->host, r->repo, r->tag);
}

/* ---- WWW-Authenticate ------------------------------------------------------ */

int reg_parse_challenge(const char *v, struct reg_challenge *c)
{
	const char *p = v;
	size_t n;

	memset(c, 0, sizeof(*c));
	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t");
	if (n == 5 && strncasecmp(p, "basic", 5) == 0)
		c->scheme = REG_AUTH_BASIC;
	else if (n == 6 && strncasecmp(p, "bearer", 6) == 0)
		c->scheme = REG_AUTH_BEARER;
	else
		return -EINVAL;
	p += n;
	/* auth-params: name=token / name="quoted\"string", comma-separated */
	for (;;) {
		char key[32], val[1024];
		size_t k = 0, vl = 0;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		while (*p && *p != '=' && *p != ' ' && *p != ',' && k + 1 < sizeof(key))
			key[k++] = *p++;
		key[k] = '\0';
		while (*p == ' ')
			p++;
		if (*p != '=' || k == 0)
			return -EINVAL;
		p++;
		while (*p == ' ')
			p++;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (vl + 1 >= sizeof(val))
					return -EINVAL;
				val[vl++] = *p;
			}
			if (*p != '"')
				return -EINVAL;
			p++;
		} else {
			for (; *p && *p != ',' && *p != ' '; p++) {
				if (vl + 1 >= sizeof(val))
					return -EINVAL;
				val[vl++] = *p;
			}
		}
		val[vl] = '\0';
		if (!strcasecmp(key, "realm"))
			snprintf(c->realm, sizeof(c->realm), "%s", val);
		else if (!strcasecmp(key, "service"))
			snprintf(c->service, sizeof(c->service), "%s", val);
		else if (!strcasecmp(key, "scope"))
			snprintf(c->scope, sizeof(c->scope), "%s", val);
	}
	if (c->scheme == REG_AUTH_BEARER && !c->realm[0])
		return -EINVAL;
	return 0;
}

/* ---- base64 ------------------------------------------------------------------ */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *reg_base64(const void *buf, size_t n)
{
	const unsigned char *s = buf;
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

long reg_unbase64(const char *in, unsigned char *out)
{
	unsigned v = 0;
	int bits = 0;
	long n = 0;
	bool pad = false;

	for (; *in; in++) {
		const char *q;
		if (*in == '=') {
			pad = true;
			continue;
		}
		if (pad || !(q = strchr(b64, *in)) || !*in)
			return -1;
		v = (v << 6) | (unsigned)(q - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	out[n] = '\0';
	return n;
}

/* ---- credentials ------------------------------------------------------------ */

void reg_creds_free(struct reg_creds *c)
{
	if (c->pass) {
		explicit_bzero(c->pass, strlen(c->pass));
		free(c->pass);
	}
	free(c->user);
	c->user = c->pass = NULL;
}

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	return h && *h == '/' ? h : NULL;
}

int reg_auth_path(char *buf, size_t n, struct sif_err *err)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *h = home_dir();

	if (x && *x == '/')
		snprintf(buf, n, "%s/sif/auth.json", x);
	else if (h)
		snprintf(buf, n, "%s/.config/sif/auth.json", h);
	else
		return sif_err_advise(err, ENOENT, "no home directory ($HOME) for the registry "
		                      "credentials: set HOME or XDG_CONFIG_HOME");
	return 0;
}

/* An auths key in Docker's forms ("https://host/v1/", "http://host")
 * reduced to HOST[:PORT], into OUT. */
static void key_host(const char *key, char *out, size_t n)
{
	const char *p = key;

	if (!strncmp(p, "https://", 8))
		p += 8;
	else if (!strncmp(p, "http://", 7))
		p += 7;
	snprintf(out, n, "%.*s", (int)strcspn(p, "/"), p);
}

static bool host_matches(const char *key, const char *host)
{
	char k[300];

	key_host(key, k, sizeof(k));
	if (!strcmp(k, host))
		return true;
	return is_docker_hub(k) && is_docker_hub(host);
}

static int creds_from_entry(json_t *e, struct reg_creds *c, const char *path, const char *host,
                            struct sif_err *err)
{
	json_t *a = json_object_get(e, "auth");
	json_t *u = json_object_get(e, "username"), *pw = json_object_get(e, "password");

	if (json_is_string(a) && json_string_length(a) > 0) {
		const char *s = json_string_value(a);
		unsigned char *dec = malloc(strlen(s) / 4 * 3 + 4);
		char *colon;
		long n;
		if (!dec)
			return sif_err_set(err, ENOMEM, "out of memory");
		n = reg_unbase64(s, dec);
		colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
		if (!colon || memchr(dec, '\0', (size_t)n)) {
			explicit_bzero(dec, strlen(s) / 4 * 3 + 4);
			free(dec);
			return sif_err_advise(err, SIF_EFORMAT, "%s: the entry for %s is not "
			                      "base64(user:password): run 'sif login %s' again",
			                      path, host, host);
		}
		*colon = '\0';
		c->user = strdup((char *)dec);
		c->pass = strdup(colon + 1);
		explicit_bzero(dec, (size_t)n);
		free(dec);
	} else if (json_is_string(u) && json_is_string(pw)) {
		c->user = strdup(json_string_value(u));
		c->pass = strdup(json_string_value(pw));
	} else {
		return 0;   /* a credential helper's entry: not ours to use */
	}
	if (!c->user || !c->pass) {
		reg_creds_free(c);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	return 1;
}

static int load_json(const char *path, json_t **out, struct sif_err *err)
{
	json_error_t je;
	json_t *j;

	*out = NULL;
	if (access(path, F_OK) < 0)
		return errno == ENOENT ? 0 : sif_err_set(err, errno, "%s: %s", path, strerror(errno));
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		/* jansson's text may quote the file, and the file holds secrets */
		return sif_err_advise(err, SIF_EFORMAT, "%s: not valid JSON (line %d): repair or "
		                      "remove it", path, je.line);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return sif_err_advise(err, SIF_EFORMAT, "%s: not a JSON object: repair or remove it",
		                      path);
	}
	*out = j;
	return 1;
}

int reg_auth_file_lookup(const char *path, const char *host, struct reg_creds *c,
                         struct sif_err *err)
{
	json_t *j, *auths, *e;
	const char *k;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = load_json(path, &j, err)) <= 0)
		return r;
	auths = json_object_get(j, "auths");
	r = 0;
	if (json_is_object(auths)) {
		e = json_object_get(auths, host);   /* the exact key first */
		if (json_is_object(e))
			r = creds_from_entry(e, c, path, host, err);
		if (r == 0)
			json_object_foreach(auths, k, e) {
				if (json_is_object(e) && host_matches(k, host) &&
				    (r = creds_from_entry(e, c, path, host, err)) != 0)
					break;
			}
	}
	json_decref(j);
	return r;
}

/* ---- Docker credential helpers ---------------------------------------------- */

#define HELPER_OUTPUT_MAX (64u << 10)
#define HELPER_TIMEOUT_MS 60000

static bool helper_name_valid(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 64 || n[0] == '.' || n[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '.' && n[i] != '_' && n[i] != '-')
			return false;
	return true;
}

/* The first line of a helper's message, printable ASCII, at most 120
 * characters, into OUT. */
static void helper_says(const char *buf, size_t len, char *out, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < len && buf[i] != '\n' && k + 1 < n && k < 120; i++)
		if ((unsigned char)buf[i] >= 0x20 && (unsigned char)buf[i] < 0x7f)
			out[k++] = buf[i];
	out[k] = '\0';
}

/* The first executable PROG in $PATH's directories, into FULL. */
static bool find_on_path(const char *prog, char *full, size_t n)
{
	const char *p = getenv("PATH");

	for (p = p ? p : "/usr/local/bin:/usr/bin:/bin"; *p;) {
		size_t len = strcspn(p, ":");
		if (len > 0 && p[0] == '/' &&
		    (size_t)snprintf(full, n, "%.*s/%s", (int)len, p, prog) < n &&
		    access(full, X_OK) == 0)
			return true;
		p += len;
		if (*p == ':')
			p++;
	}
	return false;
}

int reg_helper_get(const char *helper, const char *server, const char *origin,
                   struct reg_creds *c, struct sif_err *err)
{
	char prog[96], full[PATH_MAX], *argv[3], *buf = NULL, msg[128];
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status = 0, r;
	size_t len = 0, cap = 0;
	posix_spawn_file_actions_t fa;
	struct timespec t0, now;
	json_t *j = NULL, *u, *sec;
	pid_t pid;
	bool killed = false;

	memset(c, 0, sizeof(*c));
	if (!helper_name_valid(helper))
		return sif_err_advise(err, EINVAL, "%s: credential helper name \"%.64s\": not a "
		                      "plain name (letters, digits, '._-'): fix it", origin, helper);
	snprintf(prog, sizeof(prog), "docker-credential-%s", helper);
	if (!find_on_path(prog, full, sizeof(full))) {
		r = sif_err_advise(err, ENOENT, "%s: credential helper %s: not found on PATH: "
		                   "install it, or remove it from %s", server, prog, origin);
		goto out;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		r = sif_err_set(err, errno, "%s: pipe: %s", prog, strerror(errno));
		goto out;
	}
	argv[0] = prog;
	argv[1] = (char *)"get";
	argv[2] = NULL;
	/* stdin and stdout are the pipes, stderr /dev/null (a helper's
	 * diagnostics are not ours to show), and no other descriptor */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	r = posix_spawn(&pid, full, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (r != 0) {
		r = sif_err_advise(err, r, "%s: cannot run the credential helper %s: %s (%s)",
		                   server, full, strerror(r), origin);
		goto out;
	}
	/* the server, without a newline, as Docker sends it; a helper that
	 * exits without reading it must not kill us with SIGPIPE */
	{
		/* blocked in this thread only, and a pending one consumed */
		sigset_t pipe_set, old_mask;
		struct timespec zero = {0, 0};
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
		if (write(in[1], server, strlen(server)) < 0 && errno == EPIPE)
			sigtimedwait(&pipe_set, NULL, &zero);   /* its exit status tells */
		pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	}
	close(in[1]);
	in[1] = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		long left;
		ssize_t n;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = HELPER_TIMEOUT_MS - ((now.tv_sec - t0.tv_sec) * 1000 +
		                            (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (len + 4096 > cap) {
			char *nb;
			if (cap >= HELPER_OUTPUT_MAX) {
				kill(pid, SIGKILL);
				killed = true;
				break;
			}
			/* grown by hand: realloc would leave a copy of the secret behind */
			if (!(nb = malloc((cap ? cap * 2 : 8192) + 1))) {
				kill(pid, SIGKILL);
				r = sif_err_set(err, ENOMEM, "out of memory");
				waitpid(pid, &status, 0);
				goto out;
			}
			if (buf) {
				memcpy(nb, buf, len);
				explicit_bzero(buf, cap + 1);
				free(buf);
			}
			buf = nb;
			cap = cap ? cap * 2 : 8192;
		}
		n = read(out[0], buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (buf)
		buf[len] = '\0';
	if (killed) {
		r = sif_err_advise(err, ETIMEDOUT, "%s: credential helper %s (%s) did not answer "
		                   "within %d s or said too much: check it", server, prog, origin,
		                   HELPER_TIMEOUT_MS / 1000);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		helper_says(buf ? buf : "", len, msg, sizeof(msg));
		/* docker-credential-helpers' "not found" answer: no credentials */
		if (WIFEXITED(status) && strstr(msg, "credentials not found")) {
			r = 0;
			goto out;
		}
		if (WIFEXITED(status))
			r = sif_err_advise(err, EACCES, "%s: credential helper %s (%s) failed with "
			                   "status %d%s%s: check it, or 'sif login %s'", server, prog,
			                   origin, WEXITSTATUS(status), msg[0] ? ": " : "", msg, server);
		else
			r = sif_err_advise(err, EACCES, "%s: credential helper %s (%s) was killed by "
			                   "signal %d: check it", server, prog, origin,
			                   WTERMSIG(status));
		goto out;
	}
	j = buf ? json_loadb(buf, len, 0, NULL) : NULL;
	u = json_object_get(j, "Username");
	sec = json_object_get(j, "Secret");
	if (!json_is_string(u) || !json_is_string(sec) || !json_string_length(sec)) {
		/* never quote it: it may hold the secret */
		r = sif_err_advise(err, SIF_EFORMAT, "%s: credential helper %s (%s) answered "
		                   "something other than {\"Username\": ..., \"Secret\": ...}: "
		                   "check it", server, prog, origin);
		goto out;
	}
	if (!strcmp(json_string_value(u), "<token>")) {
		r = sif_err_advise(err, ENOTSUP, "%s: credential helper %s (%s) holds an identity "
		                   "token, which sif does not use: run 'sif login %s'", server, prog,
		                   origin, server);
		goto out;
	}
	c->user = strdup(json_string_value(u));
	c->pass = strdup(json_string_value(sec));
	if (!c->user || !c->pass) {
		reg_creds_free(c);
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	r = 1;
out:
	if (j) {
		/* the Secret's copy inside the JSON tree */
		sec = json_object_get(j, "Secret");
		if (json_is_string(sec))
			explicit_bzero((char *)json_string_value(sec), json_string_length(sec));
		json_decref(j);
	}
	if (buf) {
		explicit_bzero(buf, cap ? cap + 1 : len);
		free(buf);
	}
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return r;
}

/* Docker's config.json at PATH: credHelpers[HOST], else credsStore, else
 * auths[HOST] (as Docker reads them). */
static int docker_config_lookup(const char *path, const char *host, struct reg_creds *c,
                                struct sif_err *err)
{
	/* the key credential helpers store Docker Hub under */
	const char *server = is_docker_hub(host) ? "https://index.docker.io/v1/" : host;
	json_t *j, *helpers, *store, *e;
	char origin[4200];
	const char *k;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = load_json(path, &j, err)) <= 0)
		return r;
	helpers = json_object_get(j, "credHelpers");
	store = json_object_get(j, "credsStore");
	r = 0;
	if (json_is_object(helpers)) {
		json_object_foreach(helpers, k, e) {
			if (json_is_string(e) && (!strcmp(k, host) || host_matches(k, host))) {
				snprintf(origin, sizeof(origin), "credHelpers in %s", path);
				r = reg_helper_get(json_string_value(e), is_docker_hub(host) ? server : k,
				                   origin, c, err);
				goto out;
			}
		}
	}
	if (json_is_string(store) && json_string_length(store)) {
		snprintf(origin, sizeof(origin), "credsStore in %s", path);
		if ((r = reg_helper_get(json_string_value(store), server, origin, c, err)) != 0)
			goto out;
	}
	json_decref(j);
	return reg_auth_file_lookup(path, host, c, err);
out:
	json_decref(j);
	return r;
}

int reg_creds_lookup(const char *host, struct reg_creds *c, struct sif_err *err)
{
	char path[4096];
	const char *d = getenv("DOCKER_CONFIG"), *h = home_dir();
	int r;

	memset(c, 0, sizeof(*c));
	if (reg_auth_path(path, sizeof(path), NULL) == 0 &&
	    (r = reg_auth_file_lookup(path, host, c, err)) != 0)
		return r;
	if (d && *d)
		snprintf(path, sizeof(path), "%s/config.json", d);
	else if (h)
		snprintf(path, sizeof(path), "%s/.docker/config.json", h);
	else
		return 0;
	return docker_config_lookup(path, host, c, err);
}

int reg_auth_file_store(const char *path, const char *host, const char *user, const char *pass,
                        struct sif_err *err)
{
	char own[4096], dir[4096], tmp[4200], lockp[4200], *slash, *userpass = NULL, *enc = NULL;
	json_t *j = NULL, *auths, *e;
	int r, fd = -1, lk;

	if (!path) {
		if ((r = reg_auth_path(own, sizeof(own), err)) < 0)
			return r;
		path = own;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (user && slash && slash != dir) {
		*slash = '\0';
		if ((r = sif_mkdirs(dir, 0700)) < 0)
			return sif_err_set(err, -r, "%s: %s", dir, strerror(-r));
	}
	/* read, change, write and rename under a lock: two logins at once
	 * both land (the lock file stays; it holds nothing) */
	snprintf(lockp, sizeof(lockp), "%s.lock", path);
	if (!user && access(path, F_OK) < 0 && errno == ENOENT)
		return sif_err_advise(err, ENOENT, "not logged in to %s (%s does not exist)", host,
		                      path);
	if ((lk = cache_lock(lockp, err)) < 0)
		return lk;
	if ((r = load_json(path, &j, err)) < 0) {
		cache_unlock(lk);
		return r;
	}
	if (!j && !(j = json_object())) {
		cache_unlock(lk);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	auths = json_object_get(j, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		if (!auths || json_object_set_new(j, "auths", auths) < 0) {
			r = sif_err_set(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	if (!user) {
		if (!json_object_get(auths, host)) {
			r = sif_err_advise(err, ENOENT, "not logged in to %s (%s has no entry for it)",
			                   host, path);
			goto out;
		}
		json_object_del(auths, host);
	} else {
		size_t ul = strlen(user), pl = strlen(pass);
		if (!(userpass = malloc(ul + pl + 2))) {
			r = sif_err_set(err, ENOMEM, "out of memory");
			goto out;
		}
		memcpy(userpass, user, ul);
		userpass[ul] = ':';
		memcpy(userpass + ul + 1, pass, pl + 1);
		enc = reg_base64(userpass, ul + pl + 1);
		e = json_object();
		if (!enc || !e || json_object_set_new(e, "auth", json_string(enc)) < 0 ||
		    json_object_set_new(auths, host, e) < 0) {
			r = sif_err_set(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {   /* mode 0600 */
		r = sif_err_set(err, errno, "%s: cannot create a temporary file: %s", path,
		                strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || json_dumpfd(j, fd, JSON_INDENT(1) | JSON_SORT_KEYS) < 0 ||
	    write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		r = sif_err_set(err, errno ? errno : EIO, "%s: cannot write: %s", tmp,
		                strerror(errno ? errno : EIO));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		r = sif_err_set(err, errno, "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	cache_unlock(lk);
	if (userpass) {
		explicit_bzero(userpass, strlen(userpass));
		free(userpass);
	}
	if (enc) {
		explicit_bzero(enc, strlen(enc));
		free(enc);
	}
	json_decref(j);
	return r;
}

/* ---- the client ------------------------------------------------------------- */

/* One endpoint: the registry itself, or one of its mirrors.  A client is
 * a chain of them, the mirrors first (SIF_REGISTRY_MIRRORS) and the
 * registry last; the public requests walk the chain. */
struct reg_client {
	char base[300];        /* "https://HOST" */
	char host[256];
	char repo[256];        /* with the mirror's prefix */
	bool insecure;
	bool mirror;
	bool down;             /* a mirror that could not be reached: skipped (atomic) */
	char *ca_file;
	int verbose;
	struct reg_timeouts t;
	struct reg_creds creds;
	bool have_creds;
	bool creds_loaded;
	pthread_mutex_t lock;
	char *auth;            /* "Authorization: ..." once known; under LOCK */
	CURL *h;               /* for manifests (the calling thread's) */
	struct reg_client *next;
};

int reg_global_init(struct sif_err *err)
{
	static bool done;

	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return sif_err_set(err, ENOMEM, "cannot initialise libcurl");
	done = true;
	return 0;
}

bool reg_host_insecure(const char *host)
{
	const char *l = getenv("SIF_INSECURE_REGISTRIES");
	size_t hl = strlen(host);

	while (l && *l) {
		size_t n;
		while (*l == ',' || *l == ' ')
			l++;
		n = strcspn(l, ", ");
		if (n == hl && strncmp(l, host, n) == 0)
			return true;
		l += n;
	}
	return false;
}

/* ---- timeouts ----------------------------------------------------------------- */

static int env_seconds(const char *name, long def, long *out, struct sif_err *err)
{
	const char *v = getenv(name);
	char *end;
	long n;

	*out = def;
	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < 1 || n > 86400)
		return sif_err_advise(err, EINVAL, "%s=%.40s: not a number of seconds from 1 to "
		                      "86400: fix or unset it", name, v);
	*out = n;
	return 0;
}

int reg_timeouts_get(struct reg_timeouts *t, struct sif_err *err)
{
	int r;

	if ((r = env_seconds("SIF_PULL_CONNECT_TIMEOUT", REG_CONNECT_TIMEOUT, &t->connect, err)) < 0 ||
	    (r = env_seconds("SIF_PULL_REQUEST_TIMEOUT", REG_REQUEST_TIMEOUT, &t->request, err)) < 0 ||
	    (r = env_seconds("SIF_PULL_STALL_TIMEOUT", REG_STALL_TIMEOUT, &t->stall, err)) < 0)
		return r;
	return 0;
}

/* ---- mirrors ------------------------------------------------------------------ */

static const char *skip_sep(const char *p)
{
	while (*p == ';' || *p == ' ' || *p == '\t' || *p == '\n')
		p++;
	return p;
}

int reg_mirrors_parse(const char *spec, const char *host, struct reg_mirror *out, size_t max,
                      struct sif_err *err)
{
	const char *p = spec ? spec : "";
	size_t n = 0;

	for (p = skip_sep(p); *p; p = skip_sep(p)) {
		size_t len = strcspn(p, "; \t\n");
		char entry[2048], key[300], *eq, *m;
		bool mine;
		if (len >= sizeof(entry))
			return sif_err_advise(err, EINVAL, "SIF_REGISTRY_MIRRORS: an entry is too long");
		memcpy(entry, p, len);
		entry[len] = '\0';
		p += len;
		if (!(eq = strchr(entry, '=')) || eq == entry || !eq[1])
			return sif_err_advise(err, EINVAL, "SIF_REGISTRY_MIRRORS: '%.80s' is not "
			                      "REGISTRY=MIRROR[,MIRROR...] (see sif-pull(1))", entry);
		*eq = '\0';
		if (reg_host_normalize(entry, key, sizeof(key)) < 0)
			return sif_err_advise(err, EINVAL, "SIF_REGISTRY_MIRRORS: '%.80s' is not a "
			                      "registry host (HOST or HOST:PORT)", entry);
		mine = host && !strcmp(key, host);
		for (m = eq + 1; *m;) {
			size_t ml = strcspn(m, ",");
			char one[600], *slash;
			struct reg_mirror mr = {0};
			const char *h = one;
			if (ml == 0 || ml >= sizeof(one))
				return sif_err_advise(err, EINVAL, "SIF_REGISTRY_MIRRORS: an empty or "
				                      "too long mirror for %s", key);
			memcpy(one, m, ml);
			one[ml] = '\0';
			m += ml;
			if (*m == ',')
				m++;
			if (!strncmp(h, "https://", 8)) {
				mr.scheme = 2;
				h += 8;
			} else if (!strncmp(h, "http://", 7)) {
				mr.scheme = 1;
				h += 7;
			}
			if ((slash = strchr(h, '/'))) {
				*slash++ = '\0';
				while (*slash && slash[strlen(slash) - 1] == '/')
					slash[strlen(slash) - 1] = '\0';
				if (*slash && !repo_valid(slash))
					return sif_err_advise(err, EINVAL, "SIF_REGISTRY_MIRRORS: '%.80s' is not "
					                      "a repository prefix (lowercase letters, digits, "
					                      "'._-', '/')", slash);
				if (strlen(slash) >= sizeof(mr.prefix))
					return sif_err_advise(err, EINVAL, "SIF_REGISTRY_MIRRORS: the prefix "
					                      "'%.80s...' is too long", slash);
				snprintf(mr.prefix, sizeof(mr.prefix), "%.255s", slash);
			}
			if (strlen(h) >= sizeof(mr.host) || !host_valid(h))
				return sif_err_advise(err, EINVAL, "SIF_REGISTRY_MIRRORS: '%.80s' is not a "
				                      "mirror host (HOST or HOST:PORT)", h);
			snprintf(mr.host, sizeof(mr.host), "%.255s", h);
			if (!mine)
				continue;
			if (n == max)
				return sif_err_advise(err, E2BIG, "SIF_REGISTRY_MIRRORS: more than %zu "
				                      "mirrors for %s", max, key);
			out[n++] = mr;
		}
	}
	return (int)n;
}

/* ---- the client ---------------------------------------------------------------- */

static int endpoint_new(struct reg_client **cp, const char *host, const char *prefix,
                        const char *repo, bool insecure, const struct reg_opts *o,
                        const struct reg_timeouts *t, const struct reg_creds *creds,
                        struct sif_err *err)
{
	struct reg_client *c = calloc(1, sizeof(*c));

	*cp = NULL;
	if (!c)
		return sif_err_set(err, ENOMEM, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	snprintf(c->host, sizeof(c->host), "%s", host);
	if ((size_t)snprintf(c->repo, sizeof(c->repo), "%s%s%s", prefix ? prefix : "",
	                     prefix && *prefix ? "/" : "", repo) >= sizeof(c->repo)) {
		reg_client_close(c);
		return sif_err_advise(err, ENAMETOOLONG, "mirror %s/%s: the repository name is too "
		                      "long", host, prefix ? prefix : "");
	}
	c->insecure = insecure;
	snprintf(c->base, sizeof(c->base), "%s://%s", insecure ? "http" : "https", host);
	c->verbose = o->verbose;
	c->t = *t;
	if (o->ca_file && !(c->ca_file = strdup(o->ca_file)))
		goto nomem;
	if (creds) {
		c->creds.user = strdup(creds->user);
		c->creds.pass = strdup(creds->pass);
		if (!c->creds.user || !c->creds.pass)
			goto nomem;
		c->have_creds = c->creds_loaded = true;
	}
	*cp = c;
	return 0;
nomem:
	reg_client_close(c);
	return sif_err_set(err, ENOMEM, "out of memory");
}

int reg_client_open(struct reg_client **cp, const struct reg_ref *ref, const struct reg_opts *o,
                    struct sif_err *err)
{
	struct reg_mirror mv[REG_MAX_MIRRORS];
	struct reg_client *head = NULL, **tail = &head, *e;
	struct reg_timeouts t;
	int r, n = 0;

	*cp = NULL;
	if ((r = reg_global_init(err)) < 0 || (r = reg_timeouts_get(&t, err)) < 0)
		return r;
	/* mirrors serve pulls, not logins (those name the registry itself) */
	if (!o->creds && (n = reg_mirrors_parse(getenv("SIF_REGISTRY_MIRRORS"), ref->host, mv,
	                                        REG_MAX_MIRRORS, err)) < 0)
		return n;
	for (int i = 0; i < n; i++) {
		bool insecure = mv[i].scheme == 1 || (mv[i].scheme == 0 && reg_host_insecure(mv[i].host));
		if ((r = endpoint_new(&e, mv[i].host, mv[i].prefix, ref->repo, insecure, o, &t, NULL,
		                      err)) < 0) {
			reg_client_close(head);
			return r;
		}
		e->mirror = true;
		*tail = e;
		tail = &e->next;
	}
	if ((r = endpoint_new(&e, ref->host, NULL, ref->repo,
	                      o->insecure || reg_host_insecure(ref->host), o, &t, o->creds, err)) < 0) {
		reg_client_close(head);
		return r;
	}
	*tail = e;
	*cp = head;
	return 0;
}

void reg_client_close(struct reg_client *c)
{
	while (c) {
		struct reg_client *next = c->next;
		if (c->h)
			curl_easy_cleanup(c->h);
		reg_creds_free(&c->creds);
		if (c->auth) {
			explicit_bzero(c->auth, strlen(c->auth));
			free(c->auth);
		}
		free(c->ca_file);
		pthread_mutex_destroy(&c->lock);
		free(c);
		c = next;
	}
}

static void set_auth(struct reg_client *c, char *hdr)
{
	pthread_mutex_lock(&c->lock);
	if (c->auth) {
		explicit_bzero(c->auth, strlen(c->auth));
		free(c->auth);
	}
	c->auth = hdr;
	pthread_mutex_unlock(&c->lock);
}

static char *get_auth(struct reg_client *c)
{
	char *a = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->auth)
		a = strdup(c->auth);
	pthread_mutex_unlock(&c->lock);
	return a;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The stored credentials for the host, loaded once. */
static int load_creds(struct reg_client *c, struct sif_err *err)
{
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->creds_loaded) {
		r = reg_creds_lookup(c->host, &c->creds, err);
		if (r >= 0) {
			c->have_creds = r > 0;
			c->creds_loaded = true;
			r = 0;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* One transfer's state: response headers, and where its body goes. */
struct xfer {
	CURL *h;
	long status;
	char ctype[128];
	char dcd[80];            /* Docker-Content-Digest */
	char www[1024];          /* the first challenge we speak */
	long retry_after;        /* seconds, -1 if none */
	/* body of a 2xx response */
	int fd;                  /* or -1: to memory */
	char *buf;
	size_t len, cap, max;
	struct sif_sha256 *hash;
	int64_t expect;          /* blob size, -1 unknown */
	uint64_t got;
	bool too_big;
	int werr;
	void (*progress)(void *, uint64_t);
	void *parg;
};

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = sz * n, k;
	char line[1100], *v;

	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {  /* a new response (after a 100, say) */
		x->ctype[0] = x->dcd[0] = x->www[0] = '\0';
		x->retry_after = -1;
		return len;
	}
	k = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, p, k);
	line[k] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (!(v = strchr(line, ':')))
		return len;
	*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	if (!strcasecmp(line, "content-type")) {
		snprintf(x->ctype, sizeof(x->ctype), "%.*s", (int)strcspn(v, "; "), v);
	} else if (!strcasecmp(line, "docker-content-digest")) {
		snprintf(x->dcd, sizeof(x->dcd), "%s", v);
	} else if (!strcasecmp(line, "www-authenticate")) {
		struct reg_challenge ch;
		if (reg_parse_challenge(v, &ch) == 0 &&
		    (!x->www[0] || ch.scheme == REG_AUTH_BEARER))
			snprintf(x->www, sizeof(x->www), "%s", v);
	} else if (!strcasecmp(line, "retry-after")) {
		char *end;
		long s = strtol(v, &end, 10);
		if (end != v && *end == '\0' && s >= 0) {
			x->retry_after = s;
		} else {
			time_t t = curl_getdate(v, NULL);
			if (t > 0)
				x->retry_after = t > time(NULL) ? (long)(t - time(NULL)) : 0;
		}
	}
	return len;
}

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = sz * n;
	long st = 0;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
	if (st < 200 || st >= 300)
		return len;          /* an error page, or a redirect's body */
	if (x->expect >= 0 && x->got + len > (uint64_t)x->expect) {
		x->too_big = true;
		return 0;
	}
	if (x->fd >= 0) {
		for (size_t off = 0; off < len;) {
			ssize_t w = write(x->fd, p + off, len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				x->werr = w < 0 ? errno : EIO;
				return 0;
			}
			off += (size_t)w;
		}
	} else {
		if (x->len + len > x->max) {
			x->too_big = true;
			return 0;
		}
		if (x->len + len + 1 > x->cap) {
			size_t cap = x->cap ? x->cap : 16384;
			char *nb;
			while (cap < x->len + len + 1)
				cap *= 2;
			if (!(nb = realloc(x->buf, cap))) {
				x->werr = ENOMEM;
				return 0;
			}
			x->buf = nb;
			x->cap = cap;
		}
		memcpy(x->buf + x->len, p, len);
		x->len += len;
		x->buf[x->len] = '\0';
	}
	if (x->hash)
		sif_sha256_update(x->hash, p, len);
	x->got += len;
	if (x->progress)
		x->progress(x->parg, x->got);
	return len;
}

/* A handle for C.  Every handle gives up connecting after t.connect
 * seconds and fails a transfer that moves less than REG_STALL_BYTES a
 * second for t.stall seconds (then retried by request()); BOUNDED ones
 * (manifests, tokens, pings: small answers) also give the whole request
 * t.request seconds. */
static CURL *new_handle(struct reg_client *c, bool bounded)
{
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "sif/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->t.connect);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)REG_STALL_BYTES);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->t.stall);
	if (bounded)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, c->t.request);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	return h;
}

/* URL without its query (signed storage URLs carry secrets there). */
static void trace(const struct reg_client *c, const char *method, const char *url, long status,
                  CURLcode cr)
{
	if (!c->verbose)
		return;
	if (cr != CURLE_OK)
		fprintf(stderr, "sif: debug: %s %.*s: %s\n", method, (int)strcspn(url, "?"), url,
		        curl_easy_strerror(cr));
	else
		fprintf(stderr, "sif: debug: %s %.*s: %ld\n", method, (int)strcspn(url, "?"), url,
		        status);
}

static bool same_origin(const char *base, const char *url)
{
	size_t n = strlen(base);
	return strncmp(url, base, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

/* Is URL's host this machine (exactly localhost, [::1] or 127.0.0.0/8), with
 * no user part?  Parsed as curl parses it: "http://127.0.0.1@elsewhere/" is
 * elsewhere. */
static bool is_loopback_url(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *user = NULL;
	bool yes = false;
	struct in_addr a;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user)
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host)
		goto out;
	yes = strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
	      (inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127);
out:
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return yes;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The message for a libcurl failure. */
static int curl_fail(struct reg_client *c, CURL *h, CURLcode cr, const char *what,
                     struct sif_err *err)
{
	curl_off_t connected = 1;

	if (cr == CURLE_OPERATION_TIMEDOUT)
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
	switch (cr) {
	case CURLE_COULDNT_CONNECT:
		return sif_err_advise(err, ECONNREFUSED, "%s: cannot connect to %s (connection "
		                      "refused or unreachable): check the registry's name and port%s",
		                      what, c->host, c->insecure ? "" : ", and whether it speaks HTTPS");
	case CURLE_COULDNT_RESOLVE_HOST:
		return sif_err_advise(err, EHOSTUNREACH, "%s: cannot resolve host %s: check its name "
		                      "or your network", what, c->host);
	case CURLE_COULDNT_RESOLVE_PROXY:
		return sif_err_advise(err, EHOSTUNREACH, "%s: cannot resolve the proxy: check "
		                      "https_proxy/http_proxy", what);
	case CURLE_PEER_FAILED_VERIFICATION:
		return sif_err_advise(err, EPROTO, "%s: TLS: the certificate of %s is not trusted "
		                      "(%s): give its CA with --ca-file FILE", what, c->host,
		                      curl_easy_strerror(cr));
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return sif_err_advise(err, EPROTO, "%s: TLS failure talking to %s (%s): check "
		                      "--ca-file, or use --insecure if the registry speaks plain HTTP",
		                      what, c->host, curl_easy_strerror(cr));
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return sif_err_advise(err, EIO, "%s: truncated transfer from %s (%s): try again",
		                      what, c->host, curl_easy_strerror(cr));
	case CURLE_OPERATION_TIMEDOUT:
		if (connected == 0)
			return sif_err_advise(err, ETIMEDOUT, "%s: cannot connect to %s: no answer in "
			                      "%ld s, %d tries: check the network, or raise "
			                      "SIF_PULL_CONNECT_TIMEOUT", what, c->host, c->t.connect,
			                      TRIES_NET);
		if (strstr(what, ": blob "))
			return sif_err_advise(err, ETIMEDOUT, "%s: the transfer from %s stalled (under "
			                      "%d bytes/s for %ld s), %d tries: try again, or raise "
			                      "SIF_PULL_STALL_TIMEOUT", what, c->host, REG_STALL_BYTES,
			                      c->t.stall, TRIES_NET);
		return sif_err_advise(err, ETIMEDOUT, "%s: %s did not answer within %ld s, %d tries: "
		                      "try again, or raise SIF_PULL_REQUEST_TIMEOUT", what, c->host,
		                      c->t.request, TRIES_NET);
	default:
		return sif_err_advise(err, EIO, "%s: %s: %s", what, c->host, curl_easy_strerror(cr));
	}
}

static bool curl_retryable(CURLcode cr)
{
	return cr == CURLE_PARTIAL_FILE || cr == CURLE_RECV_ERROR || cr == CURLE_GOT_NOTHING ||
	       cr == CURLE_SEND_ERROR || cr == CURLE_OPERATION_TIMEDOUT || cr == CURLE_HTTP2 ||
	       cr == CURLE_HTTP2_STREAM;
}

/* Get a token for CH (or settle on Basic) and remember the header. */
static int authenticate(struct reg_client *c, const char *www, bool for_ping,
                        struct sif_err *err)
{
	struct reg_challenge ch;
	struct xfer x = { .fd = -1, .max = MAX_TOKEN_RESPONSE, .expect = -1, .retry_after = -1 };
	char *url = NULL, *hdr = NULL, *esc;
	CURL *h = NULL;
	CURLcode cr;
	json_t *j = NULL, *t;
	size_t ul;
	int r;

	if (reg_parse_challenge(www, &ch) < 0)
		return sif_err_advise(err, EACCES, "%s: the registry asks for an authentication "
		                      "scheme sif does not speak", c->host);
	if ((r = load_creds(c, err)) < 0)
		return r;
	if (ch.scheme == REG_AUTH_BASIC) {
		char *up, *enc;
		if (!c->have_creds)
			return sif_err_advise(err, EACCES, "%s: authentication required (401): run "
			                      "'sif login %s'", c->host, c->host);
		if (asprintf(&up, "%s:%s", c->creds.user, c->creds.pass) < 0)
			return sif_err_set(err, ENOMEM, "out of memory");
		enc = reg_base64(up, strlen(up));
		free_secret(up);
		if (!enc || asprintf(&hdr, "Authorization: Basic %s", enc) < 0) {
			free_secret(enc);
			return sif_err_set(err, ENOMEM, "out of memory");
		}
		free_secret(enc);
		set_auth(c, hdr);
		return 0;
	}
	/* Bearer: the realm hands out tokens; sending it a password over plain
	 * HTTP is only allowed where plain HTTP was allowed, or on loopback */
	if (strncmp(ch.realm, "https://", 8) != 0 &&
	    !(strncmp(ch.realm, "http://", 7) == 0 && (c->insecure || is_loopback_url(ch.realm))))
		return sif_err_advise(err, EACCES, "%s: the token service %.*s is not HTTPS: refused "
		                      "(use --insecure if you trust the network)", c->host,
		                      (int)strcspn(ch.realm, "?"), ch.realm);
	if (!(h = new_handle(c, true)))
		return sif_err_set(err, ENOMEM, "out of memory");
	ul = strlen(ch.realm) + 3 * (strlen(ch.service) + strlen(ch.scope) + strlen(c->repo)) + 64;
	if (!(url = malloc(ul))) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	snprintf(url, ul, "%s%s", ch.realm, strchr(ch.realm, '?') ? "&" : "?");
	if (ch.service[0]) {
		esc = curl_easy_escape(h, ch.service, 0);
		snprintf(url + strlen(url), ul - strlen(url), "service=%s&", esc ? esc : "");
		curl_free(esc);
	}
	if (ch.scope[0] || !for_ping) {
		char scope[1100];
		if (ch.scope[0])
			snprintf(scope, sizeof(scope), "%s", ch.scope);
		else
			snprintf(scope, sizeof(scope), "repository:%s:pull", c->repo);
		esc = curl_easy_escape(h, scope, 0);
		snprintf(url + strlen(url), ul - strlen(url), "scope=%s", esc ? esc : "");
		curl_free(esc);
	}
	x.h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MAX_TOKEN_RESPONSE);
	if (c->have_creds) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->creds.user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->creds.pass);
	}
	for (int tries = 1; ; tries++) {
		x.len = 0;
		cr = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x.status);
		trace(c, "GET", url, x.status, cr);
		if (cr == CURLE_OK && (x.status >= 500 || x.status == 429) && tries < TRIES_5XX) {
			sleep_ms(500L * tries);
			continue;
		}
		if (cr != CURLE_OK && curl_retryable(cr) && tries < TRIES_NET)
			continue;
		break;
	}
	if (cr != CURLE_OK) {
		r = curl_fail(c, h, cr, "token service", err);
		goto out;
	}
	if (x.status == 401 || x.status == 403) {
		r = c->have_creds
		  ? sif_err_advise(err, EACCES, "%s: the token service refused your credentials "
		                   "(%ld): run 'sif login %s' again", c->host, x.status, c->host)
		  : sif_err_advise(err, EACCES, "%s: the token service requires credentials (%ld): "
		                   "run 'sif login %s'", c->host, x.status, c->host);
		goto out;
	}
	if (x.status != 200) {
		r = sif_err_advise(err, EIO, "%s: the token service answered %ld: try again later",
		                   c->host, x.status);
		goto out;
	}
	j = x.buf ? json_loadb(x.buf, x.len, 0, NULL) : NULL;
	t = json_object_get(j, "token");
	if (!json_is_string(t) || !json_string_length(t))
		t = json_object_get(j, "access_token");
	if (!json_is_string(t) || !json_string_length(t) ||
	    strpbrk(json_string_value(t), "\r\n")) {
		r = sif_err_advise(err, SIF_EFORMAT, "%s: the token service's answer holds no token",
		                   c->host);
		goto out;
	}
	if (asprintf(&hdr, "Authorization: Bearer %s", json_string_value(t)) < 0) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	set_auth(c, hdr);
	r = 0;
out:
	if (x.buf) {
		explicit_bzero(x.buf, x.len);
		free(x.buf);
	}
	json_decref(j);
	free(url);
	if (h)
		curl_easy_cleanup(h);
	return r;
}

/* Reset a transfer's body for a retry. */
static int xfer_reset(struct xfer *x)
{
	x->len = 0;
	x->got = 0;
	x->too_big = false;
	x->werr = 0;
	if (x->fd >= 0 && (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0))
		return -errno;
	if (x->hash) {
		sif_sha256_free(x->hash);
		if (sif_sha256_init(x->hash) < 0)
			return -ENOMEM;
	}
	if (x->progress)   /* back to 0: whoever reads the file as it grows must know */
		x->progress(x->parg, 0);
	return 0;
}

/* GET (or HEAD) PATH on the registry into X, with authentication,
 * redirects and retries.  Returns 0 with x->status 2xx, or -errno with a
 * message naming WHAT. */
static int request(struct reg_client *c, CURL *h, const char *path, bool head, bool for_ping,
                   const char *accept, struct xfer *x, const char *what, struct sif_err *err)
{
	char url[2048], *redir_url = NULL;
	int tries429 = 0, tries5xx = 0, triesnet = 0, r;
	bool authed = false;
	CURLcode cr;

	x->h = h;
	for (;;) {
		struct curl_slist *hl = NULL;
		char *auth = get_auth(c);
		bool send_auth = true;
		int hops = 0;

		snprintf(url, sizeof(url), "%s%s", c->base, path);
		if ((r = xfer_reset(x)) < 0) {
			free_secret(auth);
			return sif_err_set(err, -r, "%s: %s", what, strerror(-r));
		}
		for (;;) {   /* redirects */
			hl = NULL;
			if (accept)
				hl = curl_slist_append(hl, accept);
			if (auth && send_auth)
				hl = curl_slist_append(hl, auth);
			curl_easy_setopt(h, CURLOPT_URL, url);
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
			if (head)
				curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
			else
				curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
			curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
			curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
			x->status = 0;
			x->retry_after = -1;
			cr = curl_easy_perform(h);
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
			curl_slist_free_all(hl);
			trace(c, head ? "HEAD" : "GET", url, x->status, cr);
			if (cr != CURLE_OK || x->status < 300 || x->status >= 400 || x->status == 304)
				break;
			redir_url = NULL;
			curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redir_url);
			if (!redir_url)
				break;
			if (++hops > MAX_REDIRECTS) {
				free_secret(auth);
				return sif_err_advise(err, EIO, "%s: more than %d redirects", what,
				                      MAX_REDIRECTS);
			}
			if (!strncmp(url, "https://", 8) && strncmp(redir_url, "https://", 8) != 0) {
				free_secret(auth);
				return sif_err_advise(err, EPROTO, "%s: the registry redirects from HTTPS to "
				                      "plain HTTP: refused", what);
			}
			snprintf(url, sizeof(url), "%s", redir_url);
			send_auth = same_origin(c->base, url);
		}
		free_secret(auth);
		if (x->werr)
			return sif_err_set(err, x->werr, "%s: cannot write: %s", what,
			                   strerror(x->werr));
		if (x->too_big || cr == CURLE_FILESIZE_EXCEEDED) {
			if (x->expect >= 0)
				return sif_err_advise(err, SIF_EFORMAT, "%s: the registry sends more than "
				                      "the %lld bytes its descriptor gives: refused", what,
				                      (long long)x->expect);
			return sif_err_advise(err, EFBIG, "%s: larger than %zu bytes: refused (oversize "
			                      "manifest)", what, x->max);
		}
		if (cr != CURLE_OK) {
			if (curl_retryable(cr) && ++triesnet < TRIES_NET) {
				sleep_ms(250L * triesnet);
				continue;
			}
			return curl_fail(c, h, cr, what, err);
		}
		/* a challenge counts only from the registry itself: a storage host
		 * a blob was redirected to must not get the registry's credentials */
		if (x->status == 401 && !authed && x->www[0] && same_origin(c->base, url)) {
			char www[sizeof(x->www)];
			memcpy(www, x->www, sizeof(www));
			authed = true;
			if ((r = authenticate(c, www, for_ping, err)) < 0)
				return r;
			continue;
		}
		if (x->status == 429 && ++tries429 < TRIES_429) {
			long ms = x->retry_after >= 0 ? (x->retry_after > 60 ? 60 : x->retry_after) * 1000
			                              : 500L << tries429;
			if (ms > 60000)
				ms = 60000;
			if (c->verbose)
				fprintf(stderr, "sif: debug: %s: too many requests, retrying in %ld ms\n",
				        c->host, ms);
			sleep_ms(ms);
			continue;
		}
		if (x->status >= 500 && ++tries5xx < TRIES_5XX) {
			sleep_ms(x->retry_after >= 0 && x->retry_after < 30 ? x->retry_after * 1000
			                                                    : 500L * tries5xx);
			continue;
		}
		break;
	}
	if (x->status >= 200 && x->status < 300)
		return 0;
	switch (x->status) {
	case 401:
		if (c->have_creds)
			return sif_err_advise(err, EACCES, "%s: %s refused your credentials (401): run "
			                      "'sif login %s' again", what, c->host, c->host);
		return sif_err_advise(err, EACCES, "%s: authentication required (401): run 'sif login "
		                      "%s' (or check the name: some registries answer 401 for a "
		                      "repository that does not exist)", what, c->host);
	case 403:
		return sif_err_advise(err, EACCES, "%s: access denied (403): run 'sif login %s' with "
		                      "an account that may pull it", what, c->host);
	case 404:
		return sif_err_advise(err, ENOENT, "%s: not found (404): the repository or tag does "
		                      "not exist", what);
	case 429:
		return sif_err_advise(err, EAGAIN, "%s: %s keeps answering 429 (too many requests) "
		                      "after %d tries: wait and try again", what, c->host, TRIES_429);
	default:
		if (x->status >= 500)
			return sif_err_advise(err, EIO, "%s: %s failed with %ld (server error) after %d "
			                      "tries: try again later", what, c->host, x->status,
			                      TRIES_5XX);
		return sif_err_advise(err, EIO, "%s: %s answered %ld", what, c->host, x->status);
	}
}

void reg_manifest_free(struct reg_manifest *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

static int ep_get_manifest(struct reg_client *c, const char *reference, struct reg_manifest *m,
                           struct sif_err *err)
{
	struct xfer x = { .fd = -1, .max = REG_MAX_MANIFEST, .expect = -1 };
	char path[700], what[700], dg[72];
	int r;

	memset(m, 0, sizeof(*m));
	if (!c->h && !(c->h = new_handle(c, true)))
		return sif_err_set(err, ENOMEM, "out of memory");
	curl_easy_setopt(c->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)REG_MAX_MANIFEST);
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", c->repo, reference);
	snprintf(what, sizeof(what), "%s/%s%s%s", c->host, c->repo,
	         img_digest_valid(reference) ? "@" : ":", reference);
	r = request(c, c->h, path, false, false, ACCEPT_MANIFESTS, &x, what, err);
	curl_easy_setopt(c->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
	if (r < 0) {
		free(x.buf);
		return r;
	}
	if (!x.buf || x.len == 0) {
		free(x.buf);
		return sif_err_advise(err, SIF_EFORMAT, "%s: the registry sent an empty manifest",
		                      what);
	}
	sif_sha256_buf(x.buf, x.len, dg);
	if (img_digest_valid(reference) && strcmp(dg, reference) != 0) {
		free(x.buf);
		return sif_err_advise(err, SIF_EFORMAT, "%s: digest mismatch: the manifest received "
		                      "has digest %s", what, dg);
	}
	if (x.dcd[0] && strncmp(x.dcd, "sha256:", 7) == 0 && strcmp(x.dcd, dg) != 0) {
		free(x.buf);
		return sif_err_advise(err, SIF_EFORMAT, "%s: digest mismatch: the registry says %.71s "
		                      "but the manifest received has %s", what, x.dcd, dg);
	}
	m->buf = x.buf;
	m->len = x.len;
	snprintf(m->media_type, sizeof(m->media_type), "%s", x.ctype);
	memcpy(m->digest, dg, sizeof(dg));
	return 0;
}

static int ep_get_blob(struct reg_client *c, const char *digest, int64_t size, int fd,
                       void (*progress)(void *arg, uint64_t bytes), void *arg,
                       struct sif_err *err)
{
	struct sif_sha256 hash;
	struct xfer x = { .fd = fd, .expect = size, .hash = &hash, .progress = progress,
	                  .parg = arg };
	char path[700], what[800], dg[72];
	CURL *h;
	int r;

	if (!img_digest_valid(digest))
		return sif_err_advise(err, SIF_EFORMAT, "blob digest \"%.80s\": not a sha256 digest",
		                      digest);
	if (sif_sha256_init(&hash) < 0)
		return sif_err_set(err, ENOMEM, "out of memory");
	if (!(h = new_handle(c, false))) {
		sif_sha256_free(&hash);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	if (size >= 0)
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)size);
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", c->repo, digest);
	snprintf(what, sizeof(what), "%s/%s: blob %.19s", c->host, c->repo, digest);
	r = request(c, h, path, false, false, NULL, &x, what, err);
	curl_easy_cleanup(h);
	if (r < 0) {
		sif_sha256_free(&hash);
		return r;
	}
	sif_sha256_final(&hash, dg);
	if (size >= 0 && x.got != (uint64_t)size)
		return sif_err_advise(err, EIO, "%s: truncated transfer: %llu of %lld bytes: try again",
		                      what, (unsigned long long)x.got, (long long)size);
	if (strcmp(dg, digest) != 0)
		return sif_err_advise(err, SIF_EFORMAT, "%s: digest mismatch: the data received has "
		                      "digest %s: try again (the registry or a proxy on the way sends "
		                      "damaged data)", what, dg);
	return 0;
}

int reg_ping(struct reg_client *c, struct sif_err *err)
{
	struct xfer x = { .fd = -1, .max = 1u << 20, .expect = -1 };
	char what[300];
	int r;

	while (c->next)   /* the registry itself, never a mirror */
		c = c->next;

	if (!c->h && !(c->h = new_handle(c, true)))
		return sif_err_set(err, ENOMEM, "out of memory");
	snprintf(what, sizeof(what), "%s", c->host);
	r = request(c, c->h, "/v2/", false, true, NULL, &x, what, err);
	free(x.buf);
	return r;
}

/* HEAD of a manifest: its digest (Docker-Content-Digest) and media type. */
static int ep_head_manifest(struct reg_client *c, const char *reference, char digest[72],
                            char media_type[128], struct sif_err *err)
{
	struct xfer x = { .fd = -1, .max = REG_MAX_MANIFEST, .expect = -1 };
	char path[700], what[700];
	int r;

	digest[0] = media_type[0] = '\0';
	if (!c->h && !(c->h = new_handle(c, true)))
		return sif_err_set(err, ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", c->repo, reference);
	snprintf(what, sizeof(what), "%s/%s%s%s", c->host, c->repo,
	         img_digest_valid(reference) ? "@" : ":", reference);
	r = request(c, c->h, path, true, false, ACCEPT_MANIFESTS, &x, what, err);
	free(x.buf);
	if (r < 0)
		return r;
	snprintf(media_type, 128, "%s", x.ctype);
	if (!img_digest_valid(x.dcd))
		return 0;
	memcpy(digest, x.dcd, IMG_DIGEST_LEN + 1);
	return 1;
}

/* ---- the chain: mirrors first, then the registry ------------------------------- */

/* A mirror failed with E: say so when verbose; one that cannot be reached
 * (refused, unresolved, TLS, no answer) is skipped from now on. */
static void mirror_failed(struct reg_client *c, const struct sif_err *e)
{
	if (e->code == ECONNREFUSED || e->code == EHOSTUNREACH || e->code == EPROTO ||
	    e->code == ETIMEDOUT)
		__atomic_store_n(&c->down, true, __ATOMIC_RELAXED);
	if (c->verbose)
		fprintf(stderr, "sif: debug: mirror %s: %s; trying the next\n", c->host, e->msg);
}

static bool mirror_skipped(struct reg_client *c)
{
	return c->next && __atomic_load_n(&c->down, __ATOMIC_RELAXED);
}

int reg_get_manifest(struct reg_client *c, const char *reference, struct reg_manifest *m,
                     struct sif_err *err)
{
	for (; c->next; c = c->next) {
		struct sif_err e = {0};
		if (mirror_skipped(c))
			continue;
		if (ep_get_manifest(c, reference, m, &e) == 0) {
			if (c->verbose)
				fprintf(stderr, "sif: debug: manifest %s from mirror %s\n", reference, c->host);
			return 0;
		}
		mirror_failed(c, &e);
	}
	return ep_get_manifest(c, reference, m, err);
}

int reg_head_manifest(struct reg_client *c, const char *reference, char digest[72],
                      char media_type[128], struct sif_err *err)
{
	int r;

	for (; c->next; c = c->next) {
		struct sif_err e = {0};
		if (mirror_skipped(c))
			continue;
		if ((r = ep_head_manifest(c, reference, digest, media_type, &e)) >= 0)
			return r;
		mirror_failed(c, &e);
	}
	return ep_head_manifest(c, reference, digest, media_type, err);
}

int reg_get_blob(struct reg_client *c, const char *digest, int64_t size, int fd,
                 void (*progress)(void *arg, uint64_t bytes), void *arg, struct sif_err *err)
{
	for (; c->next; c = c->next) {
		struct sif_err e = {0};
		if (mirror_skipped(c))
			continue;
		if (ep_get_blob(c, digest, size, fd, progress, arg, &e) == 0)
			return 0;
		mirror_failed(c, &e);
	}
	return ep_get_blob(c, digest, size, fd, progress, arg, err);
}
