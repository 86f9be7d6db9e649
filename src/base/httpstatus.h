/*
 * httpstatus: the text of an HTTP status code ("Not Found"). Pure: the evhttp front end puts it
 * on its replies and problem bodies, the MCP tool results name the upstream's status with it.
 */
#ifndef CAPPROXY_HTTPSTATUS_H
#define CAPPROXY_HTTPSTATUS_H

/* Reason phrase for <status>; a class name ("Client Error") for codes not in the table. */
const char *httpstatus_text(int status);

#endif
