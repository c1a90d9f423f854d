"""Files that cannot be written or read, as one sentence naming the path and the fix."""

from __future__ import annotations

import errno

from errors import FormbotError

_REASONS = {
    errno.EACCES: "没有权限",
    errno.EPERM: "没有权限",
    errno.EROFS: "所在的磁盘或目录是只读的",
    errno.ENOSPC: "磁盘空间已满",
    errno.EDQUOT: "磁盘配额已用完",
    errno.ENOENT: "路径中的目录不存在",
    errno.ENOTDIR: "路径中有一段不是目录而是文件",
    errno.EEXIST: "路径中有一段不是目录而是文件",
    errno.EISDIR: "这是一个目录，不是文件",
    errno.ENAMETOOLONG: "路径太长",
}


def os_reason(exc: OSError) -> str:
    """Why a file operation failed, in a few Chinese words."""
    return _REASONS.get(exc.errno or 0) or exc.strerror or type(exc).__name__


def cannot_write(exc: OSError, *, what: str, path: object = None) -> FormbotError:
    """`无法写入 PATH（没有权限）：…` for the admin, naming the config key or option."""
    where = path if path is not None else (exc.filename or "")
    fix = {errno.ENOSPC: "请清理磁盘", errno.EDQUOT: "请清理磁盘"}.get(
        exc.errno or 0, f"请检查 {what} 指向的位置是否存在、可写")
    return FormbotError(f"无法写入 {where}（{os_reason(exc)}）：{fix}")
