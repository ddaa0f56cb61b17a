/*
 * rules.c - the reason engine: why did delivery to one recipient fail?
 *
 * Input: an RFC 3463 status ("5.1.1" or ""), an SMTP reply code ("550" or "") and the
 * diagnostic text (untrusted bytes, any length). Output: a reason word, whose problem it is, and
 * the id of the rule that decided. The knowledge is data: an ordered table of rows (status glob,
 * reply-code glob, PCRE2 pattern over the text, reason, optional whose). The built-in table below
 * is written from RFC 3463 / RFC 7372 / RFC 7505 codes and the phrases real MTAs emit; rules from
 * the configuration are put in front of it (or replace it).
 *
 * Decision order (README "Classification rules"):
 *   1. strong text rows, in table order (config rows first): the first whose status/reply globs
 *      and pattern all match decides;
 *   2. code rows (no pattern): a specific status ("5.1.1", "5.2.2", "5.7.26"...) decides;
 *      generic codes (x.0.0, x.7.1, 550, 554...) have no row and decide nothing;
 *   3. weak text rows: vague phrases ("service unavailable", a bare "spam") that only decide
 *      when the status said nothing specific;
 *   4. the status class: 4.x.x -> onhold, anything else -> undefined.
 * A 2.x.x status is a success notice: "delivered", unless a text row of step 1 matched.
 *
 * The text is normalized once per call (bounded by BH_MAX_RULE_TEXT): white space and control
 * bytes collapse to one space, ASCII is lower-cased, and the "550-5.7.1 " continuation markers
 * of a multi-line SMTP reply are dropped so that phrases split across reply lines still match.
 * Each built-in row carries cheap literals; the regex runs only when one of them occurs in the
 * text (the prefilter), which keeps a recipient at a few microseconds. Every match runs under a
 * PCRE2 match and depth limit, so a crafted text cannot make a pattern backtrack for long; a
 * match that hits the limit counts as no match.
 *
 * Trusts: nothing in the text; the config rows were validated by config.c and are checked again
 * here (globs, pattern compile). Pure: no I/O, no logging.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "rules.h"

#include <ctype.h>
#include <nettle/sha2.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "util.h"

/* One row of the built-in table. lits: '|'-separated lower-case literals, one of which must
 * occur in the normalized text before the pattern is tried (NULL: always try). */
struct bh_rule_def {
	const char *id;
	const char *status;
	const char *reply;
	const char *lits;
	const char *pattern;
	enum bh_reason reason;
	int whose; /* -1: the reason's own */
	bool weak;
	bool stage; /* a recipient-unknown row that the SMTP stage and status may re-read */
};

/* clang-format off */
#define T(id, lits, pat, reason)            {id, NULL, NULL, lits, pat, reason, -1, false, false}
#define TU(id, lits, pat, reason)           {id, NULL, NULL, lits, pat, reason, -1, false, true}
#define TS(id, st, lits, pat, reason)       {id, st, NULL, lits, pat, reason, -1, false, false}
#define TW(id, lits, pat, reason, whose)    {id, NULL, NULL, lits, pat, reason, whose, false, false}
#define WEAK(id, lits, pat, reason)         {id, NULL, NULL, lits, pat, reason, -1, true, false}
#define WEAKW(id, lits, pat, reason, whose) {id, NULL, NULL, lits, pat, reason, whose, true, false}
#define S(id, st, reason)                   {id, st, NULL, NULL, NULL, reason, -1, false, false}

/*
 * The built-in table. Order matters among text rows: sender-side and specific phrases come
 * before the broad recipient families ("user unknown", "recipient address rejected"), because
 * servers wrap sender-side refusals in recipient-looking words ("Recipient address rejected:
 * Reverse DNS validation failed"). The text is already lower-case with single spaces.
 * Every alternative of a pattern must contain one of the row's literals (test_rules checks).
 */
static const struct bh_rule_def builtin[] = {
	/* --- the domain accepts no mail at all (RFC 7505 null MX) */
	T("notaccept-text", "null mx|accept|receive|mail exchanger|no mx|mx or srv",
	  "null mx"
	  "|(?:does not|doesn't|do not|will not|won't) (?:accept|receive) (?:any )?(?:e-?)?mail"
	  "|(?:system|domain|host|server) (?:is )?not accepting (?:network )?(?:mail|messages)"
	  "|accepts no mail"
	  "|(?:couldn't|could not|can't|cannot|unable to) find (?:a|any) mail exchanger"
	  "|no mail exchanger|no mx (?:record )?(?:found|for)|an mx or srv record",
	  BH_R_NOTACCEPT),

	/* --- DNS trouble on the way (temporary resolver errors, not a missing domain) */
	T("network-dns-temp", "dns error|dns query|name server|try again|lookup failure|timed out|temporary"
			      "|servfail",
	  "dns error: .{0,80}lookup of|dns query failed|malformed or unexpected name server"
	  "|host not found, try again|(?:host )?name lookup failure"
	  "|temporary (?:dns|name) (?:failure|error)|dns (?:lookup|resolution) timed out"
	  "|name server (?:timeout|failure)|temporary failure in name resolution|\\bservfail\\b",
	  BH_R_NETWORKERROR),

	/* --- our sending volume, worded as a quota (before the mailbox quota phrases) */
	T("speeding-quota", "sending|outgoing|limit on the number",
	  "(?:daily |hourly )?(?:user )?sending (?:quota|limit) (?:exceeded|reached)"
	  "|outgoing (?:message |mail )?(?:quota|limit) (?:exceeded|reached)"
	  "|limit on the number of (?:allowed )?(?:outgoing )?(?:messages|recipients)",
	  BH_R_SPEEDING),

	/* --- over quota / mailbox full (before "expired": "mailbox is full: retry timeout") */
	T("mailboxfull-text", "quota|full|exceed|reached|is at|storage|space|size limit|too many messages",
	  "(?:mail ?box|inbox|mail ?folder|mail ?drop|account|user) (?:is |was |has been )?"
	  "(?:full|over ?quota)"
	  "|(?:mail ?box|inbox|mail ?folder) (?:size )?(?:has )?(?:exceed|reached|is at)"
	  "|over ?quota|quota (?:exceed|full|reached|violation)"
	  "|(?:exceed|exceeded|exceeds|reached|over|full) (?:the |his |her |their |its |your |my )?"
	  "(?:allowed |mailbox |disk |storage |user |recipient'?s? )?quota"
	  "|(?:disk|storage|mailbox|mail) quota|out of (?:storage|mailbox|disk) space"
	  "|insufficient (?:storage|space) (?:for|in) (?:the |this )?(?:user|mailbox|recipient)"
	  "|mailbox (?:storage|space) (?:is )?(?:full|exhausted)|mailbox has no (?:more )?space"
	  "|not enough (?:storage|space) in (?:the |this )?(?:user|mailbox|recipient)"
	  "|exceeded storage allocation|storage allocation exceeded"
	  "|(?:mail ?box|inbox) size limit (?:exceeded|reached)"
	  "|too many messages (?:on|in) (?:the |this |his |her |their |your )?(?:server|mail ?box|inbox)",
	  BH_R_MAILBOXFULL),

	/* --- size: the recipient's limit (5.2.3) vs the system's (5.3.4) */
	T("exceedlimit-text", "recipient|administrative limit",
	  "exceeds? (?:the )?(?:size )?limit set by (?:the )?recipient"
	  "|recipient'?s? (?:message )?size limit|length exceeds administrative limit",
	  BH_R_EXCEEDLIMIT),
	T("mesgtoobig-text", "large|big|size violation|line limit|message size",
	  "(?:message|mail|e-?mail|data|content)s? (?:is |was )?too (?:large|big)"
	  "|too (?:large|big) for|size violation|line limit exceeded"
	  "|larger than (?:my |the |our )?(?:maximum|max|allowed|permitted)"
	  "|max(?:imum)? message size (?:limit )?exceeded",
	  BH_R_MESGTOOBIG),

	/* --- Sendmail's deferral that names its cause before the expiry ("Deferred: Connection
	 * refused by mx.example.org. Message could not be delivered for 5 days"): the cause
	 * decides, as connection-refused-weak says it; before the retries-ran-out phrases */
	TW("blocked-deferred-refused", "connection refused by", "deferred: connection refused by",
	   BH_R_BLOCKED, BH_WHOSE_EITHER),

	/* --- retries ran out */
	T("expired-text", "expire|timeout|timed out|failing|exhausted|deliver|send|retr"
			  "|reachable|route|attempts|connect",
	  "(?:message|envelope|delivery time|mail|queue time) expired|expired after|has expired"
	  "|retry (?:time(?:out)?|period) (?:exceeded|expired)|delivery (?:retry )?timeout"
	  "|could not be delivered (?:with)?in \\d"
	  "|(?:unable to|could not|couldn't) deliver .{0,30}after (?:\\d|multiple|several|repeated)"
	  "|failing for a long time|retries exhausted|delivery attempts? (?:has |have )?(?:been )?exhausted"
	  "|(?:connection|operation) timed out|timed out while|host not reachable|no route to host"
	  "|not been (?:able to be )?delivered (?:for|in) \\d+ (?:days|hours)"
	  "|failed \\d+ (?:delivery )?attempts|did not accept our requests? to connect"
	  "|(?:could not|couldn't|cannot|can't|unable to) (?:be )?(?:deliver(?:ed)?|send (?:the )?message)"
	  " (?:for|in|within) (?:the )?(?:last |past )?\\d+"
	  "|still (?:undelivered|not delivered) after \\d+|will be retried for \\d+ more"
	  "|retry time not reached",
	  BH_R_EXPIRED),

	/* --- sender-side: relaying */
	T("norelaying-text", "relay|identities failed|rcpthosts|as a relay",
	  "relay(?:ing)? (?:access )?(?:denied|not (?:allowed|permitted)|prohibited|refused|forbidden)"
	  "|(?:not|isn't) (?:configured|permitted|allowed|authorized|authorised) to relay"
	  "|(?:unable|cannot|can't|will not|won't|do not|does not|don't) relay|no relaying"
	  "|relay not permitted"
	  "|email address is not verified\\. the following identities failed"
	  "|(?:isn't|is not|not) in my list of allowed rcpthosts"
	  "|(?:use|using) (?:me|this (?:server|host|system)) .{0,120}?as a relay",
	  BH_R_NORELAYING),

	/* --- sender-side: our IP's reverse DNS */
	T("requireptr-text", "ptr|reverse|rdns|lookup failed|unverif|mismatch|your host|your ip"
			     "|your address|resolve",
	  "reverse (?:dns|lookup|dns lookup|name|hostname)|\\brdns\\b|\\bptr\\b"
	  "|ip name lookup failed|unverif(?:i|y)able (?:sending )?ip"
	  "|mismatch(?:es)? (?:client|connecting|sending) ip"
	  "|(?:cannot|can't|could not|couldn't|unable to) (?:find|resolve|verify) your "
	  "(?:host ?name|ip|address)"
	  "|(?:client|your) (?:host ?name|ip) (?:does not|doesn't) resolve",
	  BH_R_REQUIREPTR),

	/* --- sender-side: spam verdicts that mention SPF or blocking in passing */
	T("spam-strong", "spam|junk|ube|bulk|unsolicited|mass mail|uribl|surbl|suspicious|content filter"
			 "|content denied",
	  "spam classification"
	  "|(?:classified|scored|detected|identified|flagged|marked|considered|rejected) as (?:spam|junk)"
	  "|spam (?:content|detected|message|score|signature|violation|filter|firewall)"
	  "|content[^.;]{0,40}spam"
	  "|message content rejected, ube|\\bube\\b|unsolicited bulk|bulk (?:e-?)?mail"
	  "|likely unsolicited (?:mail|e-?mail|message)|probability of (?:being )?spam"
	  "|(?:appears|seems|determined|believed) to be (?:unsolicited|spam|junk)"
	  "|mass mail(?:er|ing)|\\b(?:uri|sur)bl\\b"
	  "|(?:blocked|rejected|refused|identified) by (?:the )?(?:spam ?assassin|spam ?filter"
	  "|anti-?spam|content filter)"
	  "|suspicious (?:url|link|content)s?|mail content denied",
	  BH_R_SPAMDETECTED),

	/* --- sender-side: SPF / DKIM / DMARC (RFC 7208, RFC 6376, RFC 7489) */
	T("authfailure-text", "spf|dkim|dmarc|sender policy|authentica|arc",
	  "\\bdmarc\\b|\\bdkim\\b|\\bspf\\b|sender policy framework"
	  "|\\barc (?:validation|verification|check)"
	  "|authentication (?:checks? )?(?:failed|did not pass|fail)|multiple authentication checks"
	  "|(?:does not|doesn't|fails to|failed to) pass (?:authentication|dmarc|spf|dkim)"
	  "|unauthenticated (?:e-?mail|message)|(?:sender|mail|message) is unauthenticated"
	  "|not have authentication information",
	  BH_R_AUTHFAILURE),

	/* --- sender-side: reputation */
	T("badreputation-text", "reputation|complaints",
	  "reputation|unexpected volume or user complaints|user complaints",
	  BH_R_BADREPUTATION),

	/* --- sender-side: our IP sends unwanted mail (before the rate words of the rows below) */
	T("blocked-ip-spam", "originating from your",
	  "(?:unsolicited mail|spam) originating from your (?:ip|network|server)", BH_R_BLOCKED),
	/* a reply about our IP ("554 IP=192.0.2.1 - A problem occurred. (Ask your postmaster
	 * ...) (BL)") whose tag names a block list */
	T("blocked-ip-tag", "(bl)", "\\bip=[0-9a-f.:]{3,45} - .{0,200}\\(bl\\)", BH_R_BLOCKED),

	/* --- sender-side: our envelope sender is on a block list (before the IP lists) */
	T("rejected-sender-listed", "sender|address that",
	  "sender (?:address |domain )?(?:is |was |has been )?(?:black|block|deny|ban)[ -]?listed"
	  "|sender (?:address |domain )?(?:is |was |has been )?banned"
	  "|(?:to/)?from an address that has been (?:black|block)listed",
	  BH_R_REJECTED),

	/* --- sender-side: volume */
	T("speeding-text", "rate|too many|limit|quota",
	  "receiving mail at a rate|(?:sent|sending) (?:to )?too many (?:recipients|messages|mails|e-?mails)"
	  "|too many (?:recipients|messages|mails|e-?mails) (?:this|per|in the last|in a short)"
	  "|rate (?:limit|limited|exceeded)|rate-limit|ratelimit|sending rate|message rate"
	  "|too many (?:messages|mails|e-?mails)"
	  "|(?:sending|daily|hourly) (?:message |sending )?(?:limit|quota) (?:exceeded|reached)",
	  BH_R_SPEEDING),
	T("toomanyconn-text", "too many|connection|concurrent|frequency",
	  "too many (?:connections|concurrent|simultaneous|sessions|smtp sessions|recipients)"
	  "|connection (?:frequency|rate|count) (?:limit|exceeded)"
	  "|(?:ip|domain) frequency limit"
	  "|concurrent connections? (?:limit|exceeded)",
	  BH_R_TOOMANYCONN),

	/* --- the recipient chose not to hear from us (before the block-list words below) */
	T("filtered-recipient-choice", "recipient|accept|list|senders|not accepting|not authori"
				       "|user entry",
	  "(?:blocked|rejected|refused) by the recipient(?! domain| server| mail| system| host| mta)"
	  "|recipient has (?:blocked|rejected|refused)"
	  "|only accept(?:s|ing)? (?:e-?mail|mail|messages) from (?:specific|certain|known|approved)"
	  "|not (?:in|on) (?:the |my |our |the recipient'?s? )?(?:white|allow|safe)[ -]?(?:list|senders)"
	  "|(?:they|recipients?|users?|he|she|mailbox) (?:are|is) not accepting (?:e-?)?(?:mail|messages)"
	  " (?:from|with)|blocked senders|blocked - user entry"
	  "|delivery not authori[sz]ed, message refused",
	  BH_R_FILTERED),

	/* --- sender-side: our client IP or host refused (block lists, policy on connections) */
	T("blocked-text", "list|block|spamhaus|spamcop|sorbs|barracuda|rbl|dnsbl|uceprotect|abuseat|ban"
			  "|client host|not accepting|open relay|your isp|invalid ip|dynamic|dial"
			  "|residential|mail exchanger|relay quota|your ip|your server|your host|my name|helo|ehlo"
			  "|directly|smtp relay|this ip|deferred|not allowed to send|messages from|blocked -",
	  "(?<!may be )(?:black|block|deny|ban)[ -]?list(?:ed)?|(?<!not )listed (?:at|on|in|by) "
	  "|blocked (?:using|by|for)"
	  "|\\bspamhaus\\b|\\bspamcop\\b|\\bsorbs\\b|barracuda(?:central)?|\\brbls?\\b|\\bdnsbls?\\b"
	  "|uceprotect|abuseat"
	  "|client host (?:\\[[^]]{0,64}\\] )?(?:rejected|blocked|refused)|banned (?:sending )?ip"
	  "|(?<!sender )(?<!sender's )(?:ip|address|host|network) (?:address )?(?:\\[?[0-9a-f.:]{3,45}\\]? )?(?:is |has been )?"
	  "(?:blocked|banned|blacklisted)"
	  "|not accepting connections|open relay"
	  "|smtp server of your isp|invalid ip for sending|dynamic (?:ip|address)|dial-?up|residential"
	  "|may not be mail exchanger|relay quota|your ip (?:address )?(?:is|has)|block(?:ed)? for abuse"
	  "|not authorized to send (?:e-?mail|mail) directly|use the smtp relay"
	  "|(?:traffic|connections?|mail) not accepted from this ip|permanently deferred"
	  "|my name was rejected|(?:helo|ehlo) (?:command |name |hostname )?(?:rejected|refused|denied)"
	  "|invalid (?:helo|ehlo)|(?:helo|ehlo) (?:name |hostname )?(?:is )?invalid|bad (?:helo|ehlo)"
	  "|on our block ?list|your (?:ip|server|host) (?:is|was|has been) (?:blocked|rejected|denied)"
	  "|(?:\\bip|\\d{1,3}(?:\\.\\d{1,3}){3}) is not allowed to send"
	  "|messages from \\[?\\d{1,3}(?:\\.\\d{1,3}){3}\\]? (?:are|were|is) not accepted"
	  "|\\bblocked - (?:see|refer|visit)",
	  BH_R_BLOCKED),

	/* --- sender-side: content */
	T("virus-text", "virus|malware|infected|trojan|worm|malicious|security issue",
	  "virus|malware|infected|trojan|\\bworm\\b|malicious (?:content|attachment|code|software)"
	  "|content presents a potential security issue",
	  BH_R_VIRUSDETECTED),
	TS("spam-content-57", "5.7.*", "content rejected", "content rejected", BH_R_SPAMDETECTED),

	/* --- sender-side: policy */
	T("policy-text", "polic|protocol violation|not allowed|header error|prohibition|restriction|banned"
			 "|prohibited|forbidden|attachment|file type",
	  "policy (?:reasons?|violation|rejection)|(?:local|security|content|site) polic(?:y|ies)"
	  "|protocol violation|violates? (?:our )?(?:\\w+ )?polic|host network not allowed"
	  "|header error|administrative prohibition|content restrictions?|anti-?spoofing polic"
	  "|banned (?:attachment|file|content)|(?:prohibited|forbidden|blocked) (?:attachment|file type)"
	  "|policy that (?:prohibit|prevent|block)",
	  BH_R_POLICYVIOLATION),

	/* --- sender-side: Gmail refuses a From we set with its "Send mail as" feature when that
	 * identity is not verified or its settings are stale: our sender, not the recipient */
	T("rejected-send-as", "send mail as|customfromdenied",
	  "'?send mail as'? (?:feature|account)|customfromdenied", BH_R_REJECTED),

	/* --- sender-side: authentication and TLS */
	T("starttls-text", "tls|ssl|certificate",
	  "(?:starttls|tls|ssl) (?:negotiation|handshake) (?:failed|failure|error)|tls failed"
	  "|certificate (?:verification|validation) (?:failed|error)|could not (?:negotiate|start) tls"
	  "|certificate (?:is )?not (?:verified|trusted)|untrusted (?:server )?certificate",
	  BH_R_FAILEDSTARTTLS),
	T("securityerror-text", "authenticat|authrequired|tls|encryption|login|advertise auth",
	  "authentication (?:is )?required|unauthenticated senders?|must (?:be )?authenticat"
	  "|not authenticated|authrequired|(?:tls|starttls|encryption) (?:is )?required"
	  "|must issue a starttls|login (?:is )?required|relay requires authentication"
	  "|does not advertise auth",
	  BH_R_SECURITYERROR),

	/* --- sender-side: the message breaks RFC 5322 or is malformed */
	T("notcompliantrfc-text", "rfc|multiple|duplicate|missing|malformed|no from",
	  "not rfc ?(?:2822|5322|822)? ?complian|rfc ?(?:2822|5322|822)[^;]{0,40}?(?:compliant|violation)"
	  "|missing a valid (?:address in from|message-?id)|(?:having )?no from:? header"
	  "|(?:multiple|duplicate) (?:addresses in from|[a-z-]{2,30} (?:header|field)s?)"
	  "|missing (?:a |the |required )?\"?(?:date|from|message-id|subject)\"? (?:header|field)"
	  "|malformed (?:mail|message)",
	  BH_R_NOTCOMPLIANTRFC),
	T("contenterror-text", "8-bit|8bit|header|media|mime|encoding|content error",
	  "(?:improper|illegal|invalid) use of 8-?bit|8-?bit data|headers? too (?:large|long)"
	  "|too many headers|media error|invalid (?:mime|header|encoding)|malformed (?:mime|header)"
	  "|content error",
	  BH_R_CONTENTERROR),

	/* --- sender-side: our envelope sender (RFC 3463 5.1.7, 5.1.8), list membership */
	T("rejected-text", "sender|mail from|gateway user|return path|return-path|member|post",
	  "sender (?:address )?(?:was )?(?:rejected|refused|denied|blocked|invalid|unknown"
	  "|not (?:allowed|permitted|accepted))"
	  "|(?:domain of )?sender (?:address|domain) .{0,80}(?:does not exist|not found|must resolve"
	  "|unresolvable)"
	  "|invalid sender|sender verif(?:y|ication) failed|unverified sender"
	  "|mail from .{0,80}(?:rejected|refused|not accepted|invalid|syntax)|bad sender"
	  "|not a registered gateway user|invalid address (?:in|for) mail from"
	  "|rejected (?:the )?mail from"
	  "|(?:return[ -]path|envelope sender) .{0,40}(?:rejected|invalid)"
	  "|not (?:a )?member of (?:this|the) (?:mailing )?list|(?:not have|no) permission to post"
	  "|(?:not allowed|not permitted) to post|(?:weren't|were not|not) recognized as a valid sender",
	  BH_R_REJECTED),
	/* a Google Groups notice (it links the Groups help centre in every language it is written
	 * in): the group does not exist or will not take our post, the group's answer to us */
	T("rejected-google-groups", "groups.google.com", "groups\\.google\\.com/support",
	  BH_R_REJECTED),
	/* a refusal after MAIL FROM is about our envelope sender, whatever its words */
	T("rejected-mail-from", "mail from",
	  "(?:after|in reply to) mail from\\b", BH_R_REJECTED),
	/* a sender status (bad sender address, bad sender system) beats any recipient wording
	 * below: "501 5.1.7 Invalid address" is about our MAIL FROM */
	TS("rejected-517-text", "?.1.7", NULL, "^", BH_R_REJECTED),
	TS("rejected-518-text", "?.1.8", NULL, "^", BH_R_REJECTED),
	/* refused at connection or HELO time, in words the rows above did not know: our host */
	T("blocked-connect", "initial connection|helo|ehlo|refused to talk",
	  "after initial connection|in reply to (?:helo|ehlo) command|after (?:helo|ehlo)\\b"
	  "|refused to talk to me",
	  BH_R_BLOCKED),

	/* --- recipient: the account is disabled or suspended */
	T("suspend-text", "disabled|suspend|inactive|locked|frozen|deactivat|blocked|closed|expired"
			  "|terminated",
	  "(?:account|mailbox|user|recipient|address)[^;:]{0,40}? (?:is |was |has been "
	  "|temporar(?:il)?y )?"
	  "(?:disabled|suspended|inactive|locked|frozen|deactivated|blocked|closed|expired|terminated)"
	  "|disabled (?:recipient|account|mailbox|user)"
	  "|(?:suspended|inactive|deactivated|frozen) (?:e-?mail )?(?:account|mailbox|user|address)",
	  BH_R_SUSPEND),

	/* --- recipient: moved (RFC 3463 5.1.6) */
	T("hasmoved-text", "moved|no longer|not our customer|changed|not local",
	  "(?:has|have) moved|moved (?:permanently|to)|no longer (?:on (?:this )?server|at this|here"
	  "|accepts (?:e-?)?mail)"
	  "|not our customer|(?:mailbox|address) (?:has )?changed|user not local",
	  BH_R_HASMOVED),

	/* --- recipient: the domain does not exist or has no usable route */
	T("hostunknown-text", "host|domain|unrout|non-existent|nonexistent|bad destination|name or service"
			      "|invalid|illegal|registered",
	  "host (?:or domain name )?(?:unknown|not found)|unknown (?:host|domain)"
	  "|no such (?:host|domain)|host [a-z0-9.-]{1,255} not found"
	  "|(?:domain|host) (?:name )?(?:not found|(?:does not|doesn't|may not|did not) exist)"
	  "|(?:domain|host)[^.;]{0,30} (?:does not|doesn't|may not) exist"
	  "|bad destination (?:system )?(?:address|host)"
	  "|couldn't find any host|unrout(?:e)?able (?:domain|address)"
	  "|nxdomain|point to non-?existent hosts|name or service not known"
	  "|invalid (?:recipient |destination )?domain\\b(?! name)|illegal host ?/ ?domain name"
	  "|domain name (?:\\([^)]{1,255}\\) )?(?:does not appear to be|is not|isn't) registered",
	  BH_R_HOSTUNKNOWN),

	/* --- network on the way */
	T("network-text", "name service|hop|loop|connection|establish|network|lookup failure|socket"
			  "|domain name system",
	  "name service error|hop count|too many hops|routing loop|mail loop|loop detected"
	  "|loops back to myself|is looping|connection died|socket error"
	  "|querying the domain name system"
	  "|lost connection|connection (?:reset|dropped|closed|lost)"
	  "|(?:wasn't|was not|unable to|could not) (?:able to )?establish"
	  "|network (?:error|unreachable)|lookup failure",
	  BH_R_NETWORKERROR),

	/* --- the remote mailer program (local delivery agent) failed; x-unix is its exit */
	T("mailererror-text", "procmail|mailer|program|command|pipe|exit|create|exec|x-unix;",
	  "procmail|mailer error|unknown mailer|(?:program|command|pipe) (?:died|failed|exited|error)"
	  "|exit (?:status|code) \\d|couldn't create|cannot create|\\| ?exec |^x-unix;|pipe to \\|",
	  BH_R_MAILERERROR),

	/* --- the recipient's own filter; "550 : User unknown" (no address) is a filter's answer */
	T("filtered-text", "filter|preference|recipient has|rejected by|: user unknown|rule",
	  "message filtered|filtered by|(?:recipient|user)(?:'s)? (?:preferences|filter|rules?)"
	  "|due to recipient preferences|recipient has (?:rejected|refused|blocked)|domain filter"
	  "|email preferences of the (?:person|recipient)"
	  "|rejected by (?:the )?(?:recipient|user)(?! domain| server| mail| system| host| mta)"
	  "|\\b[45]\\d\\d : user unknown",
	  BH_R_FILTERED),

	/* --- our SMTP client said something the server did not understand */
	T("syntaxerror-text", "syntax|command|sequence|malformed address",
	  "syntax error|command (?:parameter )?not (?:implemented|recognized|recognised)"
	  "|unrecognized command|command unrecognized|(?:improper|bad) sequence of commands"
	  "|malformed address",
	  BH_R_SYNTAXERROR),

	/* --- the remote side suppressed the address itself */
	T("suppressed-text", "suppress",
	  "suppression list|(?:address|recipient) (?:is |was )?suppressed|on (?:the|our|a) suppression"
	  "|suppressed (?:sending|delivery) to",
	  BH_R_SUPPRESSED),

	/* --- recipient: the mailbox does not exist (the broadest family, last of the strong ones).
	 * First the stock formula ("User unknown", "No such user") that an SMTP server writes for
	 * any refusal of an address, and a filter or an after-queue check borrows: after DATA
	 * (the server took the address at RCPT TO) it is the filter's word, filtered. A server
	 * that names the account it lacks ("doesn't have a yahoo.com account", "invalid
	 * recipient") says so at whatever stage it checks (on the corpus: Yahoo and Orange at
	 * DATA, Sisimai calls them userunknown), so the row after it is not re-read. */
	/* "mailbox unavailable" is the stock text of any 550 (RFC 5321); with the mailbox-disabled
	 * status (RFC 3463 X.2.1) it says that, not that the mailbox is missing */
	TS("suspend-521-unavailable", "5.2.1", "unavailable|not available",
	   "mail ?box (?:is )?(?:currently )?(?:unavailable|not available)", BH_R_SUSPEND),
	TU("userunknown-text", "unknown|no such",
	   "(?:user|recipient|addressee|mailbox|account|alias|address|destination|local[ -]?part) "
	   "(?:name )?unknown"
	   "|unknown (?:or illegal )?(?:user|recipient|addressee|mailbox|account|alias|address"
	   "|local[ -]?part|e-?mail)"
	   "|no such (?:user|recipient|mailbox|account|address|person|local user|e-?mail)",
	   BH_R_USERUNKNOWN),
	T("userunknown-account", "unknown|no such|exist|invalid|illegal|bad|not found|unavailable"
			      "|not available|be found|not listed|have a|no mailbox|notfound"
			      "|valid|undeliverable|rejected|not recognized|known|active|registered"
			      "|no mail|badrcptto",
	  "(?:user|recipient|mailbox|account|address|addressee|e-?mail)\\b.{0,40}?"
	  "(?:does not|doesn't|did not) exist"
	  "|(?:invalid|illegal|bad|unknown|non-?existent)[ _](?:final delivery )?(?:recipient|user"
	  "|mailbox|address|alias|local[ -]?part|account|destination|userid)"
	  "|(?:user|recipient|mail-?box|address|account|addressee) (?:was )?not found"
	  "|(?:couldn't|could not) be found"
	  "|recip(?:ient)?notfound|mailbox (?:is )?(?:unavailable|not available)"
	  "|no mail[ -]?box (?:here|by that name|found|available)|\\bbadrcptto\\b"
	  "|not (?:an? )?(?:valid|known|active|registered) (?:local )?(?:user|recipient|mailbox"
	  "|address|account|e-?mail)|not listed in|user not listed"
	  "|no valid recipients?|(?:does not|doesn't) have an? [^ ]{1,80} account"
	  "|undeliverable address|address (?:is )?invalid|recipient (?:name )?is not recognized"
	  "|has rejected (?:the )?(?:recipient )?address"
	  "|recipient address rejected(?:\\.|$| ?: ?(?:access denied|user unknown|undeliverable"
	  "|invalid))"
	  "|^(?:smtp; ?)?(?:[245]\\d\\d )?(?:#?\\d\\.\\d\\.\\d+ )?address rejected"
	  "|^(?:smtp; ?)?(?:[45]\\d\\d )?<?[^ @<>]{1,64}@[^ <>]{1,255}>?(?:\\.\\.\\.)? (?:is )?rejected\\.?$",
	  BH_R_USERUNKNOWN),

	/* --- the same families in the languages localized MTAs answer in (de, fr, es, it, pt, nl) */
	TU("userunknown-intl", "unbekannt|inconnu|desconocid|sconosciut|desconhecid|onbekend"
			      "|еизвестн",
	  "(?:benutzer|empfänger|adresse|postfach|mailbox) (?:ist )?unbekannt"
	  "|unbekannte[rn]? (?:benutzer|empfänger|adresse)"
	  "|(?:utilisateur|destinataire|adresse|compte|boîte) (?:aux lettres )?inconnu"
	  "|(?:usuario|destinatario|buzón|cuenta|dirección) (?:de correo )?desconocid[oa]"
	  "|(?:utente|destinatario|casella|indirizzo) (?:di posta )?sconosciut[oa]"
	  "|(?:usuário|destinatário|conta|endereço) (?:de e-?mail )?desconhecid[oa]"
	  "|(?:gebruiker|ontvanger|adres) (?:is )?onbekend"
	  "|еизвестн\\S* (?:пользовател|адрес|получател)",
	  BH_R_USERUNKNOWN),
	/* the account-does-not-exist wording of the row above it, in the same languages and in
	 * Russian, Japanese, Chinese and Korean: not re-read by the stage (non-ASCII letters are
	 * not case-folded, so a word is matched from its second letter where it may be capital) */
	T("userunknown-intl-account", "existiert|existe|invalide|inexistente|inesistente|bestaat"
				      "|существует|е найден|存在し|宛先不明|不存在|존재하지",
	  "(?:benutzer|empfänger|adresse|postfach)[^;]{0,40}? existiert nicht"
	  "|(?:utilisateur|destinataire|adresse|compte)[^;]{0,40}? n'existe pas"
	  "|adresse (?:destinataire |de destination )?invalide"
	  "|(?:usuario|destinatario|buzón|cuenta|dirección) (?:de correo )?inexistente"
	  "|(?:usuario|buzón|cuenta)[^;]{0,40}? no existe"
	  "|(?:utente|destinatario|casella|indirizzo) (?:di posta )?inesistente"
	  "|(?:usuário|destinatário|conta|endereço) (?:de e-?mail )?inexistente"
	  "|(?:gebruiker|adres)[^;]{0,40}? bestaat niet"
	  "|(?:ользовател|дрес|щик|олучател).{0,40}?не (?:существует|найден)"
	  "|(?:アドレス|ユーザ|アカウント|宛先|受信者).{0,60}?存在し(?:ません|ない)|宛先不明"
	  "|(?:用户|收件人|地址|邮箱|帐户|账户).{0,12}?不存在"
	  "|존재하지 않는 (?:사용자|계정|주소|수신자)",
	  BH_R_USERUNKNOWN),
	T("mailboxfull-intl", "voll|postfach|speicherplatz|pleine|quota|lleno|piena|caixa|vol |postvak"
			      "|ереполнен|容量|已满|空间不足|가득",
	  "postfach (?:ist )?(?:voll|überfüllt)|speicherplatz (?:ist )?(?:voll|erschöpft)"
	  "|boîte (?:aux lettres )?(?:est )?pleine|quota (?:est )?(?:dépassé|atteint)"
	  "|buzón (?:está )?lleno|casella (?:di posta )?(?:è )?piena"
	  "|caixa (?:postal |de correio )?(?:está )?(?:cheia|lotada)"
	  "|mailbox (?:is )?vol |postvak (?:is )?vol"
	  "|(?:щик|ящик).{0,40}?ереполнен"
	  "|容量.{0,40}?(?:いっぱい|一杯|超過|オーバー|不足)"
	  "|(?:邮箱|信箱|收件箱).{0,12}?(?:已满|空间不足)"
	  "|(?:메일함|편지함|사서함).{0,20}?가득",
	  BH_R_MAILBOXFULL),

	/* --- the remote system */
	T("systemfull-text", "insufficient|full|space",
	  "insufficient (?:disk |system )?(?:space|storage)|(?:disk|file ?system|spool) (?:is )?full"
	  "|out of (?:disk )?space|no space left|system (?:is )?full",
	  BH_R_SYSTEMFULL),
	T("systemerror-text", "error|could not load|ldap|problem|failure|does not support",
	  "internal (?:server |system )?error|system (?:config(?:uration)? )?error"
	  "|local (?:config(?:uration)? )?error|queue file write error|could not load"
	  "|(?:unable to|could not) contact ldap|remote server (?:error|failure)"
	  "|temporary (?:local |server |system )?problem|(?:local|server|system) failure"
	  "|i/o error|server error|mail system problem"
	  "|does not support (?:tls|starttls|smtputf8|8bitmime|the required)",
	  BH_R_SYSTEMERROR),

	/* --- retries ran out, said after a more specific error that the rows above prefer
	 * ("... (#4.4.3) I'm not going to try again; this message has been in the queue too long.") */
	T("expired-queue-text", "queue",
	  "(?:been|was) in (?:the )?queue (?:too long|for)|too long in (?:the )?queue",
	  BH_R_EXPIRED),

	/* --- code rows: a specific status decides when no strong text row matched (RFC 3463,
	 * RFC 7372, RFC 7505). Generic codes (x.0.0, x.1.0, x.2.0, x.3.0, x.4.0, x.5.0, x.7.0,
	 * x.7.1) have no row on purpose. The codes of the address-is-bad reasons count only as
	 * 5.x.x: a temporary failure never makes a hard bounce from its code alone. */
	S("status-511", "5.1.1", BH_R_USERUNKNOWN),
	S("status-512", "5.1.2", BH_R_HOSTUNKNOWN),
	S("status-513", "5.1.3", BH_R_USERUNKNOWN),
	S("status-516", "5.1.6", BH_R_HASMOVED),
	S("status-517", "?.1.7", BH_R_REJECTED),
	S("status-518", "?.1.8", BH_R_REJECTED),
	S("status-5110", "5.1.10", BH_R_NOTACCEPT),
	S("status-521", "5.2.1", BH_R_SUSPEND),
	S("status-522", "?.2.2", BH_R_MAILBOXFULL),
	S("status-523", "?.2.3", BH_R_EXCEEDLIMIT),
	S("status-531", "?.3.1", BH_R_SYSTEMFULL),
	S("status-532", "?.3.2", BH_R_NOTACCEPT),
	S("status-534", "?.3.4", BH_R_MESGTOOBIG),
	S("status-535", "?.3.5", BH_R_SYSTEMERROR),
	S("status-541", "?.4.1", BH_R_NETWORKERROR),
	S("status-542", "?.4.2", BH_R_NETWORKERROR),
	S("status-543", "?.4.3", BH_R_SYSTEMERROR),
	S("status-544", "5.4.4", BH_R_HOSTUNKNOWN),
	S("status-545", "?.4.5", BH_R_SYSTEMFULL),
	S("status-546", "?.4.6", BH_R_NETWORKERROR),
	S("status-547", "?.4.7", BH_R_EXPIRED),
	S("status-551", "?.5.1", BH_R_SYNTAXERROR),
	S("status-552", "?.5.2", BH_R_SYNTAXERROR),
	S("status-553", "?.5.3", BH_R_TOOMANYCONN),
	S("status-554", "?.5.4", BH_R_SYNTAXERROR),
	S("status-555", "?.5.5", BH_R_SYNTAXERROR),
	S("status-56x", "?.6.*", BH_R_CONTENTERROR),
	S("status-573", "?.7.3", BH_R_SECURITYERROR),
	S("status-574", "?.7.4", BH_R_SECURITYERROR),
	S("status-575", "?.7.5", BH_R_SECURITYERROR),
	S("status-576", "?.7.6", BH_R_SECURITYERROR),
	S("status-577", "?.7.7", BH_R_SECURITYERROR),
	S("status-578", "?.7.8", BH_R_SECURITYERROR),
	S("status-579", "?.7.9", BH_R_POLICYVIOLATION),
	S("status-5710", "?.7.10", BH_R_SECURITYERROR),
	S("status-5711", "?.7.11", BH_R_SECURITYERROR),
	S("status-5713", "?.7.13", BH_R_SUSPEND),
	S("status-5714", "?.7.14", BH_R_SECURITYERROR),
	S("status-5717", "?.7.17", BH_R_HASMOVED),
	S("status-5718", "?.7.18", BH_R_HASMOVED),
	S("status-5720", "?.7.20", BH_R_AUTHFAILURE),
	S("status-5721", "?.7.21", BH_R_AUTHFAILURE),
	S("status-5722", "?.7.22", BH_R_AUTHFAILURE),
	S("status-5723", "?.7.23", BH_R_AUTHFAILURE),
	S("status-5724", "?.7.24", BH_R_AUTHFAILURE),
	S("status-5725", "?.7.25", BH_R_REQUIREPTR),
	S("status-5726", "?.7.26", BH_R_AUTHFAILURE),
	S("status-5727", "?.7.27", BH_R_REJECTED),
	S("status-5729", "?.7.29", BH_R_AUTHFAILURE),
	S("status-5730", "?.7.30", BH_R_SECURITYERROR),

	/* --- weak text rows: vague words, only when the status said nothing specific */
	WEAK("spam-weak", "spam", "\\bspam", BH_R_SPAMDETECTED),
	WEAK("mesgtoobig-weak", "size",
	     "size exceeds?|exceeds? (?:the )?(?:fixed |administrative |local )?(?:maximum |max )?"
	     "(?:message )?size|(?:message )?size (?:limit )?exceeded|\\bsize limit\\b",
	     BH_R_MESGTOOBIG),
	WEAKW("connection-refused-weak", "connection refused", "connection refused", BH_R_BLOCKED,
	      BH_WHOSE_EITHER),
	WEAK("systemerror-weak", "unavailable|transaction failed",
	     "service (?:is )?(?:currently |temporarily )?unavailable|transaction failed",
	     BH_R_SYSTEMERROR),
	WEAK("access-denied-weak", "access denied", "access denied", BH_R_SECURITYERROR),
};
/* clang-format on */

/* One compiled row. Strings are owned; lits is a run of NUL-terminated literals ending in "". */
struct bh_rule {
	char *id;
	char *status;
	char *reply;
	char *pattern;
	char *lits;
	uint16_t *bigrams; /* per literal: its count of bigram hashes, the hashes; then 0 */
	pcre2_code *re;
	enum bh_reason reason;
	bool has_whose;
	enum bh_whose whose;
	bool weak;
	bool stage;
};

struct bh_rules {
	struct bh_rule *v;
	size_t n;
	pcre2_match_context *mctx;
	char version[17];
	bool no_prefilter; /* tests: check that the literals never hide a match */
};

static char rules_error[512];

/* glob_match - '*' any run, '?' one byte; iterative (no recursion, linear backtracking). */
static bool
glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s != '\0') {
		if (*pat == '?' || (*pat != '*' && *pat == *s)) {
			pat++, s++;
		} else if (*pat == '*') {
			star = pat++;
			mark = s;
		} else if (star != NULL) {
			pat = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* glob_valid - a status or reply-code glob: digits, '.', '*', '?' and at most 16 bytes. */
static bool
glob_valid(const char *g, bool dots)
{
	size_t i;

	if (g[0] == '\0' || strlen(g) > 16)
		return false;
	for (i = 0; g[i] != '\0'; i++)
		if (!isdigit((unsigned char)g[i]) && g[i] != '*' && g[i] != '?' &&
		    !(dots && g[i] == '.'))
			return false;
	return true;
}

/* lits_copy - "a|b|c" -> "a\0b\0c\0\0" */
static char *
lits_copy(const char *lits)
{
	size_t n = strlen(lits), i;
	char *out = bh_malloc(n + 2);

	for (i = 0; i < n; i++)
		out[i] = lits[i] == '|' ? '\0' : lits[i];
	out[n] = '\0';
	out[n + 1] = '\0';
	return out;
}

/* bigram - the 12-bit hash of two adjacent text bytes (collisions only let more regexes run) */
static inline unsigned
bigram(unsigned char a, unsigned char b)
{
	return ((a & 63u) << 6 | (b & 63u)) & 4095u;
}

/* bigrams_of - the prefilter's form of a literal list: for each literal, its bigram hashes. */
static uint16_t *
bigrams_of(const char *lits)
{
	const char *l;
	size_t total = 1, k = 0, i, len;
	uint16_t *out;

	for (l = lits; *l != '\0'; l += strlen(l) + 1)
		total += strlen(l);
	out = bh_calloc(total, sizeof(*out));
	for (l = lits; *l != '\0'; l += len + 1) {
		len = strlen(l);
		if (len < 2)
			bh_fatal("rules: literal \"%s\" is shorter than two bytes", l);
		out[k++] = (uint16_t)(len - 1);
		for (i = 0; i + 1 < len; i++)
			out[k++] = (uint16_t)bigram((unsigned char)l[i], (unsigned char)l[i + 1]);
	}
	out[k] = 0;
	return out;
}

/* rule_compile - fill r from the given fields; -1 with rules_error set on a bad rule. */
static int
rule_compile(struct bh_rule *r, const char *prefix, const char *id, const char *status,
	     const char *reply, const char *lits, const char *pattern, enum bh_reason reason,
	     int whose, bool weak, bool stage)
{
	int errcode;
	PCRE2_SIZE erroff;
	PCRE2_UCHAR msg[256];

	memset(r, 0, sizeof(*r));
	r->id = bh_asprintf("%s:%s", prefix, id != NULL ? id : "(unnamed)");
	if (status != NULL && !glob_valid(status, true)) {
		snprintf(rules_error, sizeof(rules_error),
			 "rule %.100s: bad status pattern \"%.40s\"", r->id, status);
		return -1;
	}
	if (reply != NULL && !glob_valid(reply, false)) {
		snprintf(rules_error, sizeof(rules_error),
			 "rule %.100s: bad reply code pattern \"%.40s\"", r->id, reply);
		return -1;
	}
	if ((unsigned)reason >= BH_R_COUNT || whose > (int)BH_WHOSE_EITHER) {
		snprintf(rules_error, sizeof(rules_error), "rule %.100s: bad reason or whose",
			 r->id);
		return -1;
	}
	r->status = status != NULL ? bh_strdup(status) : NULL;
	r->reply = reply != NULL ? bh_strdup(reply) : NULL;
	r->lits = lits != NULL ? lits_copy(lits) : NULL;
	r->bigrams = lits != NULL ? bigrams_of(r->lits) : NULL;
	r->reason = reason;
	r->has_whose = whose >= 0;
	r->whose = whose >= 0 ? (enum bh_whose)whose : bh_reason_whose(reason);
	r->weak = weak;
	r->stage = stage;
	if (pattern == NULL)
		return 0;
	r->pattern = bh_strdup(pattern);
	r->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			      PCRE2_CASELESS | PCRE2_NEVER_BACKSLASH_C, &errcode, &erroff, NULL);
	if (r->re == NULL) {
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		snprintf(rules_error, sizeof(rules_error),
			 "rule %.100s: pattern does not compile at offset %zu: %s", r->id,
			 (size_t)erroff, (const char *)msg);
		return -1;
	}
	/* JIT where the platform has it; the interpreter is the fallback, same results. */
	(void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);
	return 0;
}

/* rule_free - free what one compiled rule owns (its strings, literals and PCRE2 code) */
static void
rule_free(struct bh_rule *r)
{
	free(r->id);
	free(r->status);
	free(r->reply);
	free(r->pattern);
	free(r->lits);
	free(r->bigrams);
	if (r->re != NULL)
		pcre2_code_free(r->re);
}

/* hash_str - feed a field and a separator that no field contains into the version hash. */
static void
hash_str(struct sha256_ctx *ctx, const char *s)
{
	if (s != NULL)
		sha256_update(ctx, strlen(s), (const uint8_t *)s);
	sha256_update(ctx, 1, (const uint8_t *)"\x1f");
}

/* rules_hash - the version: the first 8 bytes of SHA-256 over every compiled row, in order. */
static void
rules_hash(struct bh_rules *rs)
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	static const char hex[] = "0123456789abcdef";
	size_t i;

	sha256_init(&ctx);
	for (i = 0; i < rs->n; i++) {
		const struct bh_rule *r = &rs->v[i];
		const char *l;

		hash_str(&ctx, r->id);
		hash_str(&ctx, r->status);
		hash_str(&ctx, r->reply);
		hash_str(&ctx, r->pattern);
		for (l = r->lits; l != NULL && *l != '\0'; l += strlen(l) + 1)
			hash_str(&ctx, l);
		hash_str(&ctx, bh_reason_name(r->reason));
		hash_str(&ctx, r->has_whose ? bh_whose_name(r->whose) : "");
		hash_str(&ctx, r->weak ? "weak" : "");
		hash_str(&ctx, r->stage ? "stage" : "");
		sha256_update(&ctx, 1, (const uint8_t *)"\x1e");
	}
	sha256_digest(&ctx, sizeof(digest), digest);
	for (i = 0; i < 8; i++) {
		rs->version[2 * i] = hex[digest[i] >> 4];
		rs->version[2 * i + 1] = hex[digest[i] & 15];
	}
	rs->version[16] = '\0';
}

/* bh_rules_new - compile the config's rows, then the built-in table */
struct bh_rules *
bh_rules_new(const struct bh_rule_conf *extra, size_t n, bool replace, unsigned match_limit,
	     const char **error_r)
{
	struct bh_rules *rs;
	size_t i, total;

	if (n > BH_MAX_RULES) {
		snprintf(rules_error, sizeof(rules_error), "too many rules (%zu, limit %u)", n,
			 BH_MAX_RULES);
		*error_r = rules_error;
		return NULL;
	}
	total = n + (replace ? 0 : BH_NELEM(builtin));
	rs = bh_calloc(1, sizeof(*rs));
	rs->v = bh_calloc(total > 0 ? total : 1, sizeof(*rs->v));
	for (i = 0; i < n; i++) {
		const struct bh_rule_conf *c = &extra[i];

		rs->n++;
		if (rule_compile(&rs->v[i], "config", c->id, c->status, c->reply_code, NULL,
				 c->pattern, c->reason, c->has_whose ? (int)c->whose : -1, false,
				 false) == -1)
			goto fail;
	}
	for (i = 0; !replace && i < BH_NELEM(builtin); i++) {
		const struct bh_rule_def *d = &builtin[i];

		rs->n++;
		if (rule_compile(&rs->v[n + i], "builtin", d->id, d->status, d->reply, d->lits,
				 d->pattern, d->reason, d->whose, d->weak, d->stage) == -1)
			goto fail;
	}
	rs->mctx = pcre2_match_context_create(NULL);
	if (rs->mctx == NULL)
		bh_fatal("pcre2_match_context_create: out of memory");
	if (match_limit == 0)
		match_limit = BH_DEF_REGEX_MATCH_LIMIT;
	pcre2_set_match_limit(rs->mctx, match_limit);
	pcre2_set_depth_limit(rs->mctx, match_limit < 10000 ? match_limit : 10000);
	pcre2_set_heap_limit(rs->mctx, 4096); /* KiB of backtracking memory per match */
	rules_hash(rs);
	return rs;
fail:
	*error_r = rules_error;
	bh_rules_free(&rs);
	return NULL;
}

/* bh_rules_free - free every compiled row */
void
bh_rules_free(struct bh_rules **rules)
{
	struct bh_rules *rs;
	size_t i;

	if (rules == NULL || *rules == NULL)
		return;
	rs = *rules;
	for (i = 0; i < rs->n; i++)
		rule_free(&rs->v[i]);
	free(rs->v);
	if (rs->mctx != NULL)
		pcre2_match_context_free(rs->mctx);
	free(rs);
	*rules = NULL;
}

/* bh_rules_version - the short stable hash of the compiled table */
const char *
bh_rules_version(const struct bh_rules *rules)
{
	return rules->version;
}

/* bh_rules_set_prefilter - tests only: turn the literal prefilter off to prove it is exact. */
void
bh_rules_set_prefilter(struct bh_rules *rules, bool on)
{
	rules->no_prefilter = !on;
}

/* is_reply_code - p[0..3) is "[245]dd" and not followed by another digit */
static bool
is_reply_code(const char *p, size_t n)
{
	return n >= 3 && (p[0] == '2' || p[0] == '4' || p[0] == '5') &&
	       isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	       (n == 3 || !isdigit((unsigned char)p[3]));
}

/* status_len - length of an RFC 3463 status at p (0 when none); p must start a token. */
static size_t
status_len(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < BH_MAX_STATUS - 1 && (isdigit((unsigned char)p[i]) || p[i] == '.');
	     i++)
		;
	while (i > 0 && p[i - 1] == '.')
		i--;
	return bh_status_valid(p, i) ? i : 0;
}

/* normalize - the text the patterns see: lower-case ASCII, every run of white space or control
 * bytes made one space, no leading or trailing space, and the "NNN-" (optionally "NNN-c.s.d ")
 * continuation markers of a multi-line reply dropped, as well as the "NNN c.s.d " that starts
 * its last line. Returns the length written to out (at most cap).
 */
static size_t
normalize(const char *in, size_t n, char *out, size_t cap)
{
	size_t i = 0, o = 0, k, sl;
	char cont[3] = {0, 0, 0}; /* reply code seen in a continuation marker */

	while (i < n && o < cap) {
		unsigned char c = (unsigned char)in[i];
		bool word_start = o == 0 || out[o - 1] == ' ';

		if (c <= ' ' || c == 0x7f) {
			if (o > 0 && out[o - 1] != ' ')
				out[o++] = ' ';
			i++;
			continue;
		}
		if (word_start && is_reply_code(in + i, n - i) && i + 3 < n &&
		    (in[i + 3] == '-' ||
		     (in[i + 3] == ' ' && cont[0] != 0 && memcmp(cont, in + i, 3) == 0))) {
			/* "550-" anywhere, or "550 " after a "550-" was seen: a reply-line marker
			 */
			if (in[i + 3] == '-')
				memcpy(cont, in + i, 3);
			k = i + 4;
			sl = status_len(in + k, n - k);
			if (sl > 0 && (k + sl >= n || in[k + sl] == ' ' || in[k + sl] == '\t' ||
				       in[k + sl] == '\r' || in[k + sl] == '\n'))
				k += sl;
			i = k;
			continue;
		}
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		i++;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	return o;
}

/* status_context - t[i] may start a status: at the start, after a reply code ("550 5.1.1",
 * "550-5.1.1"), after '#' or '(' ("(#5.1.1)"), or after "status: "; never in running prose
 * ("Perl version 5.6.0"). */
static bool
status_context(const char *t, size_t i)
{
	if (i == 0 || t[i - 1] == '#' || t[i - 1] == '(' || t[i - 1] == '\'' || t[i - 1] == '[')
		return true;
	if (t[i - 1] != ' ' && t[i - 1] != '-')
		return false;
	if (i >= 4 && is_reply_code(t + i - 4, 3) && (i == 4 || !isalnum((unsigned char)t[i - 5])))
		return true;
	if (i >= 2 && t[i - 2] == ':')
		return true;
	return false;
}

/* find_status - the first RFC 3463 status token in text (for a report that gave none). */
static bool
find_status(const char *t, size_t n, char *out)
{
	size_t i, len;

	for (i = 0; i + 5 <= n; i++) {
		/* only a failure's status: "250 2.1.0 Ok" in a transcript says nothing */
		if ((t[i] != '4' && t[i] != '5') || t[i + 1] != '.')
			continue;
		if (!status_context(t, i))
			continue;
		len = status_len(t + i, n - i);
		if (len > 0 && (i + len == n || !isalnum((unsigned char)t[i + len]))) {
			memcpy(out, t + i, len);
			out[len] = '\0';
			return true;
		}
	}
	return false;
}

/* find_reply - a reply code that starts the text (after an optional "smtp;" type). */
static bool
find_reply(const char *t, size_t n, char *out)
{
	size_t i = 0;

	if (n >= 5 && bh_span_istarts(t, n, "smtp;"))
		i = 5;
	while (i < n && t[i] == ' ')
		i++;
	if (!is_reply_code(t + i, n - i))
		return false;
	memcpy(out, t + i, 3);
	out[3] = '\0';
	return true;
}

/* bigrams_present - one of the row's literals may occur: all its bigrams are in the text's set.
 * One pass over the text builds the set; each row then costs a few bit tests, not a memmem per
 * literal (which cost more than the JIT-compiled regexes it was meant to spare). */
static bool
bigrams_present(const uint16_t *bg, const uint64_t *set)
{
	size_t i, cnt;

	while ((cnt = *bg++) != 0) {
		for (i = 0; i < cnt; i++)
			if ((set[bg[i] >> 6] & (UINT64_C(1) << (bg[i] & 63))) == 0)
				break;
		if (i == cnt)
			return true;
		bg += cnt;
	}
	return false;
}

/* lits_present - one of the row's literals occurs in the normalized text (exact check) */
static bool
lits_present(const char *lits, const char *t, size_t n)
{
	const char *l;

	for (l = lits; *l != '\0'; l += strlen(l) + 1)
		if (memmem(t, n, l, strlen(l)) != NULL)
			return true;
	return false;
}

/* codes_match - the row's status and reply-code globs accept this recipient's codes */
static bool
codes_match(const struct bh_rule *r, const char *status, const char *reply)
{
	if (r->status != NULL && (status[0] == '\0' || !glob_match(r->status, status)))
		return false;
	if (r->reply != NULL && (reply[0] == '\0' || !glob_match(r->reply, reply)))
		return false;
	return true;
}

/* text_match - the row's pattern matches; hitting a match limit counts as no match */
static bool
text_match(const struct bh_rules *rs, const struct bh_rule *r, pcre2_match_data *md, const char *t,
	   size_t n, const uint64_t *set)
{
	bool matched;

	if (!rs->no_prefilter && r->bigrams != NULL && !bigrams_present(r->bigrams, set))
		return false;
	matched = pcre2_match(r->re, (PCRE2_SPTR)t, n, 0, 0, md, rs->mctx) >= 0;
	/* With the prefilter off (tests, fuzzing), a match without its literals is a table bug. */
	if (matched && rs->no_prefilter && r->lits != NULL && !lits_present(r->lits, t, n))
		bh_fatal("rules: row %s matched text without any of its literals", r->id);
	return matched;
}

/* decided - fill out with the rule's reason, whose and id (borrowed from the rule) */
static void
decided(const struct bh_rule *r, struct bh_rules_result *out)
{
	out->reason = r->reason;
	out->whose = r->whose;
	out->rule = r->id;
}

/* cmd_word - the SMTP command named at t[0..n) ("end of data", "rcpt to:<a@b>", "helo",
 * Exim's "pipelined rcpt to"), or NULL; a word must end there ("database" is no DATA) */
static const char *
cmd_word(const char *t, size_t n)
{
	static const struct {
		const char *w, *cmd;
	} words[] = {
	    {"end of data", "DATA"},
	    {"data", "DATA"},
	    {"bdat", "DATA"},
	    {"text", "DATA"},
	    {"rcpt", "RCPT"},
	    {"mail from", "MAIL"},
	    {"mail", "MAIL"},
	    {"helo", "HELO"},
	    {"ehlo", "HELO"},
	    {"lhlo", "HELO"},
	    {"initial connection", "CONN"},
	};
	size_t i, wl;

	if (n >= 10 && memcmp(t, "pipelined ", 10) == 0)
		t += 10, n -= 10;
	for (i = 0; i < BH_NELEM(words); i++) {
		wl = strlen(words[i].w);
		if (n >= wl && memcmp(t, words[i].w, wl) == 0 &&
		    (n == wl || !isalpha((unsigned char)t[wl])))
			return words[i].cmd;
	}
	return NULL;
}

/* after_phrase - the command named right after the first occurrence of phrase in t */
static const char *
after_phrase(const char *t, size_t n, const char *phrase)
{
	size_t pl = strlen(phrase);
	const char *p = memmem(t, n, phrase, pl);

	if (p == NULL)
		return NULL;
	p += pl;
	return cmd_word(p, n - (size_t)(p - t));
}

/* transcript_cmd - the last ">>> CMD" sent before the first "<<< 4xx/5xx" reply */
static const char *
transcript_cmd(const char *t, size_t n)
{
	const char *p = t, *last = NULL, *q;
	size_t guard = 0;

	while (guard++ < 1000 && (p = memmem(p, n - (size_t)(p - t), "<<< ", 4)) != NULL) {
		p += 4;
		if (is_reply_code(p, n - (size_t)(p - t)) && (p[0] == '4' || p[0] == '5'))
			break;
	}
	if (p == NULL)
		return NULL;
	for (q = t, guard = 0;
	     guard++ < 1000 && q < p && (q = memmem(q, (size_t)(p - q), ">>> ", 4)) != NULL; q += 4)
		last = q + 4;
	return last != NULL ? cmd_word(last, n - (size_t)(last - t)) : NULL;
}

/* smtp_command_norm - bh_smtp_command over normalized text */
static const char *
smtp_command_norm(const char *t, size_t n)
{
	static const struct {
		const char *phrase, *cmd;
	} qmail[] = {
	    /* qmail-remote's own words for the stage */
	    {"does not like recipient", "RCPT"},
	    {"failed after i sent the message", "DATA"},
	    {"but sender was rejected", "MAIL"},
	    {"but my name was rejected", "HELO"},
	    /* qmail-remote when every MX failed: how far the best attempt got */
	    {"most progress was rcpt to", "RCPT"},
	    /* the stage as a tag: "SMTP:RCPT host ...", "... User Unknown [RCPT_TO]" */
	    {"smtp:rcpt ", "RCPT"},
	    {"smtp:mail ", "MAIL"},
	    {"smtp:data ", "DATA"},
	    {"[rcpt_to]", "RCPT"},
	    {"[mail_from]", "MAIL"},
	};
	const char *c;
	size_t i;

	if ((c = after_phrase(t, n, "in reply to ")) != NULL ||
	    (c = after_phrase(t, n, "server after ")) != NULL ||
	    (c = after_phrase(t, n, "mailer after ")) != NULL ||
	    (c = after_phrase(t, n, "server for ")) != NULL ||
	    (c = after_phrase(t, n, "did not like our ")) != NULL ||
	    (c = transcript_cmd(t, n)) != NULL)
		return c;
	for (i = 0; i < BH_NELEM(qmail); i++)
		if (memmem(t, n, qmail[i].phrase, strlen(qmail[i].phrase)) != NULL)
			return qmail[i].cmd;
	return NULL;
}

/* bh_smtp_command - the SMTP stage a failure text names */
bool
bh_smtp_command(const char *text, size_t text_len, char out[8])
{
	char t[BH_MAX_RULE_TEXT];
	size_t n;
	const char *c;

	out[0] = '\0';
	if (text == NULL || text_len == 0)
		return false;
	n = normalize(text, text_len, t, sizeof(t));
	if ((c = smtp_command_norm(t, n)) == NULL)
		return false;
	snprintf(out, 8, "%s", c);
	return true;
}

/* local_verdict - the text is a mailbox store's own finding, whatever the stage: a local
 * delivery agent ("mail.local: unknown user"), a directory look-up ("The recipient name is not
 * recognized", Exchange) */
static bool
local_verdict(const char *t, size_t n)
{
	static const char *const words[] = {
	    "mail.local: ",
	    "recipient name is not recognized",
	    /* Postfix local(8): the passwd/alias look-up of a local recipient */
	    "unknown user: \"",
	};
	size_t i;

	for (i = 0; i < BH_NELEM(words); i++)
		if (memmem(t, n, words[i], strlen(words[i])) != NULL)
			return true;
	return false;
}

/* restage - a recipient-unknown text re-read by the SMTP stage. The stock formula ("User
 * unknown", "No such user") is what any check writes when it refuses an address, the server
 * at RCPT TO and a content filter after DATA alike, so it names a missing mailbox only when
 * something else says the address was what was judged: an address status (x.1.x), the RCPT TO
 * stage, or a mailbox store's own words (local_verdict). Refused after DATA, or at an unknown
 * stage, by a server that took the address (or may have): filtered. In reply to MAIL FROM it
 * is about our sender, at HELO or connection about our host. (A mailbox status, "550 5.2.1 ...
 * User Unknown", was tried as a filter's sign too: on the corpus it turned as many right
 * answers wrong as wrong ones right.) */
static void
restage(const char *st, const char *cmd, const char *t, size_t n, struct bh_rules_result *out)
{
	bool addr_status = st[0] != '\0' && st[2] == '1' && st[3] == '.';

	if (addr_status || strcmp(cmd, "RCPT") == 0)
		return;
	if (strcmp(cmd, "MAIL") == 0) {
		out->reason = BH_R_REJECTED;
		out->rule = "builtin:userunknown-at-mail";
	} else if (strcmp(cmd, "HELO") == 0 || strcmp(cmd, "CONN") == 0) {
		out->reason = BH_R_BLOCKED;
		out->rule = "builtin:userunknown-at-helo";
	} else if (strcmp(cmd, "DATA") == 0) {
		out->reason = BH_R_FILTERED;
		out->rule = "builtin:userunknown-at-data";
	} else if (!local_verdict(t, n)) {
		out->reason = BH_R_FILTERED;
		out->rule = "builtin:userunknown-stage-unknown";
		out->unjudged = true;
	} else {
		return;
	}
	out->whose = bh_reason_whose(out->reason);
}

/* bh_rules_decide - the reason, the stage asked of the text */
void
bh_rules_decide(const struct bh_rules *rules, const char *status, const char *reply_code,
		const char *text, size_t text_len, struct bh_rules_result *out)
{
	bh_rules_decide_cmd(rules, status, reply_code, text, text_len, NULL, out);
}

/* bh_rules_decide_cmd - strong text rows, code rows, weak text rows, then the status class */
void
bh_rules_decide_cmd(const struct bh_rules *rules, const char *status, const char *reply_code,
		    const char *text, size_t text_len, const char *smtp_command,
		    struct bh_rules_result *out)
{
	char t[BH_MAX_RULE_TEXT], st[BH_MAX_STATUS], rc[4];
	uint64_t set[64]; /* 4096 bits: the bigrams of the normalized text */
	pcre2_match_data *md = NULL;
	size_t i, n = 0;
	int pass;

	st[0] = rc[0] = '\0';
	out->unjudged = false;
	if (status != NULL && bh_status_valid(status, strlen(status)))
		snprintf(st, sizeof(st), "%s", status);
	if (reply_code != NULL && is_reply_code(reply_code, strlen(reply_code)))
		snprintf(rc, sizeof(rc), "%s", reply_code);
	if (text == NULL)
		text_len = 0;
	if (text_len > 0) {
		n = normalize(text, text_len, t, BH_MAX_RULE_TEXT);
		if (st[0] == '\0')
			(void)find_status(t, n, st);
		if (rc[0] == '\0')
			(void)find_reply(t, n, rc);
	}
	memset(set, 0, sizeof(set));
	for (i = 0; i + 1 < n; i++) {
		unsigned h = bigram((unsigned char)t[i], (unsigned char)t[i + 1]);

		set[h >> 6] |= UINT64_C(1) << (h & 63);
	}
	md = pcre2_match_data_create(1, NULL);
	if (md == NULL)
		bh_fatal("pcre2_match_data_create: out of memory");
	for (pass = 0; pass < 3; pass++) {
		if (pass == 1 && st[0] == '2') {
			/* a success status that no text contradicts: not a failure */
			out->reason = BH_R_DELIVERED;
			out->whose = BH_WHOSE_NONE;
			out->rule = "class:2";
			goto out;
		}
		for (i = 0; i < rules->n; i++) {
			const struct bh_rule *r = &rules->v[i];

			if ((pass == 1) != (r->re == NULL) || (pass == 2) != r->weak)
				continue;
			if (!codes_match(r, st, rc))
				continue;
			if (r->re != NULL && (n == 0 || !text_match(rules, r, md, t, n, set)))
				continue;
			decided(r, out);
			if (r->stage && r->reason == BH_R_USERUNKNOWN) {
				const char *cmd = smtp_command != NULL ? smtp_command : "";

				if (cmd[0] == '\0' && (cmd = smtp_command_norm(t, n)) == NULL)
					cmd = "";
				restage(st, cmd, t, n, out);
			}
			goto out;
		}
	}
	out->reason =
	    st[0] == '4' || (st[0] == '\0' && rc[0] == '4') ? BH_R_ONHOLD : BH_R_UNDEFINED;
	out->whose = bh_reason_whose(out->reason);
	out->rule = out->reason == BH_R_ONHOLD ? "class:4" : "none";
out:
	pcre2_match_data_free(md);
}

/* bh_status_valid - RFC 3463 "c.sss.ddd" with c in 2, 4, 5 (Postfix dsn_valid) */
bool
bh_status_valid(const char *p, size_t n)
{
	size_t i = 0, digits;
	int part;

	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return false;
	i = 2;
	for (part = 0; part < 2; part++) {
		digits = 0;
		while (i < n && isdigit((unsigned char)p[i]) && digits < 3)
			i++, digits++;
		if (digits == 0)
			return false;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return false;
			i++;
		}
	}
	return i == n;
}
