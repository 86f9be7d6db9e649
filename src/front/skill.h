/*
 * skill: the skill adapter's front end, the catalog the reference engine serves: GET /skills
 * (every skill, its tool names), /skills/{name} (its frontmatter and tools, each `derived` from
 * a sibling adapter's operation or tool, or an `instruction` file), /skills/{name}/contents
 * (the files under its location) and /skills/{name}/contents/{path} (one file). It describes
 * tools; callers invoke them on the adapter they come from. The adapter's `authentication`
 * guards every path.
 */
#ifndef CAPPROXY_SKILL_H
#define CAPPROXY_SKILL_H

#include <event2/http.h>

/* A skill file larger than this is not served (413): skills are instructions, not archives. */
#define SKILL_MAX_FILE (8L * 1024 * 1024)
/* A contents listing stops after this many files. */
#define SKILL_MAX_FILES 1000

/* evhttp generic callback; <arg> is the listener's struct front_listener. */
void skill_handle(struct evhttp_request *req, void *arg);

#endif
