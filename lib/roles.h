#ifndef MAILROOM_ROLES_H
#define MAILROOM_ROLES_H
/* The role users (DESIGN.md; created by make setup as root, lib/sh/setup.sh). */
#define ROLE_QUEUE "mrqueue"   /* owns the queue; mailroom-queue is setuid to it */
#define ROLE_SEND "mrsend"     /* mailroom-send */
#define ROLE_REMOTE "mrremote" /* mailroom-rspawn, mailroom-remote */
#define ROLE_SMTPD "mrsmtpd"   /* mailroom-smtpd */
#define ROLE_LOG "mrlog"       /* multilog */
#define ROLE_MAIL "mrmail"     /* owner of virtual mailboxes */
#define ROLE_TLSD "mrtlsd"     /* mailroom-tlsd after it loaded the key */
#define ROLE_AUTH "mrauth"     /* the SMTP AUTH verifier: its group reads users/password.cdb */
#define ROLE_FETCH "mrfetch"   /* mailroom-fetch: reads control/fetchaccounts, writes fetch/ */
#define ROLE_DKIM "mrdkim"     /* mailroom-dkimsign: the only role that reads the DKIM keys */
#endif
