#!/usr/bin/env bash
# Deploys a small example environment with hsp-agent and shows what it did:
# a FHIR-like app (2 app + 2 worker tasks on Docker, 1 app + 2 workers on a host)
# with its dedicated database, then an upgrade, a broken upgrade that is rolled
# back, and the removal. No internet needed.
#
#   crates/hsp-agent/demo/deploy.sh host     # bare metal: supervised processes, no Docker
#   crates/hsp-agent/demo/deploy.sh docker   # containers on the local dockerd, images pulled
#                                 # by digest from the registry on 127.0.0.1:5000
# Needs busybox-static (host and docker) and, for docker, .ci/install's dockerd
# and registry. Everything lives in a temp dir and is removed at the end.
set -euo pipefail
kind=${1:-host}
root=$(cd "$(dirname "$0")/../../.." && pwd)
cargo build -q -p hsp-agent --bin hsp-agent --manifest-path "$root/Cargo.toml"
agent="$root/target/debug/hsp-agent"
work=$(mktemp -d)
env="demo-$kind"
trap '"$agent" apply --plan "$work/empty.json" --target "$kind" --state "$work/state" --purge >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export RUST_LOG=${RUST_LOG:-warn}
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# The service: tests/fixtures/images/svc/bin/start (busybox httpd), packaged as a
# host artifact (.tar.gz, pinned by sha256 and size) or an image (pinned by digest).
mkdir -p "$work/art/bin" && cp "$root/tests/fixtures/images/svc/bin/start" "$work/art/bin/start"
tar -czf "$work/svc.tar.gz" -C "$work/art" .
image=""
if [ "$kind" = docker ]; then
  mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp"
  cp "$work/art/bin/start" /bin/busybox "$work/rootfs/bin/"
  tar -cf "$work/rootfs.tar" -C "$work/rootfs" .
  docker import -c 'ENTRYPOINT ["/bin/start"]' "$work/rootfs.tar" 127.0.0.1:5000/hsp-demo/svc:1 >/dev/null
  docker push -q 127.0.0.1:5000/hsp-demo/svc:1 >/dev/null
  image=$(docker inspect -f '{{index .RepoDigests 0}}' 127.0.0.1:5000/hsp-demo/svc:1)
fi
umask 077 && echo "demo-oauth-secret" >"$work/oauth-secret" && umask 022

# A plan as `hsp-agent plan ENV --json` writes it (here written by hand, so the
# demo needs no index): VERSION of the app, FAIL=1 for a broken release.
plan() {
  python3 - "$kind" "$env" "$1" "${2:-}" "$image" "$work" <<'PY'
import hashlib, json, platform, sys
kind, env, version, fail, image, work = sys.argv[1:7]
data = open(f"{work}/svc.tar.gz", "rb").read()
art = [{"platform": "linux-" + platform.machine(), "url": f"file://{work}/svc.tar.gz",
        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "entrypoint": "bin/start"}] if kind == "host" else []
host = (lambda i, t: "127.0.0.1") if kind == "host" else (lambda i, t: f"{i}-{t}")
db, app = (15432, 18080) if kind == "host" else (5432, 8080)
t = lambda s: [{"text": s}]
health = lambda **k: dict(interval_s=1, timeout_s=2, retries=5, **k)
pw = {"secret": {"kind": "generated", "instance": "fhir-db", "name": "PASSWORD"}}
app_env = {"PORT": t(str(app)), "VERSION": t(version), "UPSTREAM": t(f"http://{host('fhir-db','postgres')}:{db}"),
           "DB_PASSWORD": [pw], "OAUTH_CLIENT_SECRET": [{"secret": {"kind": "file", "path": f"{work}/oauth-secret"}}]}
if fail: app_env["FAIL"] = t("1")
print(json.dumps({"environment": env, "instances": [
  {"name": "fhir-db", "service": "org.example.postgres", "version": "16.0.0", "license": "PostgreSQL",
   "reason": "dedicated database of fhir", "dedicated_to": "fhir", "tasks": [
    {"name": "postgres", "image": image, "ports": [{"name": "pg", "port": db}], "memory_mib": 64,
     "env": {"PORT": t(str(db)), "DATA": t("/data") if kind == "docker" else t(""), "POSTGRES_PASSWORD": [pw]},
     "instances": {"min": 1, "max": 1}, "health": health(http={"port": "pg", "path": "/healthz"}),
     "volumes": [{"name": "data", "path": "/data"}], "stop_timeout_s": 5, "artifacts": art}]},
  {"name": "fhir", "service": "org.example.fhir", "version": version, "license": "Apache-2.0",
   "reason": "wanted", "depends_on": ["fhir-db"], "tasks": [
    {"name": "app", "image": image, "ports": [{"name": "http", "port": app}], "env": app_env, "memory_mib": 64,
     "instances": {"min": 2, "max": 2}, "health": health(http={"port": "http", "path": "/healthz"}),
     "stop_timeout_s": 5, "artifacts": art},
    {"name": "worker", "image": image, "command": ["worker"], "ports": [], "env": {"VERSION": t(version)},
     "memory_mib": 32, "instances": {"min": 2, "max": 2}, "stop_timeout_s": 5, "artifacts": art}]}]}))
PY
}
plan 1.0.0 >"$work/v1.json"; plan 1.1.0 >"$work/v2.json"; plan 1.2.0 broken >"$work/v3.json"
echo "{\"environment\":\"$env\",\"instances\":[]}" >"$work/empty.json"
a() { "$agent" apply --plan "$1" --target "$kind" --state "$work/state"; }

step a "$work/v1.json"
step "$agent" status "$env" --state "$work/state"
step a "$work/v2.json"
step a "$work/v3.json" || echo "(exit $?: the broken release was rolled back)"
step "$agent" status "$env" --state "$work/state" || true
if [ "$kind" = host ]; then step ls -l "$work/state/$env/host/fhir"; else step docker ps --filter "label=org.hsp.agent.environment=$env"; fi
step "$agent" apply --plan "$work/empty.json" --target "$kind" --state "$work/state" --purge
