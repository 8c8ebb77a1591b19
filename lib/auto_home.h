#ifndef MAILROOM_AUTO_HOME_H
#define MAILROOM_AUTO_HOME_H
/* The instance folder, compiled in from conf-home (or MAILROOM_HOME at build time). */
extern char const auto_home[];
#endif
