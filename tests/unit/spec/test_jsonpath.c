/*
 * Unit tests for jsonpath: syntax checks, the root forms, member/index/wildcard selection and
 * ownership of the result (a deep copy the caller deletes).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "spec/jsonpath.h"

static const char *doc_text =
    "{\"status\":\"success\","
    " \"data\":[{\"id\":1,\"email\":\"a@x\",\"tags\":[\"t1\",\"t2\"]},"
    "          {\"id\":2,\"email\":\"b@x\",\"tags\":[]},"
    "          {\"id\":3,\"name\":\"no email\"}],"
    " \"obj\":{\"a b\":1,\"x.y\":2,\"it's\":3,\"q\\\"d\":4,\"back\\\\slash\":5,\"\":6,"
    "          \"n\":{\"m\":[10,20,30]}},"
    " \"dup\":{\"k\":1,\"k\":2},"
    " \"x-cal\":\"h\", \"$ref\":\"r\", \"nil\":null, \"zero\":0}";

static cJSON *doc;

/* Evaluate and print compactly; "(none)" when NULL. The result is deleted. */
static const char *ev(const char *path)
{
    static char buf[512];
    cJSON *r = jsonpath_eval(doc, path);
    if (!r)
        return "(none)";
    char *s = cJSON_PrintUnformatted(r);
    snprintf(buf, sizeof buf, "%s", s ? s : "(print failed)");
    cJSON_free(s);
    cJSON_Delete(r);
    return buf;
}

static int check(const char *path)
{
    const char *err = NULL;
    int rc = jsonpath_check(path, &err);
    if (rc < 0 && (err == NULL || !*err))
        return 98; /* a failure always comes with a message */
    return rc;
}

static void test_check(void)
{
    CHECK(check(NULL) == 0);
    CHECK(check("") == 0);
    CHECK(check("$") == 0);
    CHECK(check("$.") == 0);
    CHECK(check("$.data") == 0);
    CHECK(check("$.data[0].id") == 0);
    CHECK(check("$.data[-1]") == 0);
    CHECK(check("$.data[*].email") == 0);
    CHECK(check("$.data.*") == 0);
    CHECK(check("$[*]") == 0);
    CHECK(check("$['a b']") == 0);
    CHECK(check("$[\"a b\"]") == 0);
    CHECK(check("$['it\\'s']") == 0);
    CHECK(check("$[ 0 ]") == 0);
    CHECK(check("$[ * ]") == 0);
    CHECK(check("$.x-cal") == 0);
    CHECK(check("$.a_b.c1") == 0);

    CHECK(check("data") == -1);
    CHECK(check(".data") == -1);
    CHECK(check("$data") == -1);
    CHECK(check("$.a.") == -1);
    CHECK(check("$..a") == -1);
    CHECK(check("$..") == -1);
    CHECK(check("$.") == 0);
    CHECK(check("$.[0]") == -1);
    CHECK(check("$.a[") == -1);
    CHECK(check("$.a[0") == -1);
    CHECK(check("$.a[]") == -1);
    CHECK(check("$.a[x]") == -1);
    CHECK(check("$.a[-]") == -1);
    CHECK(check("$.a[0:2]") == -1);
    CHECK(check("$.a[0,1]") == -1);
    CHECK(check("$.a[?(@.x)]") == -1);
    CHECK(check("$.a['b]") == -1);
    CHECK(check("$.a['b'") == -1);
    CHECK(check("$.a['b\\']") == -1);
    CHECK(check("$.a]") == -1);
    CHECK(check("$.a b") == -1);
    CHECK(check("$.*a") == -1);
    CHECK(check("$.a[99999999999]") == -1);
    CHECK(check("$ ") == -1);

    /* err may be NULL */
    CHECK(jsonpath_check("$..x", NULL) == -1);
    CHECK(jsonpath_check("$.x", NULL) == 0);
}

static void test_is_root(void)
{
    CHECK(jsonpath_is_root(NULL));
    CHECK(jsonpath_is_root(""));
    CHECK(jsonpath_is_root("$"));
    CHECK(jsonpath_is_root("$."));
    CHECK(!jsonpath_is_root("$.a"));
    CHECK(!jsonpath_is_root("$[*]"));
    CHECK(!jsonpath_is_root("$.."));
    CHECK(!jsonpath_is_root("."));
}

static void test_root(void)
{
    char *whole = cJSON_PrintUnformatted(doc);
    CHECK_STR(ev("$"), whole);
    CHECK_STR(ev("$."), whole);
    CHECK_STR(ev(""), whole);
    CHECK_STR(ev(NULL), whole);
    cJSON_free(whole);

    /* the result is a copy, not the document */
    cJSON *r = jsonpath_eval(doc, "$");
    CHECK(r != NULL && r != doc);
    cJSON_Delete(r);
    r = jsonpath_eval(doc, "$.obj");
    CHECK(r != NULL && r != cJSON_GetObjectItem(doc, "obj"));
    CHECK(r != NULL &&
          cJSON_GetObjectItem(r, "n") != cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "obj"), "n"));
    cJSON_Delete(r);

    /* scalar documents */
    cJSON *num = cJSON_CreateNumber(7);
    r = jsonpath_eval(num, "$");
    CHECK(r != NULL && cJSON_IsNumber(r) && r->valuedouble == 7);
    cJSON_Delete(r);
    CHECK(jsonpath_eval(num, "$.a") == NULL);
    CHECK(jsonpath_eval(num, "$[0]") == NULL);
    r = jsonpath_eval(num, "$[*]");
    CHECK(r != NULL && cJSON_IsArray(r) && cJSON_GetArraySize(r) == 0);
    cJSON_Delete(r);
    cJSON_Delete(num);

    CHECK(jsonpath_eval(NULL, "$") == NULL);
}

static void test_members(void)
{
    CHECK_STR(ev("$.status"), "\"success\"");
    CHECK_STR(ev("$.obj.n.m"), "[10,20,30]");
    CHECK_STR(ev("$['obj']['n']['m']"), "[10,20,30]");
    CHECK_STR(ev("$[\"obj\"].n[\"m\"]"), "[10,20,30]");
    CHECK_STR(ev("$.obj['a b']"), "1");
    CHECK_STR(ev("$.obj['x.y']"), "2");
    CHECK_STR(ev("$.obj.x.y"), "(none)");
    CHECK_STR(ev("$.obj['it\\'s']"), "3");
    CHECK_STR(ev("$.obj[\"it's\"]"), "3");
    CHECK_STR(ev("$.obj['q\"d']"), "4");
    CHECK_STR(ev("$.obj[\"q\\\"d\"]"), "4");
    CHECK_STR(ev("$.obj['back\\\\slash']"), "5");
    CHECK_STR(ev("$.obj['']"), "6");
    CHECK_STR(ev("$.x-cal"), "\"h\"");
    CHECK_STR(ev("$.$ref"), "\"r\"");
    CHECK_STR(ev("$.nil"), "null");
    CHECK_STR(ev("$.zero"), "0");
    CHECK_STR(ev("$.dup.k"), "1"); /* first of duplicate keys */

    /* case-sensitive, exact, no prefix matches */
    CHECK_STR(ev("$.Status"), "(none)");
    CHECK_STR(ev("$.stat"), "(none)");
    CHECK_STR(ev("$.statusx"), "(none)");
    CHECK_STR(ev("$.obj['a']"), "(none)");
    CHECK_STR(ev("$.missing"), "(none)");
    CHECK_STR(ev("$.missing.deeper"), "(none)");
    CHECK_STR(ev("$.status.length"), "(none)");
    CHECK_STR(ev("$.data.id"), "(none)"); /* member of an array: no implicit flattening */

    /* an invalid path yields nothing */
    CHECK_STR(ev("$..id"), "(none)");
    CHECK_STR(ev("status"), "(none)");
    CHECK_STR(ev("$.data[0:1]"), "(none)");
}

static void test_index(void)
{
    CHECK_STR(ev("$.data[0].id"), "1");
    CHECK_STR(ev("$.data[2].id"), "3");
    CHECK_STR(ev("$.data[3]"), "(none)");
    CHECK_STR(ev("$.data[-1].id"), "3");
    CHECK_STR(ev("$.data[-3].id"), "1");
    CHECK_STR(ev("$.data[-4]"), "(none)");
    CHECK_STR(ev("$.data[ 1 ].email"), "\"b@x\"");
    CHECK_STR(ev("$.data[0].tags[1]"), "\"t2\"");
    CHECK_STR(ev("$.obj.n.m[-1]"), "30");
    CHECK_STR(ev("$.data[1].tags[0]"), "(none)");
    CHECK_STR(ev("$.obj[0]"), "(none)"); /* index into an object */
    CHECK_STR(ev("$.status[0]"), "(none)");
    CHECK_STR(ev("$.data[2147483647]"), "(none)");
    CHECK_STR(ev("$.data[-2147483647]"), "(none)");
    CHECK_STR(ev("$.data[0]"), "{\"id\":1,\"email\":\"a@x\",\"tags\":[\"t1\",\"t2\"]}");
}

static void test_wildcard(void)
{
    CHECK_STR(ev("$.data[*].email"), "[\"a@x\",\"b@x\"]");
    CHECK_STR(ev("$.data.*.email"), "[\"a@x\",\"b@x\"]");
    CHECK_STR(ev("$.data[*].id"), "[1,2,3]");
    CHECK_STR(ev("$.data[*].tags[*]"), "[\"t1\",\"t2\"]");
    CHECK_STR(ev("$.data[*].tags[0]"), "[\"t1\"]");
    CHECK_STR(ev("$.data[*].tags"), "[[\"t1\",\"t2\"],[]]");
    CHECK_STR(ev("$.obj.n.m[*]"), "[10,20,30]");
    CHECK_STR(ev("$.obj.n.*"), "[[10,20,30]]");
    CHECK_STR(ev("$.obj.n[*]"), "[[10,20,30]]"); /* [*] on an object: its values */
    CHECK_STR(ev("$.data[-1].*"), "[3,\"no email\"]");
    CHECK_STR(ev("$[*].k"), "[1]"); /* only "dup" has a k (its first one) */

    /* no match: an empty array, never NULL */
    CHECK_STR(ev("$.data[*].nope"), "[]");
    CHECK_STR(ev("$.missing[*]"), "[]");
    CHECK_STR(ev("$.status[*]"), "[]");
    CHECK_STR(ev("$.data[1].tags[*]"), "[]");
    CHECK_STR(ev("$.nil.*"), "[]");
}

static void test_big_array(void)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < 1000; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "v", i);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON *r = jsonpath_eval(arr, "$[*].v");
    CHECK(r != NULL && cJSON_GetArraySize(r) == 1000);
    CHECK(r != NULL && cJSON_GetArrayItem(r, 999)->valuedouble == 999);
    cJSON_Delete(r);
    r = jsonpath_eval(arr, "$[-1].v");
    CHECK(r != NULL && r->valuedouble == 999);
    cJSON_Delete(r);
    r = jsonpath_eval(arr, "$[500]");
    CHECK(r != NULL && cJSON_GetObjectItem(r, "v")->valuedouble == 500);
    cJSON_Delete(r);
    cJSON_Delete(arr);
}

int main(void)
{
    doc = cJSON_Parse(doc_text);
    if (!doc) {
        fprintf(stderr, "test document does not parse\n");
        return 1;
    }
    RUN(test_check());
    RUN(test_is_root());
    RUN(test_root());
    RUN(test_members());
    RUN(test_index());
    RUN(test_wildcard());
    RUN(test_big_array());
    cJSON_Delete(doc);
    return harness_report();
}
