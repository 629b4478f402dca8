#ifndef MCRUN_CLINUX_H
#define MCRUN_CLINUX_H

#include <sys/types.h>

/// pidfd_open(2): a file descriptor that refers to one process, readable (POLLIN) once it
/// has exited, valid for processes that are not our children. Returns -1 and sets errno.
int mcrun_pidfd_open(pid_t pid, unsigned int flags);

/// pidfd_send_signal(2): signal exactly the process the pidfd refers to, never a recycled PID.
int mcrun_pidfd_send_signal(int pidfd, int sig);

/// SO_PEERCRED: the process and user at the other end of a connected unix socket, as the
/// kernel recorded them at connect(2). Returns -1 and sets errno.
int mcrun_peer_credentials(int fd, pid_t *pid, uid_t *uid);

/// prctl(PR_SET_CHILD_SUBREAPER, on).
int mcrun_set_child_subreaper(int on);

/// prctl(PR_SET_PDEATHSIG, sig).
int mcrun_set_parent_death_signal(int sig);

#include <spawn.h>

/// pipe2(2), hidden from Swift without _GNU_SOURCE.
int mcrun_pipe2(int fds[2], int flags);

/// posix_spawn_file_actions_addchdir_np, a GNU extension.
int mcrun_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// posix_spawn_file_actions_addclosefrom_np: no stray descriptor reaches a child.
int mcrun_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// POSIX_SPAWN_SETSID, a GNU extension.
short mcrun_spawn_setsid_flag(void);

/// st_mode of a path (following links), or -1 with errno set.
int mcrun_file_mode(const char *path);

/// Unblocks every signal on the calling thread and restores default dispositions, so an
/// exec'd program starts clean (Swift's concurrency threads block most signals).
void mcrun_reset_signals(void);

/// The wait status (as waitpid reports it) of the process a pidfd refers to, from
/// PIDFD_GET_INFO (Linux 6.15+). Returns 0 on success; -1 with errno EAGAIN while the
/// process is not yet reaped by its parent, or another errno when the kernel cannot say.
int mcrun_pidfd_wait_status(int pidfd, int *status);

/// Lowers the calling thread's CPU priority by `increment` (a thread's nice value is its
/// own on Linux); 0 on success.
int mcrun_nice_this_thread(int increment);

/// getxattr(2), which Swift's Glibc module does not export: systemd marks a cgroup it
/// delegated with the `user.delegate` attribute.
#include <sys/xattr.h>

/// epoll(7) and eventfd(2), which Swift's Glibc module does not export: the supervisor
/// waits on every agent's pidfd in one epoll set.
#include <sys/epoll.h>
#include <sys/eventfd.h>

#endif
