/* Linked into every program, unit test and tool of a SANITIZE=1 build (never a release
   build): the sanitizers' default options, compiled in so that they hold whatever
   environment a program gets (tcpserver, supervise, lspawn and checkpassword all start their
   children with an environment of their own). Reports go to files in MR_SANLOG, a
   world-writable sticky folder TESTS/run.sh scans after each test file, because a program's
   stderr is often a log nobody reads or a socket to an SMTP client. An ASAN_OPTIONS or
   UBSAN_OPTIONS in the environment still overrides these. Both name the same files
   (MR_SANLOG/san.PROGRAM.PID): in clang's runtime the two share log_path, the last one read
   wins, and a LeakSanitizer report in a file named ubsan would mislead. */

#include <unistd.h>

#ifndef MR_SANLOG
#error "MR_SANLOG (the report folder) must be defined"
#endif

char const *__asan_default_options(void);
char const *__ubsan_default_options(void);

char const *__asan_default_options(void)
{
  /* LeakSanitizer stops the world with ptrace, which a setuid process may not do (it is not
     dumpable): there it would make every run fail, so leaks go unchecked in mailroom-queue
     alone. Reports name the program: log_exe_name. */
  if (getuid() != geteuid() || getgid() != getegid())
    return "log_path=" MR_SANLOG "/san:log_exe_name=1:detect_leaks=0";
  return "log_path=" MR_SANLOG "/san:log_exe_name=1";
}

char const *__ubsan_default_options(void)
{
  return "log_path=" MR_SANLOG "/san:log_exe_name=1:print_stacktrace=1";
}
