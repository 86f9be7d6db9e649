/*
 * test_urlenc_class: the byte class table (urlenc_class) against the character sets it stands
 * for, for every byte: a wrong bit would let a bad header name through or send a URL part to
 * curl unparsed.
 */
#include <stdbool.h>
#include <string.h>

#include "harness.h"
#include "spec/urlenc.h"

static bool alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void test_tchar_every_byte(void)
{
    int bad = 0;
    for (int c = 0; c < 256; c++) {
        bool want = alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
        if (urlenc_is_tchar((unsigned char)c) != want)
            bad++;
    }
    CHECK(bad == 0);
    CHECK(urlenc_header_name_ok("X-Request-Id"));
    CHECK(!urlenc_header_name_ok("X Request"));
    CHECK(!urlenc_header_name_ok("X:Y"));
}

static void test_urlpart_every_byte(void)
{
    int bad = 0;
    for (int c = 0; c < 256; c++) {
        bool want = alnum(c) || (c && strchr("-._~!$&'()*+,;=:@/?", c));
        if (((urlenc_class[c] & URLENC_C_URLPART) != 0) != want)
            bad++;
    }
    CHECK(bad == 0);
    CHECK(!(urlenc_class['%'] & URLENC_C_URLPART)); /* percent-encodings take the full parse */
    CHECK(!(urlenc_class['#'] & URLENC_C_URLPART));
    CHECK(!(urlenc_class[0x80] & URLENC_C_URLPART));
}

int main(void)
{
    RUN(test_tchar_every_byte());
    RUN(test_urlpart_every_byte());
    return harness_report();
}
