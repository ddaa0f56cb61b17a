/*
 * test_rules.c - the reason engine: phrase families, precedence, the 554 catch-all table
 * ($BH_SHARED_DIR/corpus/554.tsv), config rows (override, replace, bad pattern), the match
 * limit against a crafted backtracking text, and the prefilter never hiding a match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bh_limits.h"
#include "reason.h"
#include "rules.h"
#include "test.h"
#include "util.h"
#include "verdict.h"

struct rcase {
	const char *status;
	const char *reply;
	const char *text;
	enum bh_reason want;
};

/* Phrase families as real MTAs write them (one or two per family; not the corpus files). */
static const struct rcase cases[] = {
    /* userunknown */
    {"5.1.1", "550", "550 5.1.1 <a@example.org>... User unknown", BH_R_USERUNKNOWN},
    {"", "550", "550 Unknown user a@example.org", BH_R_USERUNKNOWN},
    {"", "550", "550 a@example.org... No such user here", BH_R_USERUNKNOWN},
    {"5.1.1", "550", "550 a@example.org... No such user here", BH_R_USERUNKNOWN},
    {"5.1.1", "550", "5.1.1 The email account that you tried to reach does not exist.",
     BH_R_USERUNKNOWN},
    {"5.0.0", "550", "Requested action not taken: mailbox unavailable", BH_R_USERUNKNOWN},
    {"5.1.10", "550", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
     BH_R_USERUNKNOWN},
    {"", "", "Invalid recipient <a@example.org>", BH_R_USERUNKNOWN},
    {"5.7.1", "554", "<a@example.org>: Recipient address rejected: Access denied",
     BH_R_USERUNKNOWN},
    {"", "553", "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
     BH_R_NORELAYING},
    {"", "", "mail.local: unknown user: bob", BH_R_USERUNKNOWN},
    {"", "", "User bob (bob@example.org) not listed in Domino Directory", BH_R_USERUNKNOWN},
    {"", "550", "550 \"a@example.org\" is not a known user", BH_R_USERUNKNOWN},
    {"", "550", "550 a@example.org is not an active address at this host", BH_R_USERUNKNOWN},
    {"", "550", "550 ** No mail box available for this user **", BH_R_USERUNKNOWN},
    {"5.7.1", "550", "550 5.7.1 No mailbox found", BH_R_USERUNKNOWN},
    {"5.7.1", "553", "553 sorry, badrcptto(user mail-box not found) (#5.7.1)", BH_R_USERUNKNOWN},
    {"", "550", "550 BAD_RECIPIENT - see http://www.example.org/why", BH_R_USERUNKNOWN},
    {"", "", "unknown user: \"bob\"", BH_R_USERUNKNOWN},
    {"5.2.1", "550", "550 5.2.1 Mailbox not available", BH_R_SUSPEND},
    /* status alone decides when the text says nothing */
    {"5.1.1", "550", "Delivery failed", BH_R_USERUNKNOWN},
    {"5.1.2", "", "", BH_R_HOSTUNKNOWN},
    {"5.2.2", "552", "", BH_R_MAILBOXFULL},
    {"5.1.6", "", "", BH_R_HASMOVED},
    {"5.7.26", "550", "rejected", BH_R_AUTHFAILURE},
    {"4.4.7", "", "", BH_R_EXPIRED},
    {"5.7.25", "", "", BH_R_REQUIREPTR},
    /* generic codes decide nothing alone */
    {"5.0.0", "550", "", BH_R_UNDEFINED},
    {"5.7.1", "554", "", BH_R_UNDEFINED},
    {"", "554", "554 Transaction failed", BH_R_SYSTEMERROR},
    {"", "554", "", BH_R_UNDEFINED},
    {"4.0.0", "450", "", BH_R_ONHOLD},
    /* a temporary failure is never a hard bounce from its code alone */
    {"4.1.1", "450", "", BH_R_ONHOLD},
    {"4.1.1", "450",
     "450 4.1.1 <a@b>: Recipient address rejected: User unknown in virtual alias "
     "table",
     BH_R_USERUNKNOWN},
    {"", "", "", BH_R_UNDEFINED},
    /* hostunknown / notaccept / networkerror */
    {"", "",
     "Host or domain name not found. Name service error for name=x.invalid type=A: Host "
     "not found",
     BH_R_HOSTUNKNOWN},
    {"", "", "Sorry, I couldn't find any host named x.invalid. (#5.1.2)", BH_R_HOSTUNKNOWN},
    {"", "",
     "The domain x.example doesn't receive email according to the administrator: "
     "returned Null MX",
     BH_R_NOTACCEPT},
    {"", "",
     "Name service error for name=x.example type=MX: Malformed or unexpected name "
     "server reply",
     BH_R_NETWORKERROR},
    {"5.4.6", "554", "554 5.4.6 Too many hops", BH_R_NETWORKERROR},
    {"", "", "[mx.example.org]: Name or service not known", BH_R_HOSTUNKNOWN},
    {"", "550", "550 Invalid domain", BH_R_HOSTUNKNOWN},
    {"", "", "Illegal host/domain name found", BH_R_HOSTUNKNOWN},
    {"", "501",
     "Connected to 192.0.2.1 but my name was rejected. Remote host said: 501 Invalid "
     "domain name",
     BH_R_BLOCKED},
    /* mailbox full vs expired vs sizes */
    /* a failed report after retries expired, whatever the last reply said (rework item 7) */
    {"", "", "mailbox is full: retry timeout exceeded", BH_R_EXPIRED},
    {"5.2.2", "552", "552 5.2.2 <a@b>: user is over quota", BH_R_MAILBOXFULL},
    {"", "552", "552 Error: disk quota exceeded", BH_R_MAILBOXFULL},
    {"", "", "retry timeout exceeded", BH_R_EXPIRED},
    {"", "", "a@b: Envelope expired", BH_R_EXPIRED},
    {"4.4.1", "", "connect to mx.example.org[192.0.2.1]:25: Connection timed out", BH_R_EXPIRED},
    {"5.2.3", "552", "552 5.2.3 Message length exceeds administrative limit", BH_R_EXCEEDLIMIT},
    {"5.3.4", "552", "552 5.3.4 Message too large", BH_R_MESGTOOBIG},
    {"5.1.1", "550", "550 RCPT TO:<a@b> max message size exceeded", BH_R_MESGTOOBIG},
    {"5.7.1", "554", "554 5.7.1 Message rejected class=size limit=1024 size=2048", BH_R_MESGTOOBIG},
    {"4.0.0", "452", "452 <a@b> Mailbox size limit exceeded", BH_R_MAILBOXFULL},
    {"", "550", "550 <a@b> User has too many messages on the server", BH_R_MAILBOXFULL},
    /* suspend / hasmoved */
    {"5.2.1", "550", "The email account that you tried to reach is disabled.", BH_R_SUSPEND},
    {"", "550", "550 Mailbox is frozen.", BH_R_SUSPEND},
    {"5.1.6", "550", "550 5.1.6 recipient no longer on server: a@example.org", BH_R_HASMOVED},
    {"", "",
     "Your mail to the following recipients could not be delivered because they are not "
     "accepting mail from news@example.org:",
     BH_R_FILTERED},
    /* sender side: never userunknown */
    {"5.7.1", "554", "554 5.7.1 Mail appears to be unsolicited - score over the limit",
     BH_R_SPAMDETECTED},
    {"5.7.1", "550", "550 5.7.1 The message was rejected due to classification as bulk mail",
     BH_R_SPAMDETECTED},
    {"5.7.1", "550", "550 5.7.1 You're using a mass mailer", BH_R_SPAMDETECTED},
    {"5.7.1", "550", "550 5.7.1 Your email breaches local URIBL policy", BH_R_SPAMDETECTED},
    {"", "550", "550 Spamming not allowed", BH_R_SPAMDETECTED},
    {"", "550", "550 Message refused by the SpamProfiler", BH_R_SPAMDETECTED},
    {"", "550", "550 192.0.2.1 is not allowed to send mail from example.org", BH_R_BLOCKED},
    {"", "550", "550 Blocked by SpamAssassin", BH_R_SPAMDETECTED},
    {"5.7.1", "554", "554 5.7.1 Rejected: message contains a suspicious URL", BH_R_SPAMDETECTED},
    {"5.7.1", "550", "550 5.7.1 [IPTS04] Messages from 192.0.2.1 are not accepted", BH_R_BLOCKED},
    {"5.7.1", "550", "550 5.7.1 Message rejected due to content restrictions",
     BH_R_POLICYVIOLATION},
    {"5.7.1", "554", "554 5.7.1 The message was blocked: it contains a banned attachment",
     BH_R_POLICYVIOLATION},
    {"5.7.1", "550", "550 5.7.1 Rejected by header based Anti-Spoofing policy",
     BH_R_POLICYVIOLATION},
    {"5.7.1", "550",
     "550 5.7.1 The domain you are sending to has a policy that prohibited the mail you sent",
     BH_R_POLICYVIOLATION},
    {"5.7.1", "550", "550 5.7.1 Delivery not authorized, message refused", BH_R_FILTERED},
    {"", "550", "550 This address no longer accepts mail.", BH_R_HASMOVED},
    {"5.1.2", "550", "550 5.1.2 Bad destination host", BH_R_HOSTUNKNOWN},
    {"5.7.1", "553",
     "553-you are trying to use me [mx.example.org] as a relay, but I have not been "
     "configured to let you do this",
     BH_R_NORELAYING},
    {"5.7.1", "554", "Client host rejected: blocked using zen.spamhaus.org", BH_R_BLOCKED},
    {"5.7.1", "550", "550 5.7.1 IP address blacklisted by recipient", BH_R_BLOCKED},
    {"5.7.606", "550", "Access denied, banned sending IP [192.0.2.1]", BH_R_BLOCKED},
    {"5.7.25", "550", "<a@b>: Recipient address rejected: Reverse DNS validation failed",
     BH_R_REQUIREPTR},
    {"5.7.1", "550", "The IP address sending this message does not have a PTR record setup",
     BH_R_REQUIREPTR},
    {"5.7.26", "550", "<a@b>: Recipient address rejected: Multiple authentication checks failed",
     BH_R_AUTHFAILURE},
    {"5.7.1", "550",
     "550-5.7.1 Unauthenticated email from example.org is not accepted due to "
     "550-5.7.1 domain's DMARC policy.",
     BH_R_AUTHFAILURE},
    {"5.1.0", "550", "192.0.2.1 is not allowed to send from <example.net> per it's SPF Record",
     BH_R_AUTHFAILURE},
    {"5.7.1", "554", "554 5.7.1 <a@example.org>: Relay access denied", BH_R_NORELAYING},
    {"5.7.1", "550",
     "Our system has detected that this message is likely suspicious due to the "
     "very low reputation of the sending IP address. To best protect our users "
     "from spam, the message has been blocked.",
     BH_R_BADREPUTATION},
    {"5.1.8", "501", "501 5.1.8 Sender address rejected", BH_R_REJECTED},
    {"5.1.7", "550", "550 5.1.7 No such domain example.net", BH_R_REJECTED},
    {"5.6.0", "554", "554 5.6.0 This message has been scored as spam", BH_R_SPAMDETECTED},
    {"", "550", "550 Virus Detected; Content Rejected", BH_R_VIRUSDETECTED},
    {"5.7.1", "550", "550 5.7.1 message content rejected", BH_R_SPAMDETECTED},
    {"5.6.1", "500", "500 5.6.1 Message content rejected", BH_R_CONTENTERROR},
    {"", "550", "550 Unauthenticated senders not allowed", BH_R_SECURITYERROR},
    {"5.7.1", "550",
     "550-5.7.1 This message is not RFC 5322 compliant. There are multiple "
     "Subject 550-5.7.1 headers.",
     BH_R_NOTCOMPLIANTRFC},
    {"5.2.1", "550",
     "550-5.2.1 The user you are trying to contact is receiving mail at a rate "
     "that 550-5.2.1 prevents additional messages from being delivered.",
     BH_R_SPEEDING},
    {"", "550", "550 Connection frequency limited. Blocked IP 192.0.2.1", BH_R_TOOMANYCONN},
    {"", "550", "550 Protocol violation", BH_R_POLICYVIOLATION},
    {"5.7.9", "554", "554 5.7.9 Header error", BH_R_POLICYVIOLATION},
    {"", "451", "451 4.3.0 Error: queue file write error", BH_R_SYSTEMERROR},
    {"4.4.5", "452", "452 4.4.5 Insufficient disk space; try again later", BH_R_SYSTEMFULL},
    {"", "", "procmail: Couldn't create \"/var/spool/mail/bob\"", BH_R_MAILERERROR},
    {"5.1.1", "550", "Refused due to recipient preferences", BH_R_FILTERED},
    /* a 4xx refusal keeps its reason */
    {"4.2.2", "452", "The email account that you tried to reach is over quota.", BH_R_MAILBOXFULL},
    /* the retries ran out: expired, whatever the error the last one met */
    {"4.4.3", "",
     "Unable to contact LDAP server. (#4.4.3) I'm not going to try again; this "
     "message has been in the queue too long.",
     BH_R_EXPIRED},
    {"", "", "I'm not going to try again; this message has been in the queue too long.",
     BH_R_EXPIRED},
    {"5.1.1", "550", "Remote host said: 550 5.1.1 <a@b>... User Unknown Giving up on 192.0.2.1.",
     BH_R_USERUNKNOWN},
    {"5.0.0", "501",
     "Connected to 192.0.2.1 but my name was rejected. Remote host said: 501 "
     "5.0.0 Invalid domain name",
     BH_R_BLOCKED},
    /* "rejected by the recipient domain" names no filter */
    {"5.7.1", "550",
     "Google tried to deliver your message, but it was rejected by the recipient "
     "domain. The error was: 550 5.7.1 <a@b>... Access denied",
     BH_R_SECURITYERROR},
    {"5.7.1", "550", "<a@b>: Recipient address rejected: User a@b temporary locked.", BH_R_SUSPEND},
    /* a success status is no failure */
    {"2.6.0", "250", "250 2.6.0 Message received", BH_R_DELIVERED},
    /* ... unless the text says how it failed after all */
    {"2.1.0", "250", "Out: 250 2.1.0 Ok In: DATA Out: 451 4.3.0 Error: queue file write error",
     BH_R_SYSTEMERROR},
    /* a status in the text is a failure's, never the "250 2.1.5 Ok" of a transcript */
    {"", "", "Out: 250 2.1.5 Ok In: DATA Out: 552 5.2.2 Sorry", BH_R_MAILBOXFULL},
    {"", "", "Unable to deliver message after multiple retries, giving up.", BH_R_EXPIRED},
    {"", "", "542 a@example.org Rejected", BH_R_USERUNKNOWN},
    /* more families: sizes, quotas, loops, RFC 5321 551, content */
    {"5.3.4", "552", "552 5.3.4 Message size exceeds fixed limit", BH_R_MESGTOOBIG},
    {"5.2.3", "552", "552 5.2.3 Message size exceeds fixed maximum message size", BH_R_MESGTOOBIG},
    {"", "552", "552 Message size exceeds fixed maximum message size", BH_R_MESGTOOBIG},
    {"5.2.3", "550", "550 5.2.3 message too large for this recipient", BH_R_EXCEEDLIMIT},
    {"5.4.5", "550", "550 5.4.5 Daily user sending quota exceeded", BH_R_SPEEDING},
    {"", "", "The users mailfolder is over the allowed quota (size). (#5.2.2)", BH_R_MAILBOXFULL},
    {"", "", "mail for example.org loops back to myself", BH_R_NETWORKERROR},
    {"", "551", "551 User not local; please try <b@example.net>", BH_R_HASMOVED},
    {"5.7.1", "550",
     "550 5.7.1 The IP you're using to send mail is not authorized to send email "
     "directly to our servers.",
     BH_R_BLOCKED},
    {"5.7.1", "550",
     "550 5.7.1 Messages missing a valid address in From: header, or having no "
     "From: header, are not accepted.",
     BH_R_NOTCOMPLIANTRFC},
    {"", "", "Message could not be delivered for 5 days", BH_R_EXPIRED},
    {"", "", "retry time not reached for any host after a long failure period", BH_R_EXPIRED},
    {"5.7.1", "550",
     "550 5.7.1 Our system has detected that this message is likely unsolicited "
     "mail.",
     BH_R_SPAMDETECTED},
    /* the SMTP stage says whose problem it is when the words do not */
    {"5.1.7", "501", "501 5.1.7 Invalid address", BH_R_REJECTED},
    {"5.1.0", "553",
     "SMTP error from remote mail server after MAIL FROM:<a@example.org> SIZE=1022: "
     "553 5.1.0 a example.org does not exist",
     BH_R_REJECTED},
    {"", "554", "SMTP error from remote mail server after initial connection: 554 go away",
     BH_R_BLOCKED},
    {"", "501", "501 5.5.4 Invalid domain name (in reply to EHLO command)", BH_R_BLOCKED},
    {"", "", "501 Invalid domain name", BH_R_UNDEFINED},
    {"", "", "host mx.example.org[192.0.2.1] refused to talk to me: 554 go away", BH_R_BLOCKED},
    {"", "", "[example.org 192.0.2.1: socket error]", BH_R_NETWORKERROR},
    {"", "",
     "Based on the email preferences of the person you're trying to email, this message "
     "could not be delivered.",
     BH_R_FILTERED},
    {"", "", "Reason: Server rejected MAIL FROM address", BH_R_REJECTED},
    {"", "", "Reason: Remote SMTP server has rejected address", BH_R_USERUNKNOWN},
    {"", "", "Smtp server does not advertise AUTH capability", BH_R_SECURITYERROR},
    {"", "500", "500 Remote server does not support TLS (state 6).", BH_R_SYSTEMERROR},
    {"", "", "was blocked by our Spam Firewall", BH_R_SPAMDETECTED},
    /* a version number in prose is no status */
    {"", "", "You must install Perl version 5.6.0 or later", BH_R_UNDEFINED},
    /* "user unknown" says the user is unknown, at RCPT TO and after DATA alike (servers
     * that check recipients after DATA say it that way) */
    {"5.0.0", "550", "550 Unknown user a@example.org (in reply to end of DATA command)",
     BH_R_USERUNKNOWN},
    {"", "", ">>> DATA <<< 550 5.0.0 <a@example.org>... User unknown", BH_R_USERUNKNOWN},
    {"", "", "SMTP error from remote mail server after end of data: 550 No such user here",
     BH_R_USERUNKNOWN},
    {"5.1.1", "550", "550 5.1.1 <a@example.org>: User unknown (in reply to end of DATA command)",
     BH_R_USERUNKNOWN},
    {"", "550", "550 User unknown (in reply to RCPT TO command)", BH_R_USERUNKNOWN},
    {"", "",
     "SMTP error from remote mail server after pipelined RCPT TO:<a@example.org>: 550 No such "
     "user here",
     BH_R_USERUNKNOWN},
    {"", "", ">>> RCPT To:<a@example.org> <<< 550 User unknown >>> DATA <<< 503 Need RCPT",
     BH_R_USERUNKNOWN},
    /* the stock formula alone, with no stage and no address status */
    {"", "", "550 Unknown user a@example.org", BH_R_USERUNKNOWN},
    {"", "", "host mx.example.org said: 550 Unknown user (in reply to RCPT TO command)",
     BH_R_USERUNKNOWN},
    /* the stage as other MTAs write it */
    {"", "", "mx.example.org [192.0.2.1] did not like our RCPT TO: 550 User unknown",
     BH_R_USERUNKNOWN},
    {"", "",
     "Sorry, no SMTP connection got far enough; most progress was RCPT TO response; "
     "remote host 192.0.2.1 said: 550 Unknown user a@example.org",
     BH_R_USERUNKNOWN},
    {"", "", "Technical details: SMTP:RCPT host 192.0.2.8: 553 5.3.0 <a@b.example>... No such user",
     BH_R_USERUNKNOWN},
    {"", "", "Remote host said: 550 5.2.1 <a@b.example>... User Unknown [RCPT_TO]",
     BH_R_USERUNKNOWN},
    /* a mailbox store's own finding needs no stage */
    {"", "", "<a@b.example> mail.local: unknown user: a 554 <a@b.example>... Service unavailable",
     BH_R_USERUNKNOWN},
    {"", "", "The recipient name is not recognized MSEXCH:IMS:X:Y:Z 0 (000C05A6) Unknown Recipient",
     BH_R_USERUNKNOWN},
    {"", "", "192.0.2.1 does not like recipient. Remote host said: 550 No such user",
     BH_R_USERUNKNOWN},
    {"", "", "192.0.2.1 failed after I sent the message. Remote host said: 550 No such user",
     BH_R_USERUNKNOWN},
    /* a Google Groups notice, in any language: the group would not take our post */
    {"", "",
     "Hallo a@example.org, Sie erhalten diese E-Mail, weil die Gruppe (x) möglicherweise nicht "
     "vorhanden ist ... Hilfe: https://groups.google.com/support/.",
     BH_R_REJECTED},
    /* the status may be found in the text when the report gave none */
    {"", "554", "554 Sorry, the message did not go through (#5.1.1)", BH_R_USERUNKNOWN},
};

static void
test_cases(struct bh_rules *rs)
{
	struct bh_rules_result res;
	size_t i;

	for (i = 0; i < BH_NELEM(cases); i++) {
		const struct rcase *c = &cases[i];

		bh_rules_decide(rs, c->status, c->reply, c->text, strlen(c->text), &res);
		test_checks++;
		if (res.reason != c->want)
			TEST_FAIL("case %zu (%s %s \"%s\"): got %s (%s), want %s", i, c->status,
				  c->reply, c->text, bh_reason_name(res.reason), res.rule,
				  bh_reason_name(c->want));
	}
}

/* split_codes - "554 5.7.1 text" -> reply "554", status "5.7.1" */
static void
split_codes(const char *line, char *reply, char *status)
{
	size_t i = 0, j;

	reply[0] = status[0] = '\0';
	if (strlen(line) >= 4 && line[0] >= '2' && line[0] <= '5' && line[3] == ' ') {
		memcpy(reply, line, 3);
		reply[3] = '\0';
		i = 4;
	}
	for (j = i; line[j] != '\0' && line[j] != ' ' && j - i < BH_MAX_STATUS - 1; j++)
		;
	if (bh_status_valid(line + i, j - i)) {
		memcpy(status, line + i, j - i);
		status[j - i] = '\0';
	}
}

/* test_554 - every row of the shared 554 table: reason, hard and whose must all match */
static int
test_554(struct bh_rules *rs)
{
	const char *dir = getenv("BH_SHARED_DIR"), *err;
	char *data, *line, *save = NULL, path[4096];
	size_t len, rows = 0;

	snprintf(path, sizeof(path), "%s/corpus/554.tsv",
		 dir != NULL && dir[0] != '\0' ? dir : BH_SHARED_DIR);

	if (bh_read_file(path, 1u << 20, &data, &len, &err) == -1) {
		printf("test_rules: %s: %s; skipping the 554 table\n", path, err);
		return 0;
	}
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *f[4], reply[4], status[BH_MAX_STATUS], *p = line;
		struct bh_rules_result res;
		int k, want;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (k = 0; k < 4; k++) {
			f[k] = p;
			p = p != NULL ? strchr(p, '\t') : NULL;
			if (p != NULL)
				*p++ = '\0';
		}
		if (f[3] == NULL) {
			TEST_FAIL("554.tsv: bad row \"%s\"", line);
			continue;
		}
		rows++;
		split_codes(f[0], reply, status);
		want = bh_reason_lookup(f[1]);
		bh_rules_decide(rs, status, reply, f[0], strlen(f[0]), &res);
		test_checks += 3;
		if ((int)res.reason != want)
			TEST_FAIL("554.tsv \"%s\": got %s (%s), want %s", f[0],
				  bh_reason_name(res.reason), res.rule, f[1]);
		if (bh_reason_hard(res.reason) != (strcmp(f[2], "1") == 0))
			TEST_FAIL("554.tsv \"%s\": hard got %d, want %s", f[0],
				  bh_reason_hard(res.reason), f[2]);
		if (strcmp(bh_whose_name(res.whose), f[3]) != 0)
			TEST_FAIL("554.tsv \"%s\": whose got %s, want %s", f[0],
				  bh_whose_name(res.whose), f[3]);
	}
	free(data);
	CHECK(rows >= 30);
	return 0;
}

/* test_phrases - tests/unit/data/rules_phrases.tsv, with and without the prefilter */
static void
test_phrases(struct bh_rules *rs)
{
	const char *path = BH_SOURCE_DIR "/tests/unit/data/rules_phrases.tsv", *err;
	char *data, *line, *save = NULL;
	size_t len, rows = 0;

	if (bh_read_file(path, 1u << 20, &data, &len, &err) == -1) {
		TEST_FAIL("%s: %s", path, err);
		return;
	}
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *f[5], *p = line;
		struct bh_rules_result a, b;
		int k;

		if (line[0] == '#')
			continue;
		for (k = 0; k < 5; k++) {
			f[k] = p;
			p = p != NULL ? strchr(p, '\t') : NULL;
			if (p != NULL)
				*p++ = '\0';
		}
		if (f[3] == NULL || bh_reason_lookup(f[3]) == -1) {
			TEST_FAIL("rules_phrases.tsv: bad row \"%s\"", line);
			continue;
		}
		rows++;
		bh_rules_decide_cmd(rs, f[0], f[1], f[2], strlen(f[2]), f[4], &a);
		test_checks++;
		if (strcmp(bh_reason_name(a.reason), f[3]) != 0)
			TEST_FAIL("rules_phrases.tsv \"%s\": got %s (%s), want %s", f[2],
				  bh_reason_name(a.reason), a.rule, f[3]);
		bh_rules_set_prefilter(rs, false);
		bh_rules_decide_cmd(rs, f[0], f[1], f[2], strlen(f[2]), f[4], &b);
		bh_rules_set_prefilter(rs, true);
		CHECK_STR(a.rule, b.rule);
	}
	free(data);
	CHECK(rows >= 50);
}

static void
test_precedence(struct bh_rules *rs)
{
	struct bh_rules_result res;
	const char *t;

	/* a specific text beats a specific status */
	t = "550 5.1.1 <a@b>: has sent to too many recipients this hour";
	bh_rules_decide(rs, "5.1.1", "550", t, strlen(t), &res);
	CHECK_STR(bh_reason_name(res.reason), "speeding");
	/* a specific status beats a weak text */
	t = "550 5.2.2 service unavailable";
	bh_rules_decide(rs, "5.2.2", "550", t, strlen(t), &res);
	CHECK_STR(bh_reason_name(res.reason), "mailboxfull");
	CHECK_STR(res.rule, "builtin:status-522");
	/* a weak text decides when the status is generic */
	bh_rules_decide(rs, "5.0.0", "554", t, strlen(t), &res);
	CHECK_STR(bh_reason_name(res.reason), "systemerror");
	/* 554 alone decides nothing; the class does */
	bh_rules_decide(rs, "", "554", "554", 3, &res);
	CHECK_STR(bh_reason_name(res.reason), "undefined");
	bh_rules_decide(rs, "4.7.1", "", "", 0, &res);
	CHECK_STR(bh_reason_name(res.reason), "onhold");
	/* NUL bytes and bare CRs separate words like white space */
	bh_rules_decide_cmd(rs, "", "", "user\0\runknown", 14, "RCPT", &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
	bh_rules_decide_cmd(rs, "", "", "user\r\n unknown", 14, "RCPT", &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
	/* text is optional */
	bh_rules_decide(rs, "5.1.1", "", NULL, 0, &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
}

static void
test_config(void)
{
	struct bh_rule_conf conf[3] = {
	    {.id = (char *)"greylist",
	     .pattern = (char *)"greylist(ed|ing)",
	     .reason = BH_R_BLOCKED,
	     .has_whose = true,
	     .whose = BH_WHOSE_EITHER},
	    {.id = (char *)"my-511", .status = (char *)"5.1.*", .reason = BH_R_FILTERED},
	    {.id = (char *)"our-550",
	     .reply_code = (char *)"55?",
	     .pattern = (char *)"user unknown",
	     .reason = BH_R_SUSPEND},
	};
	struct bh_rules *rs, *rs2;
	struct bh_rules_result res;
	const char *err = NULL, *t;
	char v1[32];

	rs = bh_rules_new(conf, 3, false, 0, &err);
	CHECK(rs != NULL);
	if (rs == NULL)
		return;
	snprintf(v1, sizeof(v1), "%s", bh_rules_version(rs));
	CHECK_INT(strlen(v1), 16);
	t = "450 4.7.1 <a@b>: Recipient address rejected: Greylisted, try again";
	bh_rules_decide(rs, "4.7.1", "450", t, strlen(t), &res);
	CHECK_STR(bh_reason_name(res.reason), "blocked");
	CHECK_STR(bh_whose_name(res.whose), "either");
	CHECK_STR(res.rule, "config:greylist");
	/* a config text row beats the built-in text rows */
	t = "550 5.1.1 User unknown";
	bh_rules_decide(rs, "5.1.1", "550", t, strlen(t), &res);
	CHECK_STR(bh_reason_name(res.reason), "suspend");
	CHECK_STR(res.rule, "config:our-550");
	/* its reply-code glob must match */
	bh_rules_decide(rs, "5.1.1", "450", "User unknown", 12, &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
	/* a config code row beats the built-in code rows, not the built-in text rows */
	bh_rules_decide(rs, "5.1.1", "550", "", 0, &res);
	CHECK_STR(bh_reason_name(res.reason), "filtered");
	bh_rules_decide(rs, "5.1.2", "550", "Relay access denied", 19, &res);
	CHECK_STR(bh_reason_name(res.reason), "norelaying");

	/* replace: only the config rows */
	rs2 = bh_rules_new(conf, 3, true, 0, &err);
	CHECK(rs2 != NULL);
	if (rs2 != NULL) {
		CHECK(strcmp(v1, bh_rules_version(rs2)) != 0);
		bh_rules_decide(rs2, "5.2.2", "552", "Mailbox full", 12, &res);
		CHECK_STR(bh_reason_name(res.reason), "undefined");
		bh_rules_free(&rs2);
		CHECK(rs2 == NULL);
	}
	/* the version is stable for the same table */
	rs2 = bh_rules_new(conf, 3, false, 0, &err);
	if (rs2 != NULL) {
		CHECK_STR(bh_rules_version(rs2), v1);
		bh_rules_free(&rs2);
	}
	bh_rules_free(&rs);
	bh_rules_free(&rs);

	/* a config row may use the built-in word families: {rcpt} ... {nonexist} */
	{
		struct bh_rule_conf fam = {.id = (char *)"ours",
					   .pattern = (char *)"\\b{rcpt}{gap}?gone\\b",
					   .reason = BH_R_SUSPEND};

		rs = bh_rules_new(&fam, 1, false, 0, &err);
		CHECK(rs != NULL);
		if (rs != NULL) {
			t = "550 the mailbox of a@b is gone";
			bh_rules_decide(rs, "", "550", t, strlen(t), &res);
			CHECK_STR(res.rule, "config:ours");
			bh_rules_free(&rs);
		}
	}
	/* a bad pattern is a clean error naming the rule */
	conf[0].pattern = (char *)"user (unknown";
	err = NULL;
	rs = bh_rules_new(conf, 1, false, 0, &err);
	CHECK(rs == NULL);
	CHECK(err != NULL && strstr(err, "config:greylist") != NULL &&
	      strstr(err, "does not compile") != NULL);
	/* and so is a bad status glob */
	conf[0].pattern = (char *)"x";
	conf[0].status = (char *)"5.1.a";
	rs = bh_rules_new(conf, 1, false, 0, &err);
	CHECK(rs == NULL);
	CHECK(err != NULL && strstr(err, "bad status pattern") != NULL);
}

/* test_backtracking - a pattern that backtracks exponentially, under the match limit */
static void
test_backtracking(void)
{
	struct bh_rule_conf conf = {
	    .id = (char *)"evil", .pattern = (char *)"^(a+)+$", .reason = BH_R_BLOCKED};
	struct bh_rules *rs;
	struct bh_rules_result res;
	const char *err = NULL;
	char text[4000];
	int64_t t0, ms;

	memset(text, 'a', sizeof(text));
	text[sizeof(text) - 1] = 'b';
	rs = bh_rules_new(&conf, 1, false, 10000, &err);
	CHECK(rs != NULL);
	if (rs == NULL)
		return;
	t0 = bh_mono_ms();
	bh_rules_decide(rs, "", "", text, sizeof(text), &res);
	ms = bh_mono_ms() - t0;
	CHECK(ms < 1000);
	CHECK_STR(bh_reason_name(res.reason), "undefined");
	/* the same rule still matches where it should */
	text[sizeof(text) - 1] = 'a';
	bh_rules_decide(rs, "", "", text, sizeof(text), &res);
	CHECK_STR(res.rule, "config:evil");
	bh_rules_free(&rs);
}

/* test_prefilter - the literals never hide a match the regex would make */
static void
test_prefilter(struct bh_rules *rs)
{
	struct bh_rules_result a, b;
	size_t i;

	for (i = 0; i < BH_NELEM(cases); i++) {
		const struct rcase *c = &cases[i];

		bh_rules_set_prefilter(rs, false);
		bh_rules_decide(rs, c->status, c->reply, c->text, strlen(c->text), &a);
		bh_rules_set_prefilter(rs, true);
		bh_rules_decide(rs, c->status, c->reply, c->text, strlen(c->text), &b);
		CHECK_STR(a.rule, b.rule);
	}
}

/* test_speed - CPU time per decision (wall time is meaningless on a shared machine) */
static void
test_speed(struct bh_rules *rs)
{
	struct bh_rules_result res;
	clock_t t0;
	double us;
	size_t i, k, n = 0;

	t0 = clock();
	for (k = 0; k < 200; k++)
		for (i = 0; i < BH_NELEM(cases); i++, n++)
			bh_rules_decide(rs, cases[i].status, cases[i].reply, cases[i].text,
					strlen(cases[i].text), &res);
	us = (double)(clock() - t0) * 1e6 / CLOCKS_PER_SEC;
	printf("test_rules: %zu decisions, %.1f us CPU each\n", n, us / (double)n);
}

/* test_smtp_command - the stage a failure text names, and an explicit stage given */
static void
test_smtp_command(struct bh_rules *rs)
{
	static const struct {
		const char *text, *want;
	} t[] = {
	    {"550 Unknown user (in reply to end of DATA\n    command)", "DATA"},
	    {"host x[192.0.2.1] said: 550 5.1.1 <a@b>: User unknown (in reply to RCPT TO command)",
	     "RCPT"},
	    {"(in reply to MAIL FROM command)", "MAIL"},
	    {"501 Invalid domain name (in reply to EHLO command)", "HELO"},
	    {"SMTP error from remote mail server after RCPT TO:<a@b>: 550 No such user", "RCPT"},
	    {"SMTP error from remote mailer after end of data: 550 rejected", "DATA"},
	    {"SMTP error from remote mail server after initial connection: 554 go away", "CONN"},
	    {"SMTP error from remote server for TEXT command, host: x reason: 550 rejected",
	     "DATA"},
	    {"... while talking to x.:\n>>> MAIL From:<s@x> SIZE=1\n<<< 250 ok\n>>> DATA\n<<< 550 "
	     "5.0.0 <a@b>... User unknown",
	     "DATA"},
	    {">>> RCPT To:<a@b>\n<<< 550 5.1.1 <a@b>... User unknown\n>>> DATA\n<<< 503 Need RCPT",
	     "RCPT"},
	    {"the database said <<< 550 no", ""},
	    {"550 5.1.1 User unknown", ""},
	    {"", ""},
	};
	struct bh_rules_result res;
	char out[8];
	size_t i;

	for (i = 0; i < BH_NELEM(t); i++) {
		bool found = bh_smtp_command(t[i].text, strlen(t[i].text), out);

		CHECK_STR(out, t[i].want);
		CHECK(found == (t[i].want[0] != '\0'));
	}
	/* the words decide at any stage from RCPT TO on: a bare "unknown user" is userunknown
	 * after DATA, at RCPT TO and with no stage at all (item 4 of the rework: the old
	 * "filtered when no stage says the address was judged" reading is gone) */
	bh_rules_decide_cmd(rs, "5.0.0", "550", "550 Unknown user a@b", 20, "DATA", &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
	CHECK_STR(bh_whose_name(res.whose), "recipient");
	bh_rules_decide_cmd(rs, "5.0.0", "550", "550 Unknown user a@b", 20, "RCPT", &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
	bh_rules_decide_cmd(rs, "5.0.0", "550", "550 Unknown user a@b", 20, "", &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
	bh_rules_decide_cmd(rs, "5.0.0", "550", "550 Unknown user a@b", 20, NULL, &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
	CHECK_STR(res.evidence, "diagnostic");
	{
		const char *acct = "554 delivery error: dd This user doesn't have a example.com "
				   "account (a@example.com)";

		bh_rules_decide_cmd(rs, "5.0.0", "554", acct, strlen(acct), "", &res);
		CHECK_STR(bh_reason_name(res.reason), "userunknown");
		acct = "554 delivery error: dd This user doesn't have a account";
		bh_rules_decide_cmd(rs, "", "554", acct, strlen(acct), "DATA", &res);
		CHECK_STR(bh_reason_name(res.reason), "userunknown");
	}
	/* before RCPT TO the server had not judged the recipient: its words about one do not
	 * count, the stage decides */
	bh_rules_decide_cmd(rs, "5.0.0", "550", "550 Unknown user a@b", 20, "MAIL", &res);
	CHECK_STR(bh_reason_name(res.reason), "rejected");
	CHECK_STR(res.rule, "stage:MAIL");
	CHECK_STR(bh_whose_name(res.whose), "sender");
	bh_rules_decide_cmd(rs, "", "554", "554 unknown user", 16, "CONN", &res);
	CHECK_STR(bh_reason_name(res.reason), "blocked");
	CHECK_STR(res.evidence, "stage");
	/* a sender-side cause keeps its own reason before RCPT TO */
	bh_rules_decide_cmd(rs, "", "554", "554 blocked using zen.spamhaus.org", 34, "CONN", &res);
	CHECK_STR(bh_reason_name(res.reason), "blocked");
	CHECK_STR(res.rule, "builtin:blocked-text");
	/* a bare refusal is decided by its stage */
	bh_rules_decide_cmd(rs, "", "550", "550 Rejected", 12, "RCPT", &res);
	CHECK_STR(bh_reason_name(res.reason), "filtered");
	bh_rules_decide_cmd(rs, "", "554", "554 Access denied", 17, "MAIL", &res);
	CHECK_STR(bh_reason_name(res.reason), "rejected");
	bh_rules_decide_cmd(rs, "", "554", "554 Access denied", 17, "DATA", &res);
	CHECK_STR(bh_reason_name(res.reason), "policyviolation");
	bh_rules_decide_cmd(rs, "", "554", "554 Access denied", 17, "HELO", &res);
	CHECK_STR(bh_reason_name(res.reason), "blocked");
	/* a mailbox full after DATA stays mailboxfull */
	bh_rules_decide_cmd(rs, "", "552", "552 Mailbox full", 16, "DATA", &res);
	CHECK_STR(bh_reason_name(res.reason), "mailboxfull");
	/* the words win over the mailbox-disabled status */
	bh_rules_decide_cmd(rs, "5.2.1", "550", "550 5.2.1 <a@b>... User Unknown", 31, NULL, &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
}

/* test_evidence - every text about a recipient is read; the most trusted words that say
 * something decide, and a vague word in the diagnostic gives way to a clear one elsewhere */
static void
test_evidence(struct bh_rules *rs)
{
	struct bh_rules_result res;
	struct bh_evidence ev[3];
	struct bh_rules_input in;
	const char *wrap = "5.3.0 - Other mail system problem 550-'Mailbox quota exceeded'";

	/* the wrapper's generic words lose to the reply it quotes */
	ev[0] = (struct bh_evidence){BH_EV_INNER, "Mailbox quota exceeded", 22};
	ev[1] = (struct bh_evidence){BH_EV_DIAGNOSTIC, wrap, strlen(wrap)};
	in = (struct bh_rules_input){"", "", "", ev, 2, false, true};
	bh_rules_decide_ev(rs, &in, &res);
	CHECK_STR(bh_reason_name(res.reason), "mailboxfull");
	CHECK_STR(res.evidence, "inner");
	/* a diagnostic with nothing in it: the notice's paragraph decides */
	ev[0] = (struct bh_evidence){BH_EV_DIAGNOSTIC, "smtp; 550", 9};
	ev[1] = (struct bh_evidence){BH_EV_NOTICE, "The recipient's mailbox is full", 31};
	in = (struct bh_rules_input){"", "", "", ev, 2, false, true};
	bh_rules_decide_ev(rs, &in, &res);
	CHECK_STR(bh_reason_name(res.reason), "mailboxfull");
	CHECK_STR(res.evidence, "notice");
	/* the remote's clear words beat the notice's */
	ev[0] = (struct bh_evidence){BH_EV_DIAGNOSTIC, "550 5.1.1 No such user", 22};
	ev[1] = (struct bh_evidence){BH_EV_HEADING, "Delivery to a full mailbox failed", 33};
	in = (struct bh_rules_input){"", "", "", ev, 2, false, true};
	bh_rules_decide_ev(rs, &in, &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
	/* a failed report after temporary errors expired, whatever the last reply said... */
	ev[0] = (struct bh_evidence){BH_EV_DIAGNOSTIC, "452 4.2.2 Mailbox full", 22};
	in = (struct bh_rules_input){"4.2.2", "452", "", ev, 1, false, true};
	bh_rules_decide_ev(rs, &in, &res);
	CHECK_STR(bh_reason_name(res.reason), "expired");
	/* ...but a delayed one never is */
	in.delayed = true;
	in.failed = false;
	bh_rules_decide_ev(rs, &in, &res);
	CHECK_STR(bh_reason_name(res.reason), "mailboxfull");
	ev[0] = (struct bh_evidence){BH_EV_DIAGNOSTIC, "Envelope expired", 16};
	in = (struct bh_rules_input){"4.4.7", "", "", ev, 1, true, false};
	bh_rules_decide_ev(rs, &in, &res);
	CHECK_STR(bh_reason_name(res.reason), "onhold");
	/* expiry words in a failed report */
	ev[0] = (struct bh_evidence){BH_EV_DIAGNOSTIC, "retry timeout exceeded", 22};
	in = (struct bh_rules_input){"", "", "", ev, 1, false, true};
	bh_rules_decide_ev(rs, &in, &res);
	CHECK_STR(bh_reason_name(res.reason), "expired");
	/* the address is bad however long it was tried */
	ev[0] = (struct bh_evidence){BH_EV_DIAGNOSTIC, "550 5.1.1 user unknown", 22};
	ev[1] = (struct bh_evidence){BH_EV_NOTICE, "retry timeout exceeded", 22};
	in = (struct bh_rules_input){"5.1.1", "550", "", ev, 2, false, true};
	bh_rules_decide_ev(rs, &in, &res);
	CHECK_STR(bh_reason_name(res.reason), "userunknown");
}

/* test_rcpt_hard - the hard flag follows the reason, and notaccept is hard only as a 5xx */
static void
test_rcpt_hard(void)
{
	struct bh_rcpt r;

	memset(&r, 0, sizeof(r));
	strcpy(r.status, "5.1.10");
	bh_rcpt_set_reason(&r, BH_R_NOTACCEPT, NULL);
	CHECK(r.hard);
	strcpy(r.status, "4.0.0");
	bh_rcpt_set_reason(&r, BH_R_NOTACCEPT, NULL);
	CHECK(!r.hard);
	bh_rcpt_set_reason(&r, BH_R_USERUNKNOWN, NULL);
	CHECK(r.hard);
}

int
main(void)
{
	struct bh_rules *rs;
	const char *err = NULL;

	rs = bh_rules_new(NULL, 0, false, 0, &err);
	if (rs == NULL) {
		fprintf(stderr, "bh_rules_new: %s\n", err);
		return 1;
	}
	test_cases(rs);
	test_554(rs);
	test_phrases(rs);
	test_precedence(rs);
	test_prefilter(rs);
	test_speed(rs);
	test_smtp_command(rs);
	test_evidence(rs);
	bh_rules_free(&rs);
	test_config();
	test_backtracking();
	test_rcpt_hard();
	return test_done("test_rules");
}
