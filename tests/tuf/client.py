"""python-tuf (an independent TUF implementation) as a client of `hsp build` output.

Run by the Rust integration tests (tests/e2e/build/python_tuf.rs) with the project's
venv python. Subcommands print one JSON object on stdout.

  refresh  --repo DIR --transport http|file --bootstrap ROOT --targets LIST
      Serves DIR over HTTP on 127.0.0.1 (a port the OS picks) or reads it as a
      plain folder, runs ngclient's Updater.refresh() from the trusted root
      ROOT, then get_targetinfo + download_target for every target path in the
      JSON list LIST (each download is verified against length and sha256).
      Prints {"root_version": N, "downloaded": K}; exits 1 on any failure.

  flip     --repo DIR --targets LIST --positions K
      For every file under DIR/metadata and DIR/targets, and K byte positions
      spread over it (first, last, evenly in between), XORs one byte, runs the
      same refresh + download from a fresh client, and restores the byte. A
      change must make the client fail. Root files are also the client's
      bootstrap when they are the file changed (a newcomer trusting them).
      Prints {"checked": N, "survived": [[file, position], ...]}.
"""

import argparse
import functools
import http.server
import json
import os
import sys
import tempfile
import threading

from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient import FetcherInterface, Updater


class FolderFetcher(FetcherInterface):
    """Reads `file://` URLs from a plain folder (a USB stick, a copied mirror)."""

    def _fetch(self, url):
        assert url.startswith("file://"), url
        path = url[len("file://"):]
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise DownloadHTTPError(f"{path} not found", 404)
        return iter([data])


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory):
    handler = functools.partial(QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def refresh(base_url, fetcher, bootstrap, targets, work):
    """Refreshes and downloads every target; returns the trusted root version."""
    meta_dir = os.path.join(work, "meta")
    target_dir = os.path.join(work, "targets")
    os.makedirs(meta_dir)
    os.makedirs(target_dir)
    updater = Updater(
        metadata_dir=meta_dir,
        metadata_base_url=base_url + "/metadata/",
        target_dir=target_dir,
        target_base_url=base_url + "/targets/",
        fetcher=fetcher,
        bootstrap=bootstrap,
    )
    updater.refresh()
    for i, path in enumerate(targets):
        info = updater.get_targetinfo(path)
        if info is None:
            raise RuntimeError(f"target {path} not found in the trusted metadata")
        dest = os.path.join(target_dir, str(i))
        updater.download_target(info, dest)
        with open(dest, "rb") as f:
            if len(f.read()) != info.length:
                raise RuntimeError(f"{path}: wrong length")
    with open(os.path.join(meta_dir, "root.json"), "rb") as f:
        return json.loads(f.read())["signed"]["version"]


def cmd_refresh(args, targets):
    with open(args.bootstrap, "rb") as f:
        bootstrap = f.read()
    repo = os.path.abspath(args.repo)
    with tempfile.TemporaryDirectory() as work:
        if args.transport == "http":
            server = serve(repo)
            try:
                host, port = server.server_address[:2]
                version = refresh(f"http://{host}:{port}", None, bootstrap, targets, work)
            finally:
                server.shutdown()
        else:
            version = refresh("file://" + repo, FolderFetcher(), bootstrap, targets, work)
    print(json.dumps({"root_version": version, "downloaded": len(targets)}))


def positions(length, k):
    if length <= k:
        return list(range(length))
    return sorted({round(i * (length - 1) / (k - 1)) for i in range(k)})


def cmd_flip(args, targets):
    repo = os.path.abspath(args.repo)
    files = []
    for sub in ("metadata", "targets"):
        for dirpath, _, names in os.walk(os.path.join(repo, sub)):
            files.extend(os.path.join(dirpath, n) for n in names)
    files.sort()
    with open(os.path.join(repo, "metadata", "1.root.json"), "rb") as f:
        pristine_root = f.read()
    checked = 0
    survived = []
    for path in files:
        with open(path, "rb") as f:
            original = f.read()
        name = os.path.basename(path)
        is_root = name.endswith("root.json")
        for pos in positions(len(original), args.positions):
            changed = bytearray(original)
            changed[pos] ^= 0x01
            with open(path, "wb") as f:
                f.write(changed)
            try:
                bootstrap = bytes(changed) if is_root else pristine_root
                with tempfile.TemporaryDirectory() as work:
                    refresh("file://" + repo, FolderFetcher(), bootstrap, targets, work)
                survived.append([os.path.relpath(path, repo), pos])
            except Exception:
                pass
            finally:
                with open(path, "wb") as f:
                    f.write(original)
            checked += 1
    print(json.dumps({"checked": checked, "files": len(files), "survived": survived}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("refresh")
    r.add_argument("--repo", required=True)
    r.add_argument("--transport", choices=["http", "file"], required=True)
    r.add_argument("--bootstrap", required=True)
    r.add_argument("--targets", required=True)
    f = sub.add_parser("flip")
    f.add_argument("--repo", required=True)
    f.add_argument("--targets", required=True)
    f.add_argument("--positions", type=int, default=4)
    args = p.parse_args()
    with open(args.targets) as fh:
        targets = json.load(fh)
    try:
        if args.cmd == "refresh":
            cmd_refresh(args, targets)
        else:
            cmd_flip(args, targets)
    except Exception as e:  # report the failure as the test's message
        print(f"python-tuf client failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
