/* Shared between the catalog reader and writer: LMDB layout names. */
#ifndef AIDATA_CATALOG_INT_H
#define AIDATA_CATALOG_INT_H

#include <lmdb.h>

#define CATALOG_DB_META "meta"
#define CATALOG_DB_DATASETS "datasets"
#define CATALOG_DB_INODES "inodes"
#define CATALOG_DB_DIRENTS "dirents"
#define CATALOG_DB_CHUNKS "chunks"
#define CATALOG_MAX_DBS 8

/* Translate an LMDB return code to a negative errno, logging what failed. */
int catalog_lmdb_error(const char *what, int rc);

#endif
