"""What keeps the audit chain honest from outside the database: the HMAC key and the signed
checkpoints.

The key comes from settings (`OPSCOPILOT_AUDIT__KEY`); unset, one is generated once into
`OPSCOPILOT_AUDIT__KEY_FILE` (default `<data_dir>/audit.key`, mode 0600). It is never written
to the database. After every append the log adds one line `{"log", "seq", "hash", "mac"}` to
the checkpoint file (default `<data_dir>/audit-checkpoints.jsonl`), signed with the same key:
someone who can rewrite the database but not this file cannot cut off the newest entries or
re-chain history unnoticed. Lines are written with one `O_APPEND` write each (atomic for lines
this short), so threads and processes on one host share the file without a lock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infra.settings import SettingsError

if TYPE_CHECKING:
    from infra.settings import Settings

MIN_KEY_CHARS = 16


class AuditKeyError(SettingsError):
    """The audit key cannot be used (too short, unreadable key file)."""


def audit_key(settings: Settings) -> bytes:
    """The HMAC key: the setting, else the key file (created with a random key the first time)."""
    cfg = settings.audit
    if cfg.key is not None:
        key = cfg.key.get_secret_value()
        if len(key) < MIN_KEY_CHARS:
            raise AuditKeyError(f"OPSCOPILOT_AUDIT__KEY: at least {MIN_KEY_CHARS} characters, "
                                "e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`")
        return key.encode()
    path = (cfg.key_file or settings.resolved_data_dir() / "audit.key").expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise AuditKeyError(f"audit key file {path}: cannot create it ({exc.strerror}); set "
                            "OPSCOPILOT_AUDIT__KEY or OPSCOPILOT_AUDIT__KEY_FILE") from None
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AuditKeyError(f"audit key file {path}: cannot read it ({exc.strerror})") from None
    if len(key) < MIN_KEY_CHARS:
        raise AuditKeyError(f"audit key file {path}: shorter than {MIN_KEY_CHARS} characters")
    return key.encode()


def checkpoint_path(settings: Settings) -> Path:
    cfg = settings.audit
    return (cfg.checkpoint_file or settings.resolved_data_dir() / "audit-checkpoints.jsonl"
            ).expanduser()


@dataclass(frozen=True)
class Checkpoint:
    line: int  # 1-based line in the file
    seq: int
    hash: str
    signed: bool  # the signature checks out with the key


def _mac(key: bytes, log: str, seq: int, entry_hash: str) -> str:
    body = json.dumps(["checkpoint", log, seq, entry_hash], separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


class Checkpoints:
    """The signed checkpoint file of one audit log (`log` names the database it belongs to, so
    one file can serve several databases without mixing their checkpoints)."""

    def __init__(self, path: Path, key: bytes, log: str) -> None:
        self.path, self._key, self.log = path, key, log
        self._folder_made = False

    def write(self, seq: int, entry_hash: str) -> None:
        line = json.dumps({"log": self.log, "seq": seq, "hash": entry_hash,
                           "mac": _mac(self._key, self.log, seq, entry_hash)},
                          separators=(",", ":")) + "\n"
        if not self._folder_made:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._folder_made = True
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def read(self) -> tuple[list[Checkpoint], list[int]]:
        """This log's checkpoints, and the numbers of lines that are not checkpoints at all."""
        if not self.path.exists():
            return [], []
        out, broken = [], []
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for n, raw in enumerate(fh, 1):
                try:
                    item = json.loads(raw)
                    log, seq, value, mac = item["log"], item["seq"], item["hash"], item["mac"]
                except (ValueError, KeyError, TypeError):
                    broken.append(n)
                    continue
                if log != self.log:
                    continue
                if not isinstance(seq, int) or not isinstance(value, str) \
                        or not isinstance(mac, str):
                    broken.append(n)
                    continue
                signed = hmac.compare_digest(mac, _mac(self._key, self.log, seq, value))
                out.append(Checkpoint(n, seq, value, signed))
        return out, broken
