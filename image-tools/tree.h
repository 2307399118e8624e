/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The in-memory file tree of an image being built.
 *
 * Layers are applied from the top (the last) down: an entry of a lower
 * layer is kept only where no higher layer has defined, deleted (whiteout)
 * or hidden (opaque directory) its path.  So every file met that is kept is
 * final, and its data goes straight to the squashfs writer: nothing is
 * extracted to disk and no data is written that a later layer deletes.
 * (layer.c has the rules; this file is the data structure.)
 *
 * A tree_node is one directory entry; a tree_inode is what it names, shared
 * by hard links.  Nodes without an inode are whiteout placeholders: they
 * hide lower layers and are not written.
 */
#ifndef SIF_TREE_H
#define SIF_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct sqfs_inode_generic_t;

struct tree_xattr {
	struct tree_xattr *next;
	char *key;                   /* "user.x", "security.capability", ... */
	size_t size;
	unsigned char value[];
};

struct tree_inode {
	uint32_t mode;               /* S_IFxxx | permission bits (07777) */
	uint32_t uid, gid;
	int64_t mtime;
	uint32_t rdev_major, rdev_minor;
	char *target;                /* symbolic links */
	struct tree_xattr *xattrs;
	uint32_t nlink;              /* tree nodes naming it (hard links) */
	uint32_t holds;              /* other references (a layer's hard-link map) */
	/* regular files: the block processor's inode (NULL for an empty file,
	 * or until its data is written) */
	uint64_t size;
	struct sqfs_inode_generic_t *sq;
	bool data_done;              /* the data has been written */
	struct tree_inode *same_data; /* held: the same bytes, written before */
	bool dead;                   /* no name left; freed with the tree */
	struct tree_inode *next_dead;
	/* writer state */
	uint32_t ino;
	uint64_t ref;
	bool written;
};

#define TREE_NO_LAYER INT32_MAX

struct tree_node {
	char *name;
	struct tree_node *parent;
	struct tree_inode *inode;    /* NULL: whiteout placeholder */
	int32_t layer;               /* the layer that defined it (TREE_NO_LAYER: none yet) */
	int32_t hide_below;          /* entries of layers below this one, here and
	                                beneath, are hidden (-1: none) */
	int32_t opaque_below;        /* children of layers below this one are hidden */
	bool implicit;               /* a directory made as a parent only: its
	                                metadata may still come from a lower layer */
	/* directories: children in an open-addressing hash table */
	struct tree_node **slots;
	size_t nslots, nchildren;
};

struct tree {
	struct tree_node *root;
	size_t nnodes, ninodes;
	uint64_t bytes;              /* extended attribute bytes held (bounded) */
};

int tree_init(struct tree *t, struct sif_err *err);
void tree_free(struct tree *t);

struct tree_inode *tree_inode_new(uint32_t mode);
/* Drop a name (put) or another reference (unhold): the inode is freed when
 * neither is left. */
void tree_inode_put(struct tree_inode *ino);
void tree_inode_unhold(struct tree_inode *ino);

/* The child NAME of DIR, or NULL. */
struct tree_node *tree_child(const struct tree_node *dir, const char *name);
/* Add a child NAME (it must not exist) to DIR. */
struct tree_node *tree_add_child(struct tree *t, struct tree_node *dir, const char *name);
/* Remove and free CHILD and its subtree. */
void tree_remove(struct tree *t, struct tree_node *child);
/* Remove and free every child of DIR. */
void tree_remove_children(struct tree *t, struct tree_node *dir);

/* Children of DIR sorted by name (bytewise, as squashfs needs), in a newly
 * allocated array of *N pointers (NULL and *N = 0 when empty). */
int tree_sorted_children(const struct tree_node *dir, struct tree_node ***out, size_t *n);

/* Add an extended attribute to INO (replacing one with the same key). */
int tree_xattr_set(struct tree_inode *ino, const char *key, const void *value, size_t size);

/* "usr/bin/python3" for NODE (no leading slash; "" for the root), into BUF. */
const char *tree_path(const struct tree_node *node, char *buf, size_t len);

#endif
