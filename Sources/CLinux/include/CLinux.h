#ifndef MCRUN_CLINUX_H
#define MCRUN_CLINUX_H

#include <sys/types.h>

/// pidfd_open(2): a file descriptor that refers to one process, readable (POLLIN) once it
/// has exited, valid for processes that are not our children. Returns -1 and sets errno.
int mcrun_pidfd_open(pid_t pid, unsigned int flags);

/// pidfd_send_signal(2): signal exactly the process the pidfd refers to, never a recycled PID.
int mcrun_pidfd_send_signal(int pidfd, int sig);

/// prctl(PR_SET_CHILD_SUBREAPER, on).
int mcrun_set_child_subreaper(int on);

/// prctl(PR_SET_PDEATHSIG, sig).
int mcrun_set_parent_death_signal(int sig);

#endif
