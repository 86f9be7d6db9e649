/*
 * rest: the REST front end. One evhttp request handler per listener: match the route, gather
 * the inputs (path variables, query, headers, JSON body), map them to the consumed operation,
 * forward through the worker's upstream client and pass the answer back (status, body, content
 * type, end-to-end headers). Every error is a JSON problem body.
 */
#ifndef CAPPROXY_REST_H
#define CAPPROXY_REST_H

#include <event2/http.h>

/* evhttp generic callback; <arg> is the struct worker_listener. */
void rest_handle(struct evhttp_request *req, void *arg);

#endif
