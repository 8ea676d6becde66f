"""The process walls a child raises around itself before the program runs.

In the order they go up (each needs the privileges the next one takes away):
1. a session of its own, so the parent can kill the whole process group;
2. cwd = the fork server's empty root (see forkserver.py: an unlinked directory, also the
   root directory when we are root), an empty environment, nice 19;
3. file descriptors: 0-2 on /dev/null, the frame pipe on 3, every other fd closed;
4. rlimits: CPU seconds (SIGXCPU, then SIGKILL a second later), address space, no new
   processes, no file writes, no core dumps, few descriptors;
5. if we are root: no supplementary groups, then the sandbox uid/gid (RLIMIT_NPROC does not
   bind root, so without this step the rlimit would be decoration), no new privileges,
   not dumpable (no ptrace or /proc/<pid>/mem from another sandbox process);
6. die with the fork server (parent-death signal, set after the uid change, which clears it).

The network namespace is not unshared here but once in the fork server (see forkserver.py):
every child inherits it, and a namespace per fork would cost a few milliseconds each.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from dataclasses import dataclass

PIPE_FD = 3
_NOFILE = 16
_NICE = 19
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Walls:
    cpu_time_s: int
    memory_bytes: int
    uid: int | None  # None: not root, keep our uid
    root_fd: int  # the empty directory to work in
    devnull_fd: int  # opened before the fork server left the file system
    parent_pid: int


class WallError(Exception):
    """A wall could not be raised: the child must not run the program."""


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        raise WallError(f"prctl({option}) failed: errno {ctypes.get_errno()}")


def raise_walls(walls: Walls, pipe_fd: int) -> None:
    os.setsid()

    # In this order, whatever numbers the descriptors have: each step uses one before the
    # next may overwrite it.
    os.fchdir(walls.root_fd)
    for fd in (0, 1, 2):
        os.dup2(walls.devnull_fd, fd)
    if pipe_fd != PIPE_FD:
        os.dup2(pipe_fd, PIPE_FD)
    os.closerange(PIPE_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1])

    os.environ.clear()
    os.setpriority(os.PRIO_PROCESS, 0, _NICE)

    limits = {
        resource.RLIMIT_CPU: (walls.cpu_time_s, walls.cpu_time_s + 1),
        resource.RLIMIT_AS: (walls.memory_bytes, walls.memory_bytes),
        resource.RLIMIT_NPROC: (0, 0),
        resource.RLIMIT_FSIZE: (0, 0),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_NOFILE: (_NOFILE, _NOFILE),
    }
    for which, value in limits.items():
        resource.setrlimit(which, value)

    if walls.uid is not None:
        os.setgroups([])
        os.setresgid(walls.uid, walls.uid, walls.uid)
        os.setresuid(walls.uid, walls.uid, walls.uid)
        if os.getuid() != walls.uid or os.geteuid() != walls.uid:
            raise WallError("could not drop privileges")
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    _prctl(_PR_SET_DUMPABLE, 0)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != walls.parent_pid:
        # The fork server died before the death signal was armed.
        raise WallError("fork server gone")
