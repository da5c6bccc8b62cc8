/*
 * api.h: the HTTPS API's handlers, independent of the HTTP server.
 *
 * serve.c (libmicrohttpd) turns each complete request into a struct
 * gw_req, calls gw_api_handle() and sends the struct gw_resp back. The
 * handlers never see the server, so unit tests call them directly.
 * The API is documented in doc/PROTOCOL.md.
 */
#ifndef TRASA_GW_API_H
#define TRASA_GW_API_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"

#define GW_MAX_BODY (64u * 1024) /* bytes: larger bodies get 413 */

struct gw_api;

struct gw_req {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* "/v1/ca/user", without the query */
	/* A query argument or request header by name (case-insensitive for
	 * headers); NULL when absent. */
	const char *(*arg)(const struct gw_req *req, const char *name);
	const char *(*header)(const struct gw_req *req, const char *name);
	void *impl; /* the server's, for arg() and header() */
	const uint8_t *body;
	size_t body_len;
	const char *peer; /* client address as text ("127.0.0.1") */
};

struct gw_resp {
	unsigned status;	  /* 200, 304, 400... */
	const char *content_type; /* static string */
	uint8_t *body;		  /* malloc'd; the server frees it */
	size_t len;
	char etag[72];		  /* quoted ETag, or "" */
	char disposition[128];	  /* Content-Disposition, or "" */
};

/*
 * The serving context: configuration, state directory, CA keys (read at
 * start and again within a second of a change under STATE/ca, so `ca
 * rotate` takes effect without a restart), one database connection per
 * serving thread (opened on first use) and a thread that checkpoints the
 * database's WAL in the background. gw must outlive it.
 */
int gw_api_new(const struct gw *gw, struct gw_api **out);
void gw_api_free(struct gw_api *api);

/*
 * Answer one request. Always fills resp (status 500 with a JSON error on
 * internal failure); never exits. Errors are JSON:
 *   {"error": "what is wrong", "field": "name"}   ("field" when one is to
 *   blame). Thread-safe: serving threads call it concurrently.
 */
void gw_api_handle(struct gw_api *api, const struct gw_req *req,
    struct gw_resp *resp);

/* Release what the calling thread holds (its database connection); the
 * server calls it as each serving thread ends. */
void gw_api_thread_end(struct gw_api *api);

#endif
