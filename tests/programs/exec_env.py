"""Children started with a rewritten environment that keeps LD_PRELOAD, as a program that cleans
its children's environment does: each must still be refused, since the settings are in armr.env
beside the preloaded library, not in the environment.
argv: HOST PORT PERMISSIVE_RULES. Prints `LABEL: RESULT` lines (children print their own)."""

import ctypes
import os
import shutil
import subprocess
import sys

from armrtest import args, emit, libc, try_connect, watchdog

host, port, permissive = args()
watchdog(90)
here = os.path.dirname(os.path.abspath(__file__))
preload = os.environ["LD_PRELOAD"]
nc = shutil.which("nc")
connect_once = os.path.join(here, "connect_once.py")
only_preload = {"LD_PRELOAD": preload}


def python_child(label):
    # -B: no __pycache__ in tests/programs, as PYTHONDONTWRITEBYTECODE is not passed on.
    return [sys.executable, "-B", connect_once, host, port, label, "0"]


def run(label, argv, env):
    try:
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, timeout=30)
        emit(label + "_exit", done.returncode)
    except subprocess.TimeoutExpired:
        emit(label + "_exit", "timeout")


# Where the library says it was loaded from: the LD_PRELOAD entry as written (armr-run's link),
# not the file it points to; armr.env is looked for beside it.
class DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


info = DlInfo()
libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
found = libc.dladdr(ctypes.cast(libc.connect, ctypes.c_void_p), ctypes.byref(info))
emit("dladdr", info.dli_fname.decode() if found else "failed")
emit("ld_preload_first", preload.split()[0])

emit("parent_connect", try_connect((host, int(port))))

# fork + execve, the environment holding LD_PRELOAD only: python, then nc.
run("python_only_preload", python_child("python_only_preload"), only_preload)
run("nc_only_preload", [nc, "-z", "-w", "5", host, port], only_preload)

# posix_spawn (glibc's own exec path, not the execve symbol).
pid = os.posix_spawn(sys.executable, python_child("posix_spawn"), only_preload)
emit("posix_spawn_exit", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))

# A shell that runs `env -i LD_PRELOAD=... nc`.
run(
    "env_i",
    ["/bin/sh", "-c", 'exec env -i LD_PRELOAD="$LD_PRELOAD" nc -z -w 5 "$0" "$1"', host, port],
    dict(os.environ),
)

# The child's environment sets the settings its own way: armr.env still decides.
run(
    "permissive_env",
    python_child("permissive_env"),
    {
        "LD_PRELOAD": preload,
        "ARMR_RULES": permissive,
        "ARMR_MODE": "detect-only",
        "ARMR_ON_ERROR": "open",
        "ARMR_LOG": "stderr",
    },
)

# unsetenv, then system(): /bin/sh -c, then nc, neither with an ARMR_ variable.
for var in [v for v in os.environ if v.startswith("ARMR_")]:
    del os.environ[var]  # unsetenv(3)
libc.system.argtypes = [ctypes.c_char_p]
emit("system_sees", os.popen("env | grep -c '^ARMR_'").read().strip() + " ARMR_ variables")
status = libc.system(f"exec nc -z -w 5 {host} {port}".encode())
emit("system_exit", os.waitstatus_to_exitcode(status))
emit("done", "yes")
