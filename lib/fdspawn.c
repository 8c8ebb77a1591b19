/* posix_spawn with fd moves: the one way mailroom's programs start a child that needs no
   change of uid (mailroom-lspawn's switch needs vfork; see there). */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include "fdspawn.h"

extern char **environ;

pid_t fdspawn(char const *prog, char const *const *argv, int const (*moves)[2], unsigned n)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, dfl;
  pid_t pid;
  int e;
  sigemptyset(&none);
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGPIPE);
  sigaddset(&dfl, SIGTERM);
  e = posix_spawn_file_actions_init(&fa);
  if (e) return (errno = e, -1);
  e = posix_spawnattr_init(&at);
  if (e) {
    posix_spawn_file_actions_destroy(&fa);
    return (errno = e, -1);
  }
  for (unsigned i = 0; !e && i < n; i++)
    e = moves[i][1] >= 0 ? posix_spawn_file_actions_adddup2(&fa, moves[i][0], moves[i][1])
                         : posix_spawn_file_actions_addclose(&fa, moves[i][0]);
  if (!e) e = posix_spawnattr_setsigmask(&at, &none);
  if (!e) e = posix_spawnattr_setsigdefault(&at, &dfl);
  if (!e) e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (!e) e = posix_spawn(&pid, prog, &fa, &at, (char *const *)argv, environ);
  posix_spawnattr_destroy(&at);
  posix_spawn_file_actions_destroy(&fa);
  if (e) return (errno = e, -1);
  return pid;
}
