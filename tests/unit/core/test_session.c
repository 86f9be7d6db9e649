/* Unit tests for session: protocol version negotiation and session ids (signing, verification,
 * tampering, expiry, ending). */
#include "harness.h"

#include <stdint.h>
#include <string.h>

#include "core/session.h"

static void test_versions(void)
{
    CHECK_STR(session_negotiate_version("2025-03-26"), "2025-03-26");
    CHECK_STR(session_negotiate_version("2025-06-18"), "2025-06-18");
    CHECK_STR(session_negotiate_version("2025-11-25"), "2025-11-25");
    CHECK_STR(session_negotiate_version("2024-11-05"), SESSION_VERSION_LATEST);
    CHECK_STR(session_negotiate_version("2099-01-01"), SESSION_VERSION_LATEST);
    CHECK_STR(session_negotiate_version(""), SESSION_VERSION_LATEST);
    CHECK_STR(session_negotiate_version(NULL), SESSION_VERSION_LATEST);
    CHECK_STR(SESSION_VERSION_LATEST, "2025-11-25");
    CHECK(session_version_supported("2025-06-18"));
    CHECK(!session_version_supported("2025-06-18 "));
    CHECK(!session_version_supported("2024-11-05"));
    CHECK(!session_version_supported(NULL));
}

static void test_sessions(void)
{
    const int64_t t0 = 1763000000;
    char a[SESSION_ID_MAX], b[SESSION_ID_MAX];
    session_set_key("unit-test key", 13);
    session_set_ttl(SESSION_TTL_DEFAULT_S);
    CHECK(session_global_init() == 0);
    CHECK(session_issue(t0, a) == 0);
    CHECK(session_issue(t0, b) == 0);
    CHECK(strcmp(a, b) != 0); /* random part */
    CHECK(strlen(a) >= 43 && strlen(a) < SESSION_ID_MAX);
    bool visible = true;
    for (const char *p = a; *p; p++)
        visible &= *p > 0x20 && *p < 0x7f;
    CHECK(visible);
    CHECK(session_check(a, t0) == SESSION_OK);
    CHECK(session_check(a, t0 + SESSION_TTL_DEFAULT_S - 1) == SESSION_OK);
    CHECK(session_check(a, t0 + SESSION_TTL_DEFAULT_S) == SESSION_EXPIRED);
    CHECK(session_check(a, t0 - SESSION_MAX_SKEW_S - 1) == SESSION_EXPIRED);
    CHECK(session_check(a, t0 - 10) == SESSION_OK); /* small clock skew between replicas */

    /* Every single-character change is refused. */
    size_t len = strlen(a);
    int accepted = 0;
    for (size_t i = 0; i < len; i++) {
        char t[SESSION_ID_MAX];
        memcpy(t, a, len + 1);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        accepted += session_check(t, t0) == SESSION_OK;
    }
    CHECK(accepted == 0);
    char t[SESSION_ID_MAX];
    memcpy(t, a, len + 1);
    t[len / 2] = t[len / 2] == 'A' ? 'B' : 'A';
    CHECK(session_check(t, t0) == SESSION_FORGED || session_check(t, t0) == SESSION_MALFORMED);

    CHECK(session_check("", t0) == SESSION_MALFORMED);
    CHECK(session_check(NULL, t0) == SESSION_MALFORMED);
    CHECK(session_check("short", t0) == SESSION_MALFORMED);
    memcpy(t, a, len + 1);
    t[3] = '*';
    CHECK(session_check(t, t0) == SESSION_MALFORMED);
    memcpy(t, a, len + 1);
    t[len - 1] = '\0';
    CHECK(session_check(t, t0) == SESSION_MALFORMED);

    /* Another key (another deployment) does not accept our ids; the same key does. */
    session_set_key("another key", 11);
    CHECK(session_check(a, t0) == SESSION_FORGED);
    session_set_key("unit-test key", 13);
    CHECK(session_check(a, t0) == SESSION_OK);

    /* Ending. */
    CHECK(session_end(a, t0 + 5) == SESSION_OK);
    CHECK(session_check(a, t0 + 6) == SESSION_ENDED);
    CHECK(session_end(a, t0 + 7) == SESSION_ENDED);
    CHECK(session_check(b, t0 + 6) == SESSION_OK);
    CHECK(session_end("nonsense", t0) == SESSION_MALFORMED);
    session_forget_ended();
    CHECK(session_check(a, t0 + 6) == SESSION_OK);

    /* The ended set is bounded: it keeps working when full. */
    char first[SESSION_ID_MAX];
    CHECK(session_issue(t0, first) == 0);
    CHECK(session_end(first, t0) == SESSION_OK);
    for (int i = 0; i < SESSION_ENDED_MAX + 10; i++) {
        char id[SESSION_ID_MAX];
        session_issue(t0 + 1 + i, id);
        session_end(id, t0 + 1 + i);
    }
    char last[SESSION_ID_MAX];
    session_issue(t0 + 5000, last);
    CHECK(session_end(last, t0 + 5000) == SESSION_OK);
    CHECK(session_check(last, t0 + 5001) == SESSION_ENDED);
    CHECK(session_check(first, t0 + 5001) == SESSION_OK); /* evicted: the oldest goes first */
    session_forget_ended();

    /* A shorter TTL (tests only). */
    session_set_ttl(60);
    CHECK(session_check(b, t0 + 59) == SESSION_OK);
    CHECK(session_check(b, t0 + 60) == SESSION_EXPIRED);
    session_set_ttl(SESSION_TTL_DEFAULT_S);
    CHECK_STR(session_status_name(SESSION_FORGED), "forged");
}

int main(void)
{
    RUN(test_versions());
    RUN(test_sessions());
    return harness_report();
}
