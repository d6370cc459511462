/* The datasets description file of `aidata pack`. */
#include "publish_int.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "banned.h"

/* The six required members, then the optional ones. */
static const char *const spec_fields[] = {
    "name",    "industry",    "modality",   "tier",
    "license", "description", "contributor"};
#define SPEC_REQUIRED 6
#define SPEC_FIELDS 7

static int entry_cmp(const void *a, const void *b)
{
	const struct pack_spec_entry *x = a, *y = b;

	return strcmp(x->d.name, y->d.name);
}

/* Industry and modality become directory names in the mount's views. */
static int check_label(const char *file, const char *name, const char *what,
		       const char *v)
{
	const char *why = repo_name_invalid_reason(v, strlen(v));

	if (why) {
		char *en = log_escape(name), *ev = log_escape(v);

		log_error("'%s': dataset '%s': %s '%s': %s", file, en, what, ev,
			  why);
		free(en);
		free(ev);
		return -EINVAL;
	}
	return 0;
}

static int parse_entry(const char *file, size_t index, json_t *obj,
		       struct pack_spec_entry *e)
{
	const char *values[SPEC_FIELDS] = {NULL};
	const char *key;
	json_t *value;

	if (!json_is_object(obj)) {
		log_error("'%s': datasets[%zu] is not an object", file, index);
		return -EINVAL;
	}
	json_object_foreach(obj, key, value)
	{
		bool known = false;

		for (unsigned i = 0; i < SPEC_FIELDS; i++)
			known |= !strcmp(key, spec_fields[i]);
		if (!known) {
			char *ek = log_escape(key);

			log_error("'%s': datasets[%zu]: unknown "
				  "field '%s'",
				  file, index, ek);
			free(ek);
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < SPEC_FIELDS; i++) {
		json_t *v = json_object_get(obj, spec_fields[i]);

		if (!v && i >= SPEC_REQUIRED)
			continue;
		if (!json_is_string(v) ||
		    (i != 5 && json_string_length(v) == 0)) {
			log_error("'%s': datasets[%zu]: field '%s' "
				  "missing or not a non-empty string",
				  file, index, spec_fields[i]);
			return -EINVAL;
		}
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			log_error("'%s': datasets[%zu]: field '%s' "
				  "contains a NUL character",
				  file, index, spec_fields[i]);
			return -EINVAL;
		}
		values[i] = json_string_value(v);
	}
	if (repo_name_invalid_reason(values[0], strlen(values[0]))) {
		char *en = log_escape(values[0]);

		log_error(
		    "'%s': datasets[%zu]: invalid dataset "
		    "name '%s': %s",
		    file, index, en,
		    repo_name_invalid_reason(values[0], strlen(values[0])));
		free(en);
		return -EINVAL;
	}
	if (repo_tier_parse(values[3], &e->d.tier) != 0) {
		char *en = log_escape(values[0]), *et = log_escape(values[3]);

		log_error("'%s': dataset '%s': unknown tier '%s' "
			  "(expected open, shared or secure)",
			  file, en, et);
		free(en);
		free(et);
		return -EINVAL;
	}
	if (check_label(file, values[0], "industry", values[1]) ||
	    check_label(file, values[0], "modality", values[2]) ||
	    (values[6] &&
	     check_label(file, values[0], "contributor", values[6])))
		return -EINVAL;
	/* the alliance pool: who contributed decides what it earns */
	if (e->d.tier == REPO_TIER_SHARED && !values[6]) {
		char *en = log_escape(values[0]);

		log_error("'%s': dataset '%s': a shared dataset needs a "
			  "\"contributor\" (the organisation that contributed "
			  "it)",
			  file, en);
		free(en);
		return -EINVAL;
	}
	e->d.name = xstrdup(values[0]);
	e->d.industry = xstrdup(values[1]);
	e->d.modality = xstrdup(values[2]);
	e->d.license = xstrdup(values[4]);
	e->d.description = xstrdup(values[5]);
	e->d.contributor = values[6] ? xstrdup(values[6]) : NULL;
	return 0;
}

static bool spec_has(const struct pack_spec *spec, const char *name)
{
	struct pack_spec_entry key = {.d.name = (char *)name};

	return bsearch(&key, spec->entries, spec->count, sizeof(key),
		       entry_cmp) != NULL;
}

/* Every top-level directory of src is a dataset; other entries (such as
 * the datasets file itself) are ignored. */
static int check_src(const char *file, const char *src,
		     const struct pack_spec *spec)
{
	DIR *dir = opendir(src);
	struct dirent *de;
	int rc = 0;

	if (!dir) {
		rc = -errno;
		log_error("source '%s': %s", src, strerror(errno));
		return rc;
	}
	while ((de = readdir(dir))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (!spec_has(spec, de->d_name)) {
			char *en = log_escape(de->d_name);

			log_error("'%s/%s': dataset directory is "
				  "not described in '%s'",
				  src, en, file);
			free(en);
			rc = -EINVAL;
		}
	}
	closedir(dir);
	for (size_t i = 0; i < spec->count; i++) {
		char *path = xasprintf("%s/%s", src, spec->entries[i].d.name);
		struct stat st;

		if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
			log_error("'%s': dataset '%s' is described "
				  "in '%s' but is not a directory in the "
				  "source",
				  path, spec->entries[i].d.name, file);
			rc = -EINVAL;
		}
		free(path);
	}
	return rc;
}

/* root (a parsed datasets file, consumed) into out, checked against src. */
static int spec_from_json(const char *path, json_t *root, const char *src,
			  struct pack_spec *out)
{
	json_t *list;
	int rc = 0;

	if (json_is_object(root) && json_object_size(root) != 1) {
		log_error("'%s': unknown top-level field (only "
			  "\"datasets\" is allowed)",
			  path);
		json_decref(root);
		return -EINVAL;
	}
	list = json_object_get(root, "datasets");
	if (!json_is_object(root) || !json_is_array(list) ||
	    json_array_size(list) == 0) {
		log_error("'%s': expected an object with a "
			  "non-empty \"datasets\" array",
			  path);
		json_decref(root);
		return -EINVAL;
	}
	out->entries = xcalloc(json_array_size(list), sizeof(*out->entries));
	for (size_t i = 0; i < json_array_size(list); i++) {
		rc = parse_entry(path, i, json_array_get(list, i),
				 &out->entries[out->count]);
		if (rc)
			goto out;
		out->count++;
	}
	qsort(out->entries, out->count, sizeof(*out->entries), entry_cmp);
	for (size_t i = 1; i < out->count; i++) {
		if (!strcmp(out->entries[i].d.name,
			    out->entries[i - 1].d.name)) {
			char *en = log_escape(out->entries[i].d.name);

			log_error("'%s': duplicate dataset name "
				  "'%s'",
				  path, en);
			free(en);
			rc = -EINVAL;
			goto out;
		}
	}
	rc = check_src(path, src, out);
out:
	json_decref(root);
	if (rc)
		pack_spec_release(out);
	return rc;
}

int pack_spec_load(const char *path, const char *src, struct pack_spec *out)
{
	json_error_t err;
	json_t *root;

	memset(out, 0, sizeof(*out));
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		log_error("'%s': line %d: %s", path, err.line, err.text);
		return -EINVAL;
	}
	return spec_from_json(path, root, src, out);
}

int pack_spec_parse(const char *name, const char *text, size_t len,
		    const char *src, struct pack_spec *out)
{
	json_error_t err;
	json_t *root;

	memset(out, 0, sizeof(*out));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		log_error("'%s': line %d: %s", name, err.line, err.text);
		return -EINVAL;
	}
	return spec_from_json(name, root, src, out);
}

void pack_spec_release(struct pack_spec *spec)
{
	for (size_t i = 0; i < spec->count; i++)
		repo_dataset_release(&spec->entries[i].d);
	free(spec->entries);
	memset(spec, 0, sizeof(*spec));
}
