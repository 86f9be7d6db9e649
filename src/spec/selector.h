/*
 * selector: the CSS selectors an html `outputSchema` may hold, turned into the XPath that
 * libxml2 evaluates. libxml2 reads HTML but has no CSS engine. The C selector parser Debian ships,
 * Modest's mycss (libmodest-dev, a 2021 snapshot), is not safe on a document's
 * text: it loops forever on some malformed selectors (`a[b c]]`, `a[1]]`) and reads before a heap
 * block on others (`> table`, valgrind). So capproxy accepts the subset that scoping a table needs
 * and refuses the rest at load:
 *
 *   compound   a tag name or `*`, then any `.class` and `#id` (`table.products`, `#prices`, `div`)
 *   A B        B anywhere inside A            A > B    B a child of A
 *   S1, S2     either
 *
 * Names are ASCII letters, digits, '-' and '_'; tag names match case-insensitively (the HTML
 * parser lowercases them). Pure; lives in spec so that the loader can check a selector.
 */
#ifndef CAPPROXY_SELECTOR_H
#define CAPPROXY_SELECTOR_H

#include <stddef.h>

#define SELECTOR_MAX_LEN 256 /* bytes of selector text */

/* The XPath for CSS selector <css> (a new string; free it), or NULL with the reason in
 * <err>[0..errlen) (which may be NULL). */
char *selector_to_xpath(const char *css, char *err, size_t errlen);

#endif
