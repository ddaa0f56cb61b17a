/*
 * bh_limits.h - every limit bouncer applies to untrusted input, in one place.
 *
 * Each BH_DEF_* is the default of a limit that the configuration may change (section `limits:`
 * of bouncer.yaml); each BH_MAX_* is a hard ceiling built into data structures. Hitting a limit
 * is never a crash or a silent cut: the parser reports it (a verdict of "unparseable" with the
 * limit named, or a truncation flag that the output shows).
 */
#ifndef BH_LIMITS_H
#define BH_LIMITS_H

/* Message as a whole. */
#define BH_DEF_MESSAGE_SIZE (25u * 1024 * 1024) /* larger messages are quarantined unread */
#define BH_MAX_MESSAGE_SIZE (512u * 1024 * 1024)

/* Headers. */
#define BH_DEF_HEADER_LINE  (64u * 1024) /* one (unfolded) header field */
#define BH_DEF_HEADER_COUNT 2000u	 /* fields in one header block */

/* MIME structure. */
#define BH_DEF_MIME_DEPTH 16u /* nesting of multipart and message/rfc822 */
#define BH_MAX_MIME_DEPTH 64u
#define BH_DEF_MIME_PARTS 512u /* leaf and container parts in one message */

/* MIME parameters (RFC 2231 continuations: boundary*0=..., boundary*1*=...). */
#define BH_MAX_PARAM_SECTIONS 64u   /* sections of one parameter (name*0 .. name*63) */
#define BH_MAX_PARAM_VALUE    1024u /* octets of one value, sections joined and decoded */

/* Delivery reports. */
#define BH_DEF_RECIPIENTS 1000u /* per-recipient blocks in one DSN / recipients per verdict */
#define BH_MAX_DSN_FIELDS 200u	/* fields in one DSN block */

/* Addresses and fields. */
#define BH_MAX_ADDRESS	       512u  /* an e-mail address, octets (RFC 5321 says 256) */
#define BH_MAX_LOCAL_PART      64u   /* RFC 5321 4.5.3.1.1 */
#define BH_MAX_FIELD_ADDRESSES 32u   /* addresses tried in one header field (VERP locate) */
#define BH_MAX_DIAGNOSTIC      1000u /* diagnostic text kept in a verdict or an event */
#define BH_MAX_FIELD_VALUE     998u  /* other header values kept in a verdict */
#define BH_MAX_STATUS	       16u   /* "5.1.1" plus room for Sisimai-style "5.0.910" */

/* Text scanning. */
#define BH_DEF_SCAN_BYTES	 (256u * 1024) /* body text that the recognizers look at */
#define BH_DEF_REGEX_MATCH_LIMIT 100000u       /* PCRE2 match limit: no catastrophic backtracking */
#define BH_MAX_RULE_TEXT	 4096u	       /* diagnostic bytes the reason engine reads */
#define BH_AUTOREPLY_SCAN	 (16u * 1024)  /* body bytes the auto-reply detector reads */
#define BH_AUTOREPLY_LINES	 200u	       /* ... and body lines */
#define BH_MAX_SES_SIZE		 (1u * 1024 * 1024) /* JSON bytes of an SES notification */
#define BH_MAX_SES_DEPTH	 16u		    /* ... its nesting (json-c tokener depth) */
#define BH_MAX_SES_STARTS	 8u		    /* ... '{' tried as its start in the text */

/* Loops. */
#define BH_DEF_HOP_LIMIT 30u /* Received headers in a returned message */

/* Configuration. */
#define BH_MAX_CONFIG_SIZE  (4u * 1024 * 1024)
#define BH_MAX_CONFIG_DEPTH 32u
#define BH_MAX_LISTS	    10000u
#define BH_MAX_RULES	    2000u
#define BH_MAX_EVIDENCE	    8u /* texts about one recipient the reason engine reads */
#define BH_MAX_VERP_KEYS    8u
#define BH_MAX_CONFIG_NODES 500000u /* YAML nodes in one file */
#define BH_MAX_CONFIG_DIAGS 500u    /* problems reported for one file */
#define BH_MAX_OUR_DOMAINS  1000u
/* Redis Sentinels in redis.sentinels. */
#define BH_MAX_SENTINELS 16u

/* IMAP. */
#define BH_DEF_BATCH_SIZE 1000u
#define BH_MAX_BATCH_SIZE 5000u
/* announced body bytes per UID FETCH (one message at least): a worker holds the bodies of the
 * chunk it classifies and of the one read meanwhile */
#define BH_FETCH_CHUNK_BYTES (256u * 1024)
#define BH_STORE_PART	     100u /* messages a worker sends to Redis at once (one part in flight) */
#define BH_MAX_TLS_CHAIN     16u  /* certificates of a server chain we look at */
#define BH_MAX_CAPABILITIES  256u /* capability names kept from one server */

/* Metrics (label values come from untrusted mail: a list name out of a VERP address). */
#define BH_MAX_METRIC_SERIES 10000u /* labelled series; more go to an overflow series */
#define BH_MAX_METRIC_LABEL  128u   /* octets of one label value */

#endif
