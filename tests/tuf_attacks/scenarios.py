#!/usr/bin/env python3
"""Good and malicious TUF repositories for `hsp-agent tuf`, made with
python-tuf's Metadata API.

    scenarios.py NAME OUT     writes OUT/root.json, OUT/stages/<n>/ and OUT/plan.json
    scenarios.py --list       prints the scenario names

`plan.json` lists steps: which stage the server shows, the command
(`refresh`, or `download` of one target), the exit code expected, and what
else to check (trusted versions after, target content, served from cache,
`fetched`: exactly the files downloaded with a body, in order). A step
expected to fail must leave the client's metadata directory unchanged except
for the roles it lists in `persisted` (each role is kept as soon as it
verifies: §5.3.8, §5.4.5, §5.5.7, §5.6.6): the Rust test checks that for every
such step.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import DelegatedRole, Delegations, MetaFile

from repo import Repo, days, write

SCENARIOS = {}


def scenario(f):
    SCENARIOS[f.__name__] = f
    return f


def ok(stage, **kw):
    return {"stage": stage, "cmd": "refresh", "expect": 0, **kw}


def bad(stage, why, **kw):
    return {"stage": stage, "cmd": "refresh", "expect": 1, "why": why, **kw}


def get(stage, target, expect=0, **kw):
    return {"stage": stage, "cmd": "download", "target": target, "expect": expect, **kw}


def base(r: Repo) -> None:
    """A small repository: one top-level target, one delegated role."""
    r.add_target("targets", "files/a.txt", b"version one\n")
    r.delegate("acme", ["services/acme/*"])
    r.add_target("acme", "services/acme/app.json", b'{"app": 1}\n')


# --- good paths ---------------------------------------------------------------

@scenario
def good(r: Repo):
    base(r)
    r.stage()
    r.add_target("targets", "files/a.txt", b"version two\n")
    r.bump("targets", "snapshot", "timestamp")
    r.stage()
    return [
        ok(0, versions={"root": 1, "timestamp": 1, "snapshot": 1, "targets": 1}),
        ok(0, why="idle poll: nothing changed"),
        get(0, "files/a.txt", content="version one\n"),
        get(0, "services/acme/app.json", content='{"app": 1}\n', versions={"acme": 1}),
        get(0, "files/a.txt", content="version one\n", cached=True),
        ok(1, versions={"timestamp": 2, "snapshot": 2, "targets": 2}),
        get(1, "files/a.txt", content="version two\n"),
        get(1, "files/missing.txt", expect=1, why="no role lists it"),
    ]


@scenario
def no_consistent_snapshot(r: Repo):
    r.root.signed.consistent_snapshot = False
    return good(r)


@scenario
def no_meta_hashes(r: Repo):
    r.meta_hashes = False
    return good(r)


# --- rollback -----------------------------------------------------------------

@scenario
def timestamp_rollback(r: Repo):
    base(r)
    r.stage()
    old = r.sign("timestamp")
    r.bump("timestamp")
    r.stage()
    s2 = r.stage()
    write(f"{s2}/metadata/timestamp.json", old)
    return [ok(0), ok(1, versions={"timestamp": 2}), bad(2, "timestamp v1 after v2")]


@scenario
def snapshot_rollback(r: Repo):
    base(r)
    r.stage()
    r.bump("snapshot", "timestamp")
    r.stage()
    # A timestamp (validly signed, newer) listing the old snapshot version.
    r.bump("timestamp")
    signed = r.publish()
    r.md["timestamp"].signed.snapshot_meta = MetaFile(version=1)
    signed["timestamp"] = r.sign("timestamp")
    del signed["snapshot"]
    r.stage(signed)
    return [ok(0), ok(1, versions={"snapshot": 2}), bad(2, "timestamp lists snapshot v1 after v2")]


@scenario
def targets_rollback(r: Repo):
    base(r)
    r.stage()
    r.bump("targets", "snapshot", "timestamp")
    r.stage()
    r.bump("snapshot", "timestamp")
    r.md["targets"].signed.version = 1
    r.stage()
    return [ok(0), ok(1, versions={"targets": 2}), bad(2, "snapshot lists targets v1 after v2", persisted={"timestamp": 3})]


@scenario
def delegated_rollback(r: Repo):
    base(r)
    r.stage()
    r.bump("acme", "snapshot", "timestamp")
    r.stage()
    r.bump("snapshot", "timestamp")
    r.md["acme"].signed.version = 1
    r.stage()
    return [ok(0), get(1, "services/acme/app.json", versions={"acme": 2}),
            bad(2, "snapshot lists acme v1 after v2", persisted={"timestamp": 3})]


@scenario
def snapshot_drops_role(r: Repo):
    base(r)
    r.stage()
    r.bump("snapshot", "timestamp")
    signed = r.publish()
    del r.md["snapshot"].signed.meta["acme.json"]
    signed["snapshot"] = r.sign("snapshot")
    r.md["timestamp"].signed.snapshot_meta = MetaFile.from_data(2, signed["snapshot"], ["sha256"])
    signed["timestamp"] = r.sign("timestamp")
    r.stage(signed)
    return [ok(0), bad(1, "snapshot v2 no longer lists acme.json", persisted={"timestamp": 2})]


# --- freeze (expiry) ----------------------------------------------------------

def expired(role: str):
    def build(r: Repo):
        base(r)
        r.stage()
        if role == "root":
            r.bump("root")
            r.root.signed.expires = days(-1)
            r.sign_root()
        else:
            r.md[role].signed.expires = days(-1)
        r.bump(*{"timestamp": ["timestamp"], "snapshot": ["snapshot", "timestamp"],
                 "targets": ["targets", "snapshot", "timestamp"], "root": ["timestamp"],
                 "acme": ["acme", "snapshot", "timestamp"]}[role])
        r.stage()
        if role == "acme":
            return [ok(0), ok(1), get(1, "services/acme/app.json", expect=1, why="acme expired")]
        if role == "root":
            # The chain step persists root v2 (§5.3.8) before its expiry is checked.
            return [ok(0), bad(1, "root expired", persisted={"root": 2})]
        # §5.4.5, §5.5.7: each role is kept as soon as it verifies, so the
        # roles before the expired one in the chain are persisted.
        chain = ["timestamp", "snapshot", "targets"]
        before = chain[: chain.index(role)]
        return [ok(0), bad(1, f"{role} expired", persisted={r: 2 for r in before})]
    build.__name__ = f"expired_{role}"
    return build


for _role in ("root", "timestamp", "snapshot", "targets", "acme"):
    scenario(expired(_role))


@scenario
def freeze(r: Repo):
    """The repository stops updating; later the client's clock passes expiry."""
    base(r)
    r.stage()
    return [ok(0), ok(0, faketime="+3d"), bad(0, "timestamp expired by the clock", faketime="+8d")]


# --- mix-and-match ------------------------------------------------------------

@scenario
def mix_and_match_snapshot(r: Repo):
    base(r)
    r.stage()
    r.bump("snapshot", "timestamp")
    signed = r.publish()
    # Another validly signed snapshot of the same version, not the one the timestamp lists.
    r.md["snapshot"].signed.meta["extra.json"] = MetaFile(version=1)
    signed["snapshot"] = r.sign("snapshot")
    r.stage(signed)
    return [ok(0), bad(1, "snapshot hash differs from the timestamp's", persisted={"timestamp": 2})]


@scenario
def mix_and_match_targets(r: Repo):
    base(r)
    r.stage()
    r.bump("targets", "snapshot", "timestamp")
    signed = r.publish()
    r.md["targets"].signed.targets.pop("files/a.txt")
    signed["targets"] = r.sign("targets")
    r.stage(signed)
    return [ok(0), bad(1, "targets hash differs from the snapshot's", persisted={"timestamp": 2, "snapshot": 2})]


@scenario
def targets_version_mismatch(r: Repo):
    r.meta_hashes = False
    base(r)
    r.stage()
    r.bump("targets", "snapshot", "timestamp")
    signed = r.publish()
    r.md["targets"].signed.version = 1
    d = r.stage(signed)
    write(f"{d}/metadata/2.targets.json", r.sign("targets"))
    return [ok(0), bad(1, "2.targets.json holds version 1", persisted={"timestamp": 2, "snapshot": 2})]


# --- target files -------------------------------------------------------------

@scenario
def wrong_target_hash(r: Repo):
    base(r)
    r.stage()
    s1 = r.stage()
    for name in os.listdir(f"{s1}/targets/files"):
        write(f"{s1}/targets/files/{name}", b"version 0ne\n")
    return [ok(0), get(1, "files/a.txt", expect=1, why="same length, other bytes")]


@scenario
def endless_target(r: Repo):
    base(r)
    r.stage()
    s1 = r.stage()
    for name in os.listdir(f"{s1}/targets/files"):
        write(f"{s1}/targets/files/{name}", b"version one\n" + b"A" * 5_000_000)
    return [ok(0), get(1, "files/a.txt", expect=1, why="longer than listed")]


@scenario
def endless_timestamp(r: Repo):
    base(r)
    r.stage()
    r.bump("timestamp")
    r.md["timestamp"].signed.unrecognized_fields["padding"] = "x" * 40_000
    r.stage()
    return [ok(0), bad(1, "timestamp over 16 KiB")]


@scenario
def endless_snapshot(r: Repo):
    base(r)
    r.stage()
    r.bump("snapshot", "timestamp")
    signed = r.publish()
    r.md["snapshot"].signed.unrecognized_fields["padding"] = "x" * 4000
    signed["snapshot"] = r.sign("snapshot")
    r.stage(signed)
    return [ok(0), bad(1, "snapshot longer than the timestamp lists", persisted={"timestamp": 2})]


# --- root rotation ------------------------------------------------------------

@scenario
def root_rotation_chain(r: Repo):
    base(r)
    r.stage()
    for _ in range(2):
        old = list(r.signers["root"])
        r.bump("root")
        r.rotate_key("root")
        r.rotate_key("timestamp")
        r.sign_root(extra=old)
    r.bump("timestamp")
    r.stage()
    return [ok(0), ok(1, versions={"root": 3, "timestamp": 2})]


@scenario
def root_rotation_without_old_keys(r: Repo):
    base(r)
    r.stage()
    r.bump("root")
    r.rotate_key("root")
    r.sign_root()  # only the new key signs
    r.stage()
    return [ok(0), bad(1, "2.root.json lacks the trusted root threshold")]


@scenario
def root_rotation_without_new_keys(r: Repo):
    base(r)
    r.stage()
    old = list(r.signers["root"])
    r.bump("root")
    r.rotate_key("root")
    r.sign_root(only=old)
    r.stage()
    return [ok(0), bad(1, "2.root.json lacks its own threshold")]


@scenario
def root_persisted_when_timestamp_fails(r: Repo):
    """§5.3.8: a verified new root is kept even though the update then fails."""
    base(r)
    r.stage()
    r.bump("root")
    r.sign_root()
    r.md["timestamp"].signed.expires = days(-1)
    r.bump("timestamp")
    r.stage()
    return [ok(0), bad(1, "root v2 verifies, timestamp v2 expired", persisted={"root": 2})]


@scenario
def root_chain_partly_valid(r: Repo):
    """Root v2 verifies, v3 lacks the v2 threshold: v2 is kept, v3 is not."""
    base(r)
    r.stage()
    r.bump("root")
    r.sign_root()
    r.bump("root")
    r.rotate_key("root")
    r.sign_root()  # only the new key signs v3
    r.stage()
    return [ok(0), bad(1, "3.root.json lacks the threshold of root v2", persisted={"root": 2})]


@scenario
def root_version_skip(r: Repo):
    base(r)
    r.stage()
    r.bump("root")
    r.bump("root")
    r.sign_root()
    d = r.stage()
    os.rename(f"{d}/metadata/3.root.json", f"{d}/metadata/2.root.json")
    return [ok(0), bad(1, "2.root.json holds version 3")]


@scenario
def root_chain_cap(r: Repo):
    base(r)
    r.stage()
    for _ in range(300):
        old = list(r.signers["root"])
        r.bump("root")
        r.rotate_key("root")
        r.sign_root(extra=old)
    r.stage()
    return [ok(0), ok(1, versions={"root": 257}, why="at most 256 roots per refresh"),
            ok(1, versions={"root": 301})]


# --- thresholds ---------------------------------------------------------------

@scenario
def duplicate_signatures(r: Repo):
    """Threshold 2 met only by the same key's signature twice."""
    base(r)
    r.root.signed.roles["timestamp"].threshold = 2
    d = r.stage()
    raw = json.loads(r.md["timestamp"].to_bytes())
    raw["signatures"] = raw["signatures"] * 2
    write(f"{d}/metadata/timestamp.json", json.dumps(raw).encode())
    return [bad(0, "timestamp threshold 2 met by one signature twice")]


@scenario
def duplicate_key_ids(r: Repo):
    """Threshold 2 met only by one key listed under two key ids."""
    base(r)
    signer = r.signers["timestamp"][0]
    pub = signer.public_key
    alias = SSlibKey("ab" * 32, pub.keytype, pub.scheme, dict(pub.keyval))
    r.root.signed.add_key(alias, "timestamp")
    r.root.signed.roles["timestamp"].threshold = 2
    r.publish()
    d = r.stage()
    raw = json.loads(r.md["timestamp"].to_bytes())
    sig = raw["signatures"][0]["sig"]
    raw["signatures"] = [{"keyid": pub.keyid, "sig": sig}, {"keyid": alias.keyid, "sig": sig}]
    write(f"{d}/metadata/timestamp.json", json.dumps(raw).encode())
    return [bad(0, "timestamp threshold 2 met by one key under two ids")]


@scenario
def threshold_two_keys(r: Repo):
    """The good variant: two distinct keys meet threshold 2."""
    base(r)
    r.add_key("timestamp")
    r.root.signed.roles["timestamp"].threshold = 2
    r.stage()
    return [ok(0)]


# --- delegations ----------------------------------------------------------------

@scenario
def delegation_path_abuse(r: Repo):
    base(r)
    r.delegate("other", ["services/other/*"])
    r.add_target("other", "services/other/app.json", b"other\n")
    # acme signs paths outside its delegation.
    r.add_target("acme", "services/other/evil.json", b"evil\n")
    r.add_target("acme", "services/acme/sub/deep.json", b"deep\n")
    r.add_target("acme", "files/b.txt", b"b\n")
    r.stage()
    return [
        ok(0),
        get(0, "services/other/app.json", content="other\n"),
        get(0, "services/other/evil.json", expect=1, why="acme may not sign services/other/*"),
        get(0, "services/acme/sub/deep.json", expect=1, why="* does not cross /"),
        get(0, "files/b.txt", expect=1, why="acme may not sign files/*"),
    ]


@scenario
def delegation_path_patterns(r: Repo):
    """fnmatch as python-tuf: [seq], [!seq], ranges; * and ? stay in a segment."""
    r.delegate("releases", ["releases/v[0-9]/*", "docs/[!_]*.md", "logs/day-??.txt"])
    for path in ("releases/v1/app.tar", "releases/vx/app.tar", "releases/v12/app.tar",
                 "docs/guide.md", "docs/_draft.md", "logs/day-07.txt", "logs/day-7.txt"):
        r.add_target("releases", path, path.encode() + b"\n")
    r.stage()
    return [
        ok(0),
        get(0, "releases/v1/app.tar", content="releases/v1/app.tar\n"),
        get(0, "docs/guide.md", content="docs/guide.md\n"),
        get(0, "logs/day-07.txt", content="logs/day-07.txt\n"),
        get(0, "releases/vx/app.tar", expect=1, why="x is not in [0-9]"),
        get(0, "releases/v12/app.tar", expect=1, why="[0-9] is one character"),
        get(0, "docs/_draft.md", expect=1, why="[!_] excludes a leading _"),
        get(0, "logs/day-7.txt", expect=1, why="?? is two characters"),
    ]


@scenario
def canonical_json_edge_cases(r: Repo):
    """Signed content whose canonical form differs from naive re-encoding: no
    Unicode normalisation (e + combining acute), raw control characters,
    escaped quotes and backslashes, keys sorted by code point."""
    base(r)
    tricky = {"note": "e\u0301 \u00e9\ttab\nline \"q\" back\\slash \U0001d11e",
              "\u00e9": 1, "Z": [True, None, -3], "a": {"\u0000nul": ""}}
    t = r.md["targets"].signed
    t.targets["files/a.txt"].unrecognized_fields["custom"] = tricky
    t.unrecognized_fields["x-tricky"] = tricky
    r.stage()
    return [ok(0), get(0, "files/a.txt", content="version one\n")]


@scenario
def delegation_cycle_and_chain_cap(r: Repo):
    """A delegation cycle (a -> b -> a) is walked once per role; a chain of 40
    nested delegations is searched at most 32 roles deep, as python-tuf does."""
    r.delegate("a", ["deep/*"])
    r.delegate("b", ["deep/*"], parent="a")
    b = r.md["b"].signed
    b.delegations = Delegations(keys={}, roles={})
    b.delegations.roles["a"] = DelegatedRole("a", [], 1, False, ["deep/*"])
    b.add_key(r.signers["a"][0].public_key, "a")
    r.add_target("b", "deep/x.txt", b"x\n")
    parent = "targets"
    for i in range(40):
        r.delegate(f"c{i}", ["chain/*"], parent=parent)
        r.add_target(f"c{i}", f"chain/t{i}.txt", f"t{i}\n".encode())
        parent = f"c{i}"
    r.stage()
    return [
        ok(0),
        get(0, "deep/x.txt", content="x\n"),
        get(0, "deep/missing.txt", expect=1, why="a -> b -> a: each role once, then not found"),
        get(0, "chain/t10.txt", content="t10\n"),
        get(0, "chain/t30.txt", content="t30\n"),
        get(0, "chain/t35.txt", expect=1, why="36 roles deep: past the 32-role cap"),
    ]


def _bin_of(path: str) -> int:
    return int(hashlib.sha256(path.encode()).hexdigest()[:2], 16) // 64


@scenario
def hash_bins(r: Repo):
    """The layout `hsp build` gives the API: targets -> api (terminating) ->
    4 hash bins (path_hash_prefixes). A lookup fetches only the roles on its
    path; roles whose snapshot version did not change are never fetched again."""
    base(r)
    r.delegate("api", ["api/*", "api/*/*"], terminating=True)
    for i in range(4):
        r.delegate(f"api-bin-{i}", None, terminating=True, parent="api",
                   hash_prefixes=[f"{p:02x}" for p in range(i * 64, (i + 1) * 64)])
    paths = [f"api/services/s{i}.json" for i in range(16)]
    for p in paths:
        r.add_target(f"api-bin-{_bin_of(p)}", p, p.encode() + b"\n")
    a = paths[0]
    b = next(p for p in paths if _bin_of(p) != _bin_of(a))
    bin_a, bin_b = f"api-bin-{_bin_of(a)}", f"api-bin-{_bin_of(b)}"
    r.stage()
    r.bump("acme", "snapshot", "timestamp")  # an unrelated role changes
    r.stage()
    r.add_target(bin_a, a, b"changed\n")
    r.bump(bin_a, "snapshot", "timestamp")
    r.stage()
    missing = "api/services/missing.json"
    bin_m = f"api-bin-{_bin_of(missing)}"
    md, tg = "/metadata", "/targets"
    return [
        ok(0, fetched=[f"{md}/timestamp.json", f"{md}/1.snapshot.json", f"{md}/1.targets.json"]),
        get(0, a, content=f"{a}\n", fetched=[f"{md}/1.api.json", f"{md}/1.{bin_a}.json",
                                             f"{tg}/{_hashed(a)}"]),
        get(0, b, content=f"{b}\n", fetched=[f"{md}/1.{bin_b}.json", f"{tg}/{_hashed(b)}"]),
        get(1, a, content=f"{a}\n",
            fetched=[f"{md}/timestamp.json", f"{md}/2.snapshot.json"],
            why="only timestamp and snapshot changed for this client"),
        get(2, a, content="changed\n", versions={bin_a: 2},
            fetched=[f"{md}/timestamp.json", f"{md}/3.snapshot.json", f"{md}/2.{bin_a}.json",
                     f"{tg}/{_hashed(a, b'changed')}"]),
        # §5.6.6: the bin on its path verifies and is kept before the lookup fails.
        get(2, missing, expect=1, why="its bin does not list it",
            persisted={bin_m: 2 if bin_m == bin_a else 1}),
        get(2, "api/a/b/c.json", expect=1, why="api delegates api/* and api/*/* only"),
    ]


def _hashed(path: str, content: bytes | None = None) -> str:
    """URL of a target file under consistent snapshots."""
    data = content + b"\n" if content is not None else path.encode() + b"\n"
    d, _, base_name = path.rpartition("/")
    return f"{d}/{hashlib.sha256(data).hexdigest()}.{base_name}"


def _terminating(r: Repo, terminating: bool):
    r.delegate("first", ["shared/*"], terminating=terminating)
    r.delegate("second", ["shared/*"])
    r.add_target("first", "shared/both.txt", b"from first\n")
    r.add_target("second", "shared/both.txt", b"from second\n")
    r.add_target("second", "shared/only-second.txt", b"second\n")
    r.stage()


@scenario
def terminating_delegation(r: Repo):
    _terminating(r, True)
    return [ok(0), get(0, "shared/both.txt", content="from first\n"),
            get(0, "shared/only-second.txt", expect=1, why="first is terminating")]


@scenario
def nonterminating_delegation(r: Repo):
    _terminating(r, False)
    return [ok(0), get(0, "shared/both.txt", content="from first\n"),
            get(0, "shared/only-second.txt", content="second\n")]


@scenario
def delegation_wrong_key(r: Repo):
    base(r)
    r.stage()
    r.signers["acme"] = [CryptoSigner.generate_ed25519()]
    r.bump("acme", "snapshot", "timestamp")
    r.stage()
    return [ok(0), ok(1), get(1, "services/acme/app.json", expect=1, why="acme signed by a key targets does not list")]


# --- fast-forward recovery ----------------------------------------------------

@scenario
def fast_forward_timestamp_recovery(r: Repo):
    base(r)
    r.stage()
    r.md["timestamp"].signed.version = 1000  # attacker holding the timestamp key
    r.stage()
    r.bump("root")
    r.rotate_key("timestamp")
    r.sign_root()
    r.md["timestamp"].signed.version = 2
    r.stage()
    return [ok(0), ok(1, versions={"timestamp": 1000}),
            ok(2, versions={"root": 2, "timestamp": 2}, why="rotated key: trusted timestamp dropped")]


@scenario
def fast_forward_snapshot_recovery(r: Repo):
    base(r)
    r.stage()
    r.md["snapshot"].signed.version = 1000
    r.bump("timestamp")
    r.stage()
    r.bump("root")
    r.rotate_key("snapshot")
    r.sign_root()
    r.md["snapshot"].signed.version = 2
    r.bump("timestamp")
    r.stage()
    return [ok(0), ok(1, versions={"snapshot": 1000}),
            ok(2, versions={"root": 2, "snapshot": 2}, why="rotated key: trusted snapshot dropped")]


@scenario
def fast_forward_without_rotation(r: Repo):
    base(r)
    r.stage()
    r.md["snapshot"].signed.version = 1000
    r.bump("timestamp")
    r.stage()
    r.md["snapshot"].signed.version = 2
    r.bump("timestamp")
    r.stage()
    return [ok(0), ok(1), bad(2, "snapshot v2 after v1000 without a key rotation")]


def main() -> None:
    if sys.argv[1:] == ["--list"]:
        print("\n".join(SCENARIOS))
        return
    name, out = sys.argv[1], sys.argv[2]
    r = Repo(out)
    steps = SCENARIOS[name](r)
    r.write_initial_root()
    write(f"{out}/plan.json", json.dumps({"scenario": name, "steps": steps}, indent=1).encode())


if __name__ == "__main__":
    main()
