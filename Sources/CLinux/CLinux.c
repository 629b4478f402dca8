#define _GNU_SOURCE
#include "CLinux.h"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int mcrun_peer_credentials(int fd, pid_t *pid, uid_t *uid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *pid = credentials.pid;
    *uid = credentials.uid;
    return 0;
}

int mcrun_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int mcrun_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int mcrun_set_child_subreaper(int on) {
    return prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0);
}

int mcrun_set_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0);
}

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <spawn.h>
#include <sys/stat.h>

int mcrun_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags);
}

int mcrun_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int mcrun_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

short mcrun_spawn_setsid_flag(void) {
    return POSIX_SPAWN_SETSID;
}

int mcrun_file_mode(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return (int)st.st_mode;
}

void mcrun_reset_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        signal(sig, SIG_DFL);
    }
}

/* struct pidfd_info as of Linux 6.15 (first 64 bytes, PIDFD_INFO_SIZE_VER0); defined here
   because the distribution's kernel headers may predate it. */
struct mcrun_pidfd_info {
    uint64_t mask;
    uint64_t cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
};
#define MCRUN_PIDFD_INFO_EXIT (1ULL << 3)
#define MCRUN_PIDFD_GET_INFO _IOWR(0xFF, 11, struct mcrun_pidfd_info)

int mcrun_pidfd_wait_status(int pidfd, int *status) {
    struct mcrun_pidfd_info info;
    memset(&info, 0, sizeof info);
    info.mask = MCRUN_PIDFD_INFO_EXIT;
    if (ioctl(pidfd, MCRUN_PIDFD_GET_INFO, &info) != 0) {
        /* A live or unreaped process answers without exit data, or ESRCH on some kernels. */
        if (errno == ESRCH) errno = EAGAIN;
        return -1;
    }
    if (!(info.mask & MCRUN_PIDFD_INFO_EXIT)) {
        errno = EAGAIN;
        return -1;
    }
    *status = info.exit_code;
    return 0;
}

int mcrun_nice_this_thread(int increment) {
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int current = getpriority(PRIO_PROCESS, (id_t)tid);
    if (current == -1 && errno != 0) return -1;
    return setpriority(PRIO_PROCESS, (id_t)tid, current + increment);
}
