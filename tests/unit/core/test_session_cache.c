/*
 * Unit tests for the per-thread memory of the last signed session id (session.c verify): it
 * spares the HMAC only; age, ended ids, another key and any other id are judged every time.
 */
#include <string.h>

#include "core/session.h"
#include "harness.h"

static void test_cache(void)
{
    session_set_key("key one", 7);
    session_set_ttl(3600);
    char id[SESSION_ID_MAX], other[SESSION_ID_MAX];
    CHECK(session_issue(1000, id) == 0);
    CHECK(session_issue(1000, other) == 0);
    CHECK(session_check(id, 1001) == SESSION_OK);
    CHECK(session_check(id, 1002) == SESSION_OK); /* remembered */
    /* still too old, remembered or not */
    CHECK(session_check(id, 1000 + 3600) == SESSION_EXPIRED);
    CHECK(session_check(id, 1003) == SESSION_OK);
    /* one character changed: not the remembered id, and forged */
    char forged[SESSION_ID_MAX];
    strcpy(forged, id);
    size_t last = strlen(forged) - 1;
    forged[last] = forged[last] == 'A' ? 'B' : 'A';
    CHECK(session_check(forged, 1003) != SESSION_OK);
    CHECK(session_check(id, 1003) == SESSION_OK);
    /* another key: the remembered signature no longer counts */
    session_set_key("key two", 7);
    CHECK(session_check(id, 1004) == SESSION_FORGED);
    session_set_key("key one", 7);
    CHECK(session_check(id, 1004) == SESSION_OK);
    /* an ended id is refused even though its signature is remembered */
    CHECK(session_check(other, 1005) == SESSION_OK);
    CHECK(session_end(other, 1005) == SESSION_OK);
    CHECK(session_check(other, 1006) == SESSION_ENDED);
    CHECK(session_check(id, 1006) == SESSION_OK);
    session_forget_ended();
}

int main(void)
{
    RUN(test_cache());
    return harness_report();
}
