/* SPDX-License-Identifier: BSD-3-Clause */
/* The in-memory file tree of an image being built (see tree.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tree.h"

/* FNV-1a: child names are hashed per directory */
static size_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (size_t)h;
}

static struct tree_node *node_new(const char *name)
{
	struct tree_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->layer = TREE_NO_LAYER;
	n->hide_below = -1;
	n->opaque_below = -1;
	return n;
}

struct tree_inode *tree_inode_new(uint32_t mode)
{
	struct tree_inode *ino = calloc(1, sizeof(*ino));

	if (ino) {
		ino->mode = mode;
		ino->nlink = 1;
	}
	return ino;
}

/* Inodes whose data went to the block processor: it writes their block
 * list and fragment place until the end, so they are freed with the tree
 * even when a later entry replaced them. */
static struct tree_inode *graveyard;

static void inode_free(struct tree_inode *ino)
{
	if (ino->sq && !ino->dead) {
		ino->dead = true;
		ino->next_dead = graveyard;
		graveyard = ino;
		return;
	}
	while (ino->xattrs) {
		struct tree_xattr *x = ino->xattrs;
		ino->xattrs = x->next;
		free(x->key);
		free(x);
	}
	free(ino->target);
	free(ino->sq);
	if (ino->same_data)
		tree_inode_unhold(ino->same_data);
	free(ino);
}

void tree_inode_put(struct tree_inode *ino)
{
	if (ino && --ino->nlink == 0 && ino->holds == 0)
		inode_free(ino);
}

void tree_inode_unhold(struct tree_inode *ino)
{
	if (ino && --ino->holds == 0 && ino->nlink == 0)
		inode_free(ino);
}

int tree_init(struct tree *t, struct sif_err *err)
{
	memset(t, 0, sizeof(*t));
	t->root = node_new("");
	if (!t->root || !(t->root->inode = tree_inode_new(S_IFDIR | 0755))) {
		free(t->root);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	t->root->implicit = true;
	t->nnodes = t->ninodes = 1;
	return 0;
}

static size_t node_free(struct tree_node *n)
{
	size_t count = 1;

	for (size_t i = 0; i < n->nslots; i++)
		if (n->slots[i])
			count += node_free(n->slots[i]);
	free(n->slots);
	tree_inode_put(n->inode);
	free(n->name);
	free(n);
	return count;
}

void tree_free(struct tree *t)
{
	if (t->root)
		node_free(t->root);
	t->root = NULL;
	while (graveyard) {
		struct tree_inode *ino = graveyard;
		graveyard = ino->next_dead;
		inode_free(ino);
	}
}

struct tree_node *tree_child(const struct tree_node *dir, const char *name)
{
	if (!dir->nslots)
		return NULL;
	for (size_t i = name_hash(name) & (dir->nslots - 1);; i = (i + 1) & (dir->nslots - 1)) {
		struct tree_node *c = dir->slots[i];
		if (!c)
			return NULL;
		if (strcmp(c->name, name) == 0)
			return c;
	}
}

static void slot_put(struct tree_node **slots, size_t nslots, struct tree_node *c)
{
	size_t i = name_hash(c->name) & (nslots - 1);

	while (slots[i])
		i = (i + 1) & (nslots - 1);
	slots[i] = c;
}

struct tree_node *tree_add_child(struct tree *t, struct tree_node *dir, const char *name)
{
	struct tree_node *c;

	if ((dir->nchildren + 1) * 4 > dir->nslots * 3) {
		size_t n = dir->nslots ? dir->nslots * 2 : 8;
		struct tree_node **s = calloc(n, sizeof(*s));
		if (!s)
			return NULL;
		for (size_t i = 0; i < dir->nslots; i++)
			if (dir->slots[i])
				slot_put(s, n, dir->slots[i]);
		free(dir->slots);
		dir->slots = s;
		dir->nslots = n;
	}
	c = node_new(name);
	if (!c)
		return NULL;
	c->parent = dir;
	slot_put(dir->slots, dir->nslots, c);
	dir->nchildren++;
	t->nnodes++;
	return c;
}

void tree_remove(struct tree *t, struct tree_node *child)
{
	struct tree_node *dir = child->parent;
	size_t i, j;

	/* delete from the open-addressing table, then re-place the run after it */
	for (i = name_hash(child->name) & (dir->nslots - 1); dir->slots[i] != child;
	     i = (i + 1) & (dir->nslots - 1))
		;
	dir->slots[i] = NULL;
	for (j = (i + 1) & (dir->nslots - 1); dir->slots[j]; j = (j + 1) & (dir->nslots - 1)) {
		struct tree_node *c = dir->slots[j];
		dir->slots[j] = NULL;
		slot_put(dir->slots, dir->nslots, c);
	}
	dir->nchildren--;
	t->nnodes -= node_free(child);
}

void tree_remove_children(struct tree *t, struct tree_node *dir)
{
	for (size_t i = 0; i < dir->nslots; i++)
		if (dir->slots[i])
			t->nnodes -= node_free(dir->slots[i]);
	free(dir->slots);
	dir->slots = NULL;
	dir->nslots = dir->nchildren = 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct tree_node *const *)a)->name, (*(struct tree_node *const *)b)->name);
}

int tree_sorted_children(const struct tree_node *dir, struct tree_node ***out, size_t *n)
{
	struct tree_node **v;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (!dir->nchildren)
		return 0;
	v = malloc(dir->nchildren * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < dir->nslots; i++)
		if (dir->slots[i])
			v[k++] = dir->slots[i];
	qsort(v, k, sizeof(*v), by_name);
	*out = v;
	*n = k;
	return 0;
}

int tree_xattr_set(struct tree_inode *ino, const char *key, const void *value, size_t size)
{
	struct tree_xattr **pp, *x;

	for (pp = &ino->xattrs; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0) {
			x = *pp;
			*pp = x->next;
			free(x->key);
			free(x);
			break;
		}
	x = malloc(sizeof(*x) + size);
	if (!x)
		return -ENOMEM;
	x->key = strdup(key);
	if (!x->key) {
		free(x);
		return -ENOMEM;
	}
	x->size = size;
	if (size)
		memcpy(x->value, value, size);
	/* keep them sorted by key: the same input gives the same image */
	for (pp = &ino->xattrs; *pp && strcmp((*pp)->key, key) < 0; pp = &(*pp)->next)
		;
	x->next = *pp;
	*pp = x;
	return 0;
}

const char *tree_path(const struct tree_node *node, char *buf, size_t len)
{
	size_t pos = len - 1;

	buf[pos] = '\0';
	for (; node && node->parent; node = node->parent) {
		size_t n = strlen(node->name);
		if (n + 1 > pos)
			return "...";
		pos -= n;
		memcpy(buf + pos, node->name, n);
		if (node->parent->parent)
			buf[--pos] = '/';
	}
	return buf + pos;
}
