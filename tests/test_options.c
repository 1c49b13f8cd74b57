/*
 * test_options.c: option setters keep values in their documented ranges,
 * and strata_open refuses what it cannot honour.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "src/options.h"
#include "tests/testutil.h"
#include "strata.h"

Test(options, defaults_are_documented_values)
{
    strata_options *o = strata_options_new();
    cr_assert_not_null(o);
    cr_assert_eq(o->create_if_missing, 1);
    cr_assert_eq(o->paranoid_checks, 1);
    cr_assert_eq(o->write_buffer_size, 4u << 20);
    cr_assert_eq(o->block_size, 4096u);
    cr_assert_eq(o->block_cache_size, 8u << 20);
    cr_assert_eq(o->bloom_bits_per_key, 10);
    cr_assert_eq(o->compression, STRATA_COMPRESSION_ZSTD);
    cr_assert_eq(o->compression_level, -1);
    cr_assert_eq(o->max_open_files, 1000);
    cr_assert_eq(o->target_file_size, 2u << 20);
    cr_assert_eq(o->max_bytes_for_level_base, 10u << 20);
    cr_assert_eq(o->max_bytes_for_level_multiplier, 10);
    cr_assert_eq(o->level0_slowdown_trigger, 8);
    cr_assert_eq(o->level0_stop_trigger, 12);
    strata_options_free(o);
}

Test(options, tree_shape_setters_clamp)
{
    strata_options *o = strata_options_new();
    strata_options_set_target_file_size(o, 1);
    cr_assert_eq(o->target_file_size, 16u << 10);
    strata_options_set_max_bytes_for_level_base(o, 5);
    cr_assert_eq(o->max_bytes_for_level_base, 64u << 10);
    strata_options_set_max_bytes_for_level_multiplier(o, 1);
    cr_assert_eq(o->max_bytes_for_level_multiplier, 2);
    strata_options_set_max_bytes_for_level_multiplier(o, 1000);
    cr_assert_eq(o->max_bytes_for_level_multiplier, 100);
    strata_options_set_level0_slowdown_trigger(o, 0);
    cr_assert_eq(o->level0_slowdown_trigger, 1);
    strata_options_set_level0_stop_trigger(o, -5);
    cr_assert_eq(o->level0_stop_trigger, 1);
    /* NULL options are ignored, not a crash. */
    strata_options_set_target_file_size(NULL, 1);
    strata_options_set_level0_stop_trigger(NULL, 1);
    strata_options_free(o);
}

Test(options, setters_clamp_to_their_ranges)
{
    strata_options *o = strata_options_new();
    strata_options_set_write_buffer_size(o, 1);
    cr_assert_eq(o->write_buffer_size, 64u << 10);
    strata_options_set_block_size(o, 10);
    cr_assert_eq(o->block_size, 256u);
    strata_options_set_bloom_bits_per_key(o, -3);
    cr_assert_eq(o->bloom_bits_per_key, 0);
    strata_options_set_bloom_bits_per_key(o, 99);
    cr_assert_eq(o->bloom_bits_per_key, 30);
    strata_options_set_max_open_files(o, 1);
    cr_assert_eq(o->max_open_files, 16);
    strata_options_set_block_cache_size(o, 0);
    cr_assert_eq(o->block_cache_size, 0u);
    /* NULL is ignored, not a crash. */
    strata_options_set_block_size(NULL, 4096);
    strata_options_set_compression(NULL, 1);
    strata_options_free(o);
}

Test(options, unknown_codec_is_refused_at_open)
{
    char *dir = tu_mkdtemp("options");
    strata_options *o = strata_options_new();
    strata_options_set_compression(o, 42);
    strata_db *db = NULL;
    cr_assert_eq(strata_open(dir, o, &db), STRATA_INVALID_ARGUMENT);
    cr_assert_null(db);
    cr_assert(strstr(strata_last_error(), "compression") != NULL, "%s", strata_last_error());
    strata_options_set_compression(o, STRATA_COMPRESSION_NONE);
    cr_assert_eq(strata_open(dir, o, &db), STRATA_OK, "%s", strata_last_error());
    cr_assert_eq(strata_close(db), STRATA_OK);
    strata_options_free(o);
    tu_rmrf(dir);
    free(dir);
}
