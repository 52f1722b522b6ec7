"""Type stub for ``pyseccomp`` (a single module with inline annotations, but no ``py.typed`` marker).

Written from ``pyright --createstub pyseccomp`` with the constants typed; only the public API.
"""

from typing import IO, Iterable, overload

__version__: str
KILL_PROCESS: int
KILL_THREAD: int
KILL: int
TRAP: int
NOTIFY: int
LOG: int
ALLOW: int

def ERRNO(x: int) -> int: ...
def TRACE(x: int) -> int: ...

NE: int
LT: int
LE: int
EQ: int
GE: int
GT: int
MASKED_EQ: int

class Arch:
    NATIVE: int
    X86: int
    X86_64: int
    X32: int
    ARM: int
    AARCH64: int

class Arg:
    def __init__(self, arg: int, op: int, data_a: int, data_b: int = ...) -> None: ...

class Attr:
    ACT_DEFAULT: int
    ACT_BADARCH: int
    CTL_NNP: int
    CTL_TSYNC: int
    API_TSKIP: int
    CTL_LOG: int
    CTL_SSB: int
    CTL_OPTIMIZE: int
    API_SYSRAWRC: int

class Notification:
    id: int
    pid: int
    flags: int
    syscall: int
    syscall_arch: int
    syscall_ip: int
    syscall_args: list[int]
    def __init__(
        self, id: int, pid: int, flags: int, syscall: int, syscall_arch: int, syscall_ip: int, syscall_args: Iterable[int]
    ) -> None: ...

class NotificationResponse:
    def __init__(self, error: int, flags: int, id: int, val: int) -> None: ...

class SyscallFilter:
    def __init__(self, defaction: int) -> None: ...
    def reset(self, defaction: int) -> None: ...
    def merge(self, filter: SyscallFilter) -> None: ...
    def load(self) -> None: ...
    def get_attr(self, attr: int) -> int: ...
    def set_attr(self, attr: int, value: int) -> None: ...
    def add_arch(self, arch: int) -> None: ...
    def remove_arch(self, arch: int) -> None: ...
    def exist_arch(self, arch: int) -> bool: ...
    def syscall_priority(self, syscall: int | str, priority: int) -> None: ...
    def add_rule(self, action: int, syscall: int | str, *args: Arg) -> None: ...
    def add_rule_exactly(self, action: int, syscall: int | str, *args: Arg) -> None: ...
    def receive_notify(self) -> Notification: ...
    def respond_notify(self, response: NotificationResponse) -> None: ...
    def export_bpf(self, file: IO[bytes] | int) -> None: ...
    def export_pfc(self, file: IO[str] | int) -> None: ...

def system_arch() -> int: ...
def get_api() -> int: ...
def set_api(level: int) -> None: ...
@overload
def resolve_syscall(arch: int, syscall: int) -> bytes: ...
@overload
def resolve_syscall(arch: int, syscall: str) -> int: ...
