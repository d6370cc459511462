/* Shared between the catalog reader and writer: LMDB layout names. */
#ifndef AIDATA_CATALOG_INT_H
#define AIDATA_CATALOG_INT_H

#include <lmdb.h>

#define CATALOG_DB_META "meta"
#define CATALOG_DB_DATASETS "datasets"
#define CATALOG_DB_INODES "inodes"
#define CATALOG_DB_DIRENTS "dirents"
#define CATALOG_DB_CHUNKS "chunks"
#define CATALOG_DB_CONTRIBUTORS "contributors" /* root: dataset -> org */
/* dataset: chunk id -> SHA-256 of its stored bytes (FORMAT.md §5.9) */
#define CATALOG_DB_STORED_DIGESTS "stored-digests"
#define CATALOG_MAX_DBS 8

/*
 * Find where env's data file is mapped in this process (LMDB does not say:
 * mdb_env_info's address is set only for MDB_FIXEDMAP), by its device and
 * inode in /proc/self/maps. 0 and the range, or -ENOENT.
 */
int catalog_lmdb_map(MDB_env *env, void **addr, size_t *len);
/* Drop env's mapped pages from the resident set (they stay in the page
 * cache). For read-only maps only, which is all LMDB uses without
 * MDB_WRITEMAP. */
void catalog_lmdb_trim(MDB_env *env);

#endif
