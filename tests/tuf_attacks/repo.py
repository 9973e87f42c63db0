"""A TUF repository made with python-tuf's Metadata API (not with `hsp build`),
written as a series of *stages*: full copies of what a server would serve at
one moment (`<out>/stages/<n>/metadata/`, `<out>/stages/<n>/targets/`).

Scenarios in `scenarios.py` drive a `Repo` through good and malicious states;
the Rust test `tests/e2e/tuf/attacks.rs` serves each stage on
127.0.0.1 and runs `hsp-agent tuf` against it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

TOP = ("root", "timestamp", "snapshot", "targets")


def days(n: float) -> datetime:
    """A UTC time `n` days from now, whole seconds (TUF's `expires` form)."""
    return (datetime.now(timezone.utc) + timedelta(days=n)).replace(microsecond=0)


class Repo:
    """Top-level roles, delegated roles and target files, signed on `publish`."""

    def __init__(self, out: str, consistent: bool = True):
        self.out = out
        self.stage_no = -1
        self.signers: dict[str, list[Signer]] = {}
        self.root = Metadata(Root(expires=days(365), consistent_snapshot=consistent))
        self.md: dict[str, Metadata] = {
            "timestamp": Metadata(Timestamp(expires=days(7))),
            "snapshot": Metadata(Snapshot(expires=days(30))),
            "targets": Metadata(Targets(expires=days(90))),
        }
        # Every content a role listed for a path (roles may disagree).
        self.files: dict[str, list[bytes]] = {}
        for role in TOP:
            self.signers[role] = []
            self.add_key(role)
        self.root_versions: dict[int, bytes] = {}
        # Roles whose hashes/length snapshot and timestamp list.
        self.meta_hashes = True

    # --- keys -----------------------------------------------------------
    def add_key(self, role: str, signer: Signer | None = None) -> Signer:
        signer = signer or CryptoSigner.generate_ed25519()
        self.root.signed.add_key(signer.public_key, role)
        self.signers[role].append(signer)
        return signer

    def rotate_key(self, role: str) -> Signer:
        """Replaces every key of a top-level role by a new one."""
        for s in self.signers[role]:
            self.root.signed.revoke_key(s.public_key.keyid, role)
        self.signers[role] = []
        return self.add_key(role)

    # --- targets and delegations ----------------------------------------
    def add_target(self, role: str, path: str, data: bytes) -> None:
        self.md[role].signed.targets[path] = TargetFile.from_data(path, data, ["sha256"])
        self.files.setdefault(path, []).append(data)

    def delegate(self, name: str, paths: list[str] | None, terminating: bool = False,
                 parent: str = "targets", hash_prefixes: list[str] | None = None) -> Signer:
        """Delegates `paths` (or, with `paths=None`, the target paths whose
        sha256 starts with one of `hash_prefixes`) from `parent` to `name`."""
        t = self.md[parent].signed
        if t.delegations is None:
            t.delegations = Delegations(keys={}, roles={})
        t.delegations.roles[name] = DelegatedRole(name, [], 1, terminating, paths, hash_prefixes)
        signer = CryptoSigner.generate_ed25519()
        t.add_key(signer.public_key, name)
        self.signers[name] = [signer]
        self.md[name] = Metadata(Targets(expires=days(90)))
        self.snapshot_lists(name)
        return signer

    def snapshot_lists(self, name: str) -> None:
        self.md["snapshot"].signed.meta[f"{name}.json"] = MetaFile(version=self.md[name].signed.version)

    # --- signing and writing --------------------------------------------
    def bump(self, *roles: str) -> None:
        """New versions of `roles`, and of snapshot and timestamp after them."""
        for r in roles:
            if r == "root":
                self.root.signed.version += 1
            else:
                self.md[r].signed.version += 1

    def sign_root(self, extra: list[Signer] | None = None, only: list[Signer] | None = None) -> bytes:
        """Signs the current root (by its own keys plus `extra`, or by `only`)
        and records it as `N.root.json`."""
        self.root.signatures.clear()
        for s in (only if only is not None else self.signers["root"] + (extra or [])):
            self.root.sign(s, append=True)
        data = self.root.to_bytes()
        self.root_versions[self.root.signed.version] = data
        return data

    def sign(self, role: str) -> bytes:
        md = self.md[role]
        md.signatures.clear()
        for s in self.signers[role]:
            md.sign(s, append=True)
        return md.to_bytes()

    def publish(self) -> dict[str, bytes]:
        """Signs targets roles, snapshot and timestamp with consistent meta
        (versions, and lengths and hashes when `meta_hashes`); returns the bytes."""
        out: dict[str, bytes] = {}
        snap = self.md["snapshot"].signed
        for name in self.md:
            if name in ("timestamp", "snapshot"):
                continue
            data = self.sign(name)
            out[name] = data
            info = MetaFile(version=self.md[name].signed.version)
            if self.meta_hashes:
                info = MetaFile.from_data(self.md[name].signed.version, data, ["sha256"])
            snap.meta[f"{name}.json"] = info
        out["snapshot"] = self.sign("snapshot")
        ts = self.md["timestamp"].signed
        ts.snapshot_meta = MetaFile(version=snap.version)
        if self.meta_hashes:
            ts.snapshot_meta = MetaFile.from_data(snap.version, out["snapshot"], ["sha256"])
        out["timestamp"] = self.sign("timestamp")
        if self.root.signed.version not in self.root_versions:
            self.sign_root()
        return out

    def stage(self, signed: dict[str, bytes] | None = None) -> str:
        """Writes a new stage: the previous stage's files (a server keeps old
        versions) plus the current roots, `signed` metadata and target files."""
        signed = signed if signed is not None else self.publish()
        prev = self.stage_dir(self.stage_no) if self.stage_no >= 0 else None
        self.stage_no += 1
        d = self.stage_dir(self.stage_no)
        if prev:
            shutil.copytree(prev, d)
        os.makedirs(f"{d}/metadata", exist_ok=True)
        os.makedirs(f"{d}/targets", exist_ok=True)
        consistent = self.root.signed.consistent_snapshot
        for v, data in self.root_versions.items():
            write(f"{d}/metadata/{v}.root.json", data)
        write(f"{d}/metadata/root.json", self.root_versions[max(self.root_versions)])
        for name, data in signed.items():
            if name == "timestamp" or not consistent:
                write(f"{d}/metadata/{name}.json", data)
            else:
                version = json.loads(data)["signed"]["version"]
                write(f"{d}/metadata/{version}.{name}.json", data)
        for path, contents in self.files.items():
            for data in contents:
                dirname, _, base = path.rpartition("/")
                if consistent:
                    base = f"{hashlib.sha256(data).hexdigest()}.{base}"
                write(os.path.join(d, "targets", dirname, base), data)
        return d

    def stage_dir(self, n: int) -> str:
        return f"{self.out}/stages/{n}"

    def write_initial_root(self) -> None:
        write(f"{self.out}/root.json", self.root_versions[min(self.root_versions)])

    def clone_md(self, role: str) -> Metadata:
        return copy.deepcopy(self.md[role])


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
