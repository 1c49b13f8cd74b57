/*
 * db_write.c: the write path.  Every put, delete and batch becomes one
 * write batch that goes through group commit:
 *
 * Writers queue up under mu.  The writer at the head of the queue is the
 * leader: it takes the batches queued behind it (up to a size limit, and
 * never a synced batch behind an unsynced leader), gives them consecutive
 * sequence numbers, releases mu, appends them to the WAL as one record with
 * one write (and one fdatasync if any of them asked for sync), inserts them
 * into the memtable, then retakes mu, publishes the new last sequence, and
 * wakes the writers it served and the next leader.  N threads writing with
 * sync therefore share fsyncs, and the memtable has one writer at a time.
 *
 * A failed WAL write or sync leaves the log in an unknown state (part of a
 * record may be on disk), and a failed memtable insert leaves the memtable
 * behind the log; either error is kept in bg_error and every later write
 * fails with it, while reads keep working.  Reopening the database recovers
 * from the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db_flush.h"
#include "src/db_impl.h"
#include "src/status.h"

/* A group holds at most this many bytes of batches, but a small leading
 * batch grows its group by at most GROUP_SMALL_EXTRA, so that a single small
 * write is not held up behind a megabyte of others. */
enum {
    GROUP_MAX_BYTES = 1 << 20,
    GROUP_SMALL_LEADER = 128 << 10,
    GROUP_SMALL_EXTRA = 128 << 10,
};

int db_keep_bg_error(strata_db *db, int rc, const char *what)
{
    if (db->bg_error == STRATA_OK) {
        db->bg_error = rc;
        snprintf(db->bg_error_msg, sizeof db->bg_error_msg,
                 "writes stopped after %s failed: %s (reopen the database to recover)", what,
                 strata_last_error());
        info_log_printf(db->info_log, "%s", db->bg_error_msg);
    }
    return rc;
}

/* The last writer of the leader's group, and its byte size. (mu) */
static struct writer *build_group(strata_db *db, size_t *group_bytes)
{
    struct writer *first = db->writers_head, *last = first;
    size_t bytes = first->batch->rep.len;
    size_t max = bytes <= GROUP_SMALL_LEADER ? bytes + GROUP_SMALL_EXTRA : GROUP_MAX_BYTES;
    for (struct writer *w = first->next; w; w = w->next) {
        if (!w->batch)
            break; /* a flush request leads on its own */
        if (w->sync && !first->sync)
            break; /* the leader will not sync; a synced writer must wait */
        if (bytes + w->batch->rep.len - BATCH_HEADER_SIZE > max)
            break;
        bytes += w->batch->rep.len - BATCH_HEADER_SIZE;
        last = w;
    }
    *group_bytes = bytes;
    return last;
}

/* One batch holding the group's updates: the leader's own batch when it is
 * alone, else db->group_batch.  (mu held: the queue cannot change under us
 * between head and last.) */
static int merge_group(strata_db *db, struct writer *last, strata_batch **out)
{
    struct writer *first = db->writers_head;
    if (first == last) {
        *out = first->batch;
        return STRATA_OK;
    }
    strata_batch *g = db->group_batch;
    strata_batch_clear(g);
    for (struct writer *w = first;; w = w->next) {
        int rc = batch_append(g, w->batch);
        if (rc != STRATA_OK)
            return rc;
        if (w == last)
            break;
    }
    *out = g;
    return STRATA_OK;
}

static int insert_update(void *ctx, uint64_t sequence, enum value_type type,
                         struct slice key, struct slice value)
{
    return memtable_add(ctx, sequence, type, key, value);
}

/* Write the group to the WAL and the memtable, without mu. */
static int apply_group(strata_db *db, strata_batch *batch, int sync, const char **failed)
{
    int rc = wal_writer_add_record(db->wal, batch_contents(batch));
    *failed = "the WAL write";
    if (rc == STRATA_OK && sync) {
        rc = wal_writer_sync(db->wal);
        *failed = "the WAL sync";
    }
    if (rc == STRATA_OK) {
        const struct batch_handler handler = { db->mem, insert_update };
        rc = batch_iterate(batch_contents(batch), &handler, "a write batch");
        *failed = "the memtable insert";
    }
    return rc;
}

static void account_group(strata_db *db, strata_batch *batch, struct writer *last, int sync)
{
    uint64_t n = 0;
    for (struct writer *w = db->writers_head;; w = w->next) {
        n++;
        db->stats.user_bytes += w->batch->rep.len - BATCH_HEADER_SIZE;
        if (w == last)
            break;
    }
    db->stats.batches += n;
    db->stats.updates += batch_count(batch);
    db->stats.wal_records++;
    db->stats.wal_bytes += batch->rep.len;
    db->stats.wal_syncs += sync ? 1 : 0;
    if (n > db->stats.group_max)
        db->stats.group_max = n;
}

/* Wake the writers of the group with their status and hand the lead to the
 * next writer in the queue.  (mu) */
static void finish_group(strata_db *db, struct writer *self, struct writer *last, int rc)
{
    for (;;) {
        struct writer *w = db->writers_head;
        db->writers_head = w->next;
        if (w != self) {
            w->status = rc;
            if (rc != STRATA_OK) /* each keeps its own copy: a later group may fail too */
                snprintf(w->error, sizeof w->error, "%s", strata_last_error());
            w->done = 1;
            pthread_cond_signal(&w->cv);
        }
        if (w == last)
            break;
    }
    if (!db->writers_head)
        db->writers_tail = NULL;
    else
        pthread_cond_signal(&db->writers_head->cv);
}

/* Lead one group commit that includes self.  (mu, released meanwhile) */
static int lead_group(strata_db *db, struct writer *self)
{
    size_t bytes;
    strata_batch *batch;
    /* Room first: it may wait for a flush, while more writers queue up
     * behind the leader and join its group. */
    int rc = db_make_room_for_write(db, 0);
    struct writer *last = build_group(db, &bytes);
    if (rc == STRATA_OK)
        rc = merge_group(db, last, &batch);
    if (rc == STRATA_OK) {
        uint64_t first_seq = atomic_load_explicit(&db->last_sequence, memory_order_relaxed) + 1;
        batch_set_sequence(batch, first_seq);
        pthread_mutex_unlock(&db->mu);
        const char *failed;
        rc = apply_group(db, batch, self->sync, &failed);
        pthread_mutex_lock(&db->mu);
        if (rc == STRATA_OK) {
            atomic_store_explicit(&db->last_sequence, first_seq + batch_count(batch) - 1,
                                  memory_order_release);
            account_group(db, batch, last, self->sync);
        } else {
            db_keep_bg_error(db, rc, failed);
        }
    }
    finish_group(db, self, last, rc);
    return rc;
}

/* Queue w and wait until it is done or leads.  1 when it leads.  (mu) */
static int enqueue(strata_db *db, struct writer *w)
{
    if (db->writers_tail)
        db->writers_tail->next = w;
    else
        db->writers_head = w;
    db->writers_tail = w;
    while (!w->done && db->writers_head != w)
        pthread_cond_wait(&w->cv, &db->mu);
    return !w->done;
}

static int db_write(strata_db *db, const strata_write_options *wo, strata_batch *batch)
{
    if (!wo)
        wo = &default_write_options;
    struct writer w = { .batch = batch, .sync = wo->sync };
    pthread_cond_init(&w.cv, NULL);
    pthread_mutex_lock(&db->mu);
    int rc;
    if (enqueue(db, &w)) {
        rc = lead_group(db, &w);
    } else {
        rc = w.status;
        if (rc != STRATA_OK)
            status_set(rc, "%s", w.error);
    }
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

int db_flush_memtable(strata_db *db)
{
    /* In the queue like a write, so that no leader is inserting into the
     * memtable that becomes immutable. */
    struct writer w = { .batch = NULL };
    pthread_cond_init(&w.cv, NULL);
    pthread_mutex_lock(&db->mu);
    enqueue(db, &w); /* it leads: no group takes a flush request along */
    int rc = db_make_room_for_write(db, 1);
    finish_group(db, &w, &w, rc);
    while (rc == STRATA_OK && db->imm) {
        if (db->bg_error != STRATA_OK)
            rc = status_set(db->bg_error, "%s", db->bg_error_msg);
        else if (atomic_load(&db->shutting_down))
            rc = status_set(STRATA_INVALID_ARGUMENT, "the database is being closed");
        else
            pthread_cond_wait(&db->bg_done_cv, &db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

int strata_write(strata_db *db, const strata_write_options *wo, strata_batch *b)
{
    if (!db || !b)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_write: %s is NULL", db ? "batch" : "db");
    int rc = batch_error(b);
    if (rc != STRATA_OK)
        return rc;
    if (batch_count(b) == 0)
        return STRATA_OK;
    return db_write(db, wo, b);
}

/* Puts and deletes encode their one-update batch in a buffer on the stack
 * when it fits, to keep a malloc off the path of every small write.  The
 * buffer is sized so that the appends never need to grow it: a buf never
 * reallocates memory it still has capacity in. */
static int write_one(strata_db *db, const strata_write_options *wo, enum value_type type,
                     const void *key, size_t klen, const void *val, size_t vlen)
{
    char stack[512];
    size_t need = BATCH_HEADER_SIZE + 1 + 2 * VARINT32_MAX_LEN + klen + vlen;
    strata_batch b = { .rep = { 0 } };
    if (need <= sizeof stack)
        b.rep = (struct buf){ stack, 0, sizeof stack };
    static const char header[BATCH_HEADER_SIZE];
    int rc = buf_append(&b.rep, header, sizeof header);
    if (rc == STRATA_OK) {
        if (type == TYPE_VALUE)
            strata_batch_put(&b, key, klen, val, vlen);
        else
            strata_batch_delete(&b, key, klen);
        rc = batch_error(&b);
    }
    if (rc == STRATA_OK)
        rc = db_write(db, wo, &b);
    if (b.rep.data != stack)
        buf_free(&b.rep);
    return rc;
}

int strata_put(strata_db *db, const strata_write_options *wo,
               const void *key, size_t klen, const void *val, size_t vlen)
{
    if (!db)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_put: db is NULL");
    int rc = db_check_bytes("strata_put", "key", key, klen);
    if (rc == STRATA_OK)
        rc = db_check_bytes("strata_put", "value", val, vlen);
    if (rc != STRATA_OK)
        return rc;
    return write_one(db, wo, TYPE_VALUE, key, klen, val, vlen);
}

int strata_delete(strata_db *db, const strata_write_options *wo, const void *key, size_t klen)
{
    if (!db)
        return status_set(STRATA_INVALID_ARGUMENT, "strata_delete: db is NULL");
    int rc = db_check_bytes("strata_delete", "key", key, klen);
    if (rc != STRATA_OK)
        return rc;
    return write_one(db, wo, TYPE_DELETION, key, klen, NULL, 0);
}
