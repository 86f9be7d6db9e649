/*
 * Unit tests for ratelimit's tables: clients are independent, the client table stays within
 * limits.rateLimitClients however many keys come, threads sharing a key never take more than
 * its burst, and the outbound rate per consumed API waits, then refuses.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "harness.h"
#include "http/ratelimit.h"
#include "spec/config.h"

#define S TBUCKET_NS_PER_S

static void key_of(unsigned n, uint8_t key[RATELIMIT_KEY_LEN])
{
    memset(key, 0, RATELIMIT_KEY_LEN);
    /* Spread over the shards and the slots the way HMAC output does. */
    uint64_t h = 0x9E3779B97F4A7C15ull * (n + 1);
    memcpy(key, &h, 8);
    h ^= h >> 29;
    memcpy(key + 8, &h, 8);
}

static void test_independent(void)
{
    struct ratelimit *rl = ratelimit_new();
    struct config_rate r = {.count = 2, .period_ms = 1000, .burst = 0};
    uint8_t a[RATELIMIT_KEY_LEN], b[RATELIMIT_KEY_LEN];
    key_of(1, a);
    key_of(2, b);
    struct tbucket_verdict v;
    CHECK(ratelimit_take_key(rl, a, &r, 100, 0, &v) && v.remaining == 1);
    CHECK(ratelimit_take_key(rl, a, &r, 100, 0, &v) && v.remaining == 0);
    CHECK(!ratelimit_take_key(rl, a, &r, 100, 0, &v) && v.wait_ns == S / 2);
    CHECK(ratelimit_take_key(rl, b, &r, 100, 0, &v) && v.remaining == 1);
    CHECK(ratelimit_keys(rl) == 2);
    /* Half a second later a has one token again. */
    CHECK(ratelimit_take_key(rl, a, &r, 100, S / 2, &v));
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

/* A flood of distinct keys: the table keeps at most max_keys (rounded up to the shards), and
 * the most recent client keeps its state. */
static void test_bounded(void)
{
    struct ratelimit *rl = ratelimit_new();
    struct config_rate r = {.count = 1, .period_ms = 60000, .burst = 0};
    struct tbucket_verdict v;
    uint8_t k[RATELIMIT_KEY_LEN];
    for (unsigned i = 0; i < 100000; i++) {
        key_of(i, k);
        ratelimit_take_key(rl, k, &r, 1024, 0, &v);
    }
    CHECK(ratelimit_keys(rl) <= 1024);
    CHECK(ratelimit_keys(rl) >= 512);
    key_of(99999, k);
    CHECK(!ratelimit_take_key(rl, k, &r, 1024, 0, &v)); /* still remembered: empty */
    struct strbuf m;
    strbuf_init(&m, 0);
    ratelimit_metrics(rl, &m);
    CHECK(strstr(m.data, "capproxy_ratelimit_inbound_evicted_total 9") != NULL);
    strbuf_deinit(&m);
    ratelimit_free(rl);
}

struct hammer {
    struct ratelimit *rl;
    atomic_int ok;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    struct config_rate r = {.count = 500, .period_ms = 3600000, .burst = 0};
    uint8_t k[RATELIMIT_KEY_LEN];
    key_of(7, k);
    struct tbucket_verdict v;
    for (int i = 0; i < 1000; i++)
        if (ratelimit_take_key(h->rl, k, &r, 100, 5 * S, &v))
            atomic_fetch_add(&h->ok, 1);
    return NULL;
}

/* Four threads on one key at one instant: exactly the burst goes through. */
static void test_threads(void)
{
    struct hammer h = {.rl = ratelimit_new()};
    atomic_init(&h.ok, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer_run, &h);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&h.ok) == 500);
    ratelimit_free(h.rl);
}

static void test_outbound(void)
{
    struct ratelimit *rl = ratelimit_new();
    struct config cfg;
    config_defaults(&cfg);
    struct diag d;
    diag_init(&d);
    const char *yaml = "consumers:\n"
                       "  - namespace: slow-*\n"
                       "    rate: 2/s\n"
                       "    rateMaxWait: 600ms\n";
    CHECK(config_load_buffer(&cfg, "t.yaml", yaml, strlen(yaml), &d) == 0);
    int64_t w;
    CHECK(ratelimit_out_take(rl, &cfg, "other", &w) == RATELIMIT_GO && w == 0);
    CHECK(ratelimit_out_take(rl, &cfg, NULL, &w) == RATELIMIT_GO);
    CHECK(ratelimit_out_take(NULL, &cfg, "slow-api", &w) == RATELIMIT_GO);
    CHECK(ratelimit_out_take(rl, &cfg, "slow-api", &w) == RATELIMIT_GO);
    /* Burst 1 at 2 a second: the next waits about 500 ms, the one after would wait 1 s. */
    CHECK(ratelimit_out_take(rl, &cfg, "slow-api", &w) == RATELIMIT_WAIT);
    CHECK(w > 400 * 1000000LL && w <= 500 * 1000000LL);
    CHECK(ratelimit_out_take(rl, &cfg, "slow-api", &w) == RATELIMIT_REFUSE);
    CHECK(w > 900 * 1000000LL && w <= 1000 * 1000000LL);
    /* The waiting one gave up (client gone, MCP cancel): its turn is the next taker's. */
    ratelimit_out_refund(rl, &cfg, "slow-api");
    CHECK(ratelimit_out_take(rl, &cfg, "slow-api", &w) == RATELIMIT_WAIT);
    CHECK(w > 400 * 1000000LL && w <= 500 * 1000000LL);
    ratelimit_out_refund(rl, &cfg, "other"); /* no rate: nothing happens */
    /* Another API matching the same entry has its own bucket. */
    CHECK(ratelimit_out_take(rl, &cfg, "slow-two", &w) == RATELIMIT_GO);
    struct strbuf m;
    strbuf_init(&m, 0);
    ratelimit_metrics(rl, &m);
    CHECK(strstr(m.data,
                 "capproxy_ratelimit_outbound_total{api=\"slow-api\",outcome=\"delayed\"} 2") !=
          NULL);
    CHECK(strstr(m.data,
                 "capproxy_ratelimit_outbound_total{api=\"slow-api\",outcome=\"refused\"} 1") !=
          NULL);
    strbuf_deinit(&m);
    diag_deinit(&d);
    config_deinit(&cfg);
    ratelimit_free(rl);
}

static void test_parse(void)
{
    struct config_rate r = {0, 0, 7};
    CHECK(config_parse_rate("600/1m", &r) == 0 && r.count == 600 && r.period_ms == 60000);
    CHECK(r.burst == 7); /* kept */
    CHECK(config_parse_rate("100/s", &r) == 0 && r.count == 100 && r.period_ms == 1000);
    CHECK(config_parse_rate("5/h", &r) == 0 && r.period_ms == 3600000);
    CHECK(config_parse_rate("10/500ms", &r) == 0 && r.period_ms == 500);
    CHECK(config_parse_rate("off", &r) == 0 && r.count == 0);
    CHECK(config_parse_rate("0", &r) == 0 && r.count == 0);
    CHECK(config_parse_rate("lots", &r) < 0);
    CHECK(config_parse_rate("/s", &r) < 0);
    CHECK(config_parse_rate("-1/s", &r) < 0);
    CHECK(config_parse_rate("5/0s", &r) < 0);
    CHECK(config_parse_rate("5/fortnight", &r) < 0);
}

int main(void)
{
    RUN(test_independent());
    RUN(test_bounded());
    RUN(test_threads());
    RUN(test_outbound());
    RUN(test_parse());
    return harness_report();
}
