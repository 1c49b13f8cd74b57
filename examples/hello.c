/*
 * hello.c: strata in one page.  Opens a database in a fresh directory,
 * writes, reads back, iterates with bounds both ways, takes a snapshot,
 * closes, reopens and prints what it found, then removes the database.
 * Written only against include/strata.h.
 *
 *   make example        (or: cc hello.c $(pkg-config --cflags --libs strata))
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"

static int check(int rc, const char *what)
{
    if (rc != STRATA_OK && rc != STRATA_NOT_FOUND) {
        fprintf(stderr, "%s: %s (%s)\n", what, strata_strerror(rc), strata_last_error());
        exit(1);
    }
    return rc;
}

static void print_get(strata_db *db, const strata_read_options *ro, const char *key)
{
    void *val;
    size_t vlen;
    if (check(strata_get(db, ro, key, strlen(key), &val, &vlen), "get") == STRATA_OK) {
        printf("  %-8s = %.*s\n", key, (int)vlen, (char *)val);
        strata_free(val);
    } else {
        printf("  %-8s   (not found)\n", key);
    }
}

static void print_range(strata_db *db, const char *from, const char *to, int backward)
{
    strata_read_options *ro = strata_read_options_new();
    strata_read_options_set_lower_bound(ro, from, strlen(from));
    strata_read_options_set_upper_bound(ro, to, strlen(to));
    strata_iter *it = strata_iter_new(db, ro);
    printf("  [%s, %s) %s:", from, to, backward ? "backward" : "forward");
    for (backward ? strata_iter_seek_last(it) : strata_iter_seek_first(it); strata_iter_valid(it);
         backward ? strata_iter_prev(it) : strata_iter_next(it)) {
        size_t klen;
        const char *k = strata_iter_key(it, &klen);
        printf(" %.*s", (int)klen, k);
    }
    printf("\n");
    check(strata_iter_status(it), "iterate");
    strata_iter_free(it);
    strata_read_options_free(ro);
}

int main(void)
{
    char dir[] = "/tmp/strata-hello-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    strata_db *db;
    check(strata_open(dir, NULL, &db), "open");
    printf("strata %s: opened %s\n", strata_version(), dir);

    check(strata_put(db, NULL, "apple", 5, "red", 3), "put");
    check(strata_put(db, NULL, "banana", 6, "yellow", 6), "put");
    strata_batch *b = strata_batch_new();
    strata_batch_put(b, "cherry", 6, "dark red", 8);
    strata_batch_put(b, "date", 4, "brown", 5);
    strata_batch_delete(b, "banana", 6);
    check(strata_write(db, NULL, b), "write batch");
    strata_batch_free(b);

    const strata_snapshot *snap = strata_snapshot_new(db);
    strata_write_options *sync = strata_write_options_new();
    strata_write_options_set_sync(sync, 1);
    check(strata_put(db, sync, "apple", 5, "green", 5), "synced put");
    strata_write_options_free(sync);

    printf("now:\n");
    print_get(db, NULL, "apple");
    print_get(db, NULL, "banana");
    strata_read_options *at_snap = strata_read_options_new();
    strata_read_options_set_snapshot(at_snap, snap);
    printf("at the snapshot:\n");
    print_get(db, at_snap, "apple");
    strata_read_options_free(at_snap);
    strata_snapshot_release(db, snap);
    print_range(db, "b", "d", 0);
    print_range(db, "a", "z", 1);
    check(strata_close(db), "close");

    check(strata_open(dir, NULL, &db), "reopen");
    printf("after reopening:\n");
    print_get(db, NULL, "apple");
    print_get(db, NULL, "banana");
    print_get(db, NULL, "cherry");
    print_get(db, NULL, "date");
    char *stats = strata_property(db, "strata.approximate-memory-usage");
    printf("  memtable memory: %s bytes\n", stats ? stats : "?");
    strata_free(stats);
    check(strata_close(db), "close");
    check(strata_destroy(dir, NULL), "destroy");
    return 0;
}
