/*
 * convert: an upstream answer in the operation's `outputRawFormat` turned into JSON, so that
 * output mapping (JSONPath) reads every format the same way. Pure: no loop, no I/O; each format
 * is read by the library made for it (libxml2, libyaml through spec/ynode, libcsv, md4c).
 * docs/capability-format.md "Response formats" has an example of each shape.
 *
 *   json       the document itself (numbers beyond 2^53 keep their digits)
 *   xml        the root element's content, as Jackson's XmlMapper reads it: an element with
 *              only text is that string; otherwise an object whose members are its attributes
 *              and child elements (by local name, namespaces dropped), a repeated name becoming
 *              an array in document order, and its text (when not only white space) under the
 *              key "". Every value is a string; an empty element is "". A DTD (<!DOCTYPE>) is
 *              refused (no entity can expand or reach a file), nothing is fetched.
 *   csv tsv psv  delimiter ',', tab or '|'; RFC 4180 quoting (quoted fields may hold the
 *              delimiter, "" and line breaks). The first record names the columns; every
 *              other record becomes an object {column: string}, in an array. A record shorter
 *              than the header has only its own columns; a longer one is an error. Blank lines
 *              are skipped, spaces are kept, a UTF-8 byte-order mark is dropped.
 *   yaml       the single document, typed as YAML 1.1 plain scalars are (ynode_to_json); the
 *              empty stream is null. The limits of spec/ynode.h apply.
 *   html       {"tables": [[{header: cell}, ...], ...]}: every <table> (or those matched by the
 *              CSS selector <schema>, spec/selector.h, or inside what it matches), in document
 *              order. The header is the first row of <thead>, else the table's first row; its
 *              <th> texts name the columns (a table without any is skipped). Data rows are
 *              those of <tbody> (else all rows) with at least one <td> and no <th>; a cell's
 *              text has its white space collapsed; missing cells are "".
 *   markdown   {"frontMatter": {...}, "tables": [...], "sections": [{heading, level,
 *              content}]}: a leading "---" YAML block as an object ({} when none), every
 *              GitHub-style table as html's, and one section per heading with the plain text
 *              of the blocks up to the next heading (tables left out, blocks joined by a line
 *              break). <schema> keeps only the sections whose heading starts with it (leading
 *              '#' and spaces of <schema> ignored).
 */
#ifndef CAPPROXY_CONVERT_H
#define CAPPROXY_CONVERT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "spec/model.h"

#define CONVERT_MAX_DEPTH  64     /* nested XML elements */
#define CONVERT_MAX_VALUES 500000 /* JSON values built (elements, attributes, cells, fields) */
#define CONVERT_MAX_TABLES 1000   /* html and markdown tables */
#define CONVERT_MAX_KEYS                                                                           \
    1000 /* members of one object: columns, an element's distinct                                  \
            children and attributes (lookups are linear) */

/* <body>[0..len) in format <f> as JSON (caller deletes), or NULL with the reason in
 * <err>[0..errlen) (<err> may be NULL). <schema> narrows what is read (html: an XPath
 * expression selecting the tables, which the loader makes from the document's CSS selector;
 * markdown: a heading prefix; NULL when absent; ignored by the other formats). */
cJSON *convert_to_json(enum model_format f, const char *schema, const char *body, size_t len,
                       char *err, size_t errlen);

/* An answer of consumed operation <op> (its outputRawFormat and outputSchema) as JSON: what
 * convert_to_json gives, with the schema prepared at load. On NULL, <err> says it as the
 * caller's error does: "the upstream's XML could not be read: <why>". */
cJSON *convert_answer(const struct model_operation *op, const char *body, size_t len, char *err,
                      size_t errlen);

/* "XML", "CSV", "Markdown"...: the format as a sentence names it. */
const char *convert_format_label(enum model_format f);

#endif
