/*
 * conf - sluiced's configuration: one typed table of every key.
 *
 * The table (conf.c) gives each key its type, default, bounds and a line of
 * documentation; the embedded default configuration, `sluiced -n`'s check,
 * `sluiced -p`'s listing and the key reference in sluice.conf(5) all come
 * from it. libconfig does the parsing. Unknown keys, wrong types and values
 * out of bounds are errors with file and line; the whole file is read and
 * every error reported before the caller refuses to start.
 *
 * A struct conf owns every string and array in it; conf_free() frees all.
 */
#ifndef SLUICE_CONF_H
#define SLUICE_CONF_H

#include <stdint.h>
#include <stdio.h>

#include "policy/policy.h"

struct conf_list {
	struct policy_entry	*e;
	size_t			 n;
};

struct conf {
	char		*hostname;
	char		**listen;
	char		**local_domains;
	char		**relay_domains;
	char		**authorized_networks;
	char		**local_users;
	char		**local_addresses;
	int		 accept_literals;
	int		 allow_percent_hack;
	int		 allow_bang_path;
	int		 allow_quoted_at;
	int		 refuse_broad_networks;
	char		*recipient_delimiter;
	char		*postmaster;
	char		*spool_dir;
	char		*maildir_root;
	char		*user;
	char		*log;
	char		*log_level;
	char		*banner;
	uint64_t	 message_size;
	uint64_t	 recipients;
	uint64_t	 errors;
	uint64_t	 idle_timeout;
	uint64_t	 data_timeout;
	uint64_t	 sessions;
	uint64_t	 sessions_per_ip;
	int		 reject_long_lines;
	uint64_t	 delivery_workers;
	char		*control_socket;
	uint64_t	 retry_min, retry_max, lifetime, delay_warning;
	uint64_t	 out_concurrency, per_destination, max_hops;
	uint64_t	 conn_cache_time;
	char		*relayhost;
	char		*relayhost_auth;
	char		**routes;
	char		**tls_required;
	char		*resolver;
	char		*tls_cert, *tls_key;
	char		*auth_passwd, *auth_dovecot;
	char		**sender_logins;
	int		 sender_check;
	uint64_t	 auth_max_failures, auth_slow_after, auth_window,
			 auth_block_time;
	char		**abuse_rules;
	uint64_t	 abuse_table;
	char		**dnsbl_zones;
	uint64_t	 dnsbl_timeout;
	char		*metrics_listen;
	char		*web_listen, *web_database, *web_test_domain,
			*web_catcher, *web_helo, *web_source;
	int		 web_allow_private, web_secure_cookies;
	uint64_t	 web_concurrency, web_queue_max, web_per_ip,
			 web_per_user, web_target_cache, web_timeout,
			 web_wait;
	uint64_t	 out_connect_timeout, out_timeout;
	struct conf_list deny_clients, deny_helo, deny_senders, deny_recipients;
	struct conf_list allow_clients, allow_helo, allow_senders,
			 allow_recipients;
	char		*path;		/* file read, or NULL for built-in */
};

struct conf *conf_default(void);
struct conf *conf_load(const char *path, FILE *errs);
void	conf_free(struct conf *c);
void	conf_print(const struct conf *c, FILE *out);
void	conf_print_reference(FILE *out);
size_t	conf_diff(const struct conf *a, const struct conf *b,
	    void (*cb)(const char *key, void *arg), void *arg);
void	conf_policy(const struct conf *c, struct policy_conf *pc);

#endif
