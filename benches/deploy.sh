#!/usr/bin/env bash
# Deploy benchmarks (measurements, not tests). Needs .ci/install (dockerd, registry).
#   1. apply-to-healthy of a 10-service environment, Docker and host drivers
#      (each run starts from nothing and is purged afterwards); median of RUNS.
#   2. resident memory of `hsp-agent run` managing 50 containers: median of
#      samples taken while it polls.
# Usage: benches/deploy.sh [RUNS]   (release build; prints medians)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
cargo build -q --release -p hsp-agent --bin hsp-agent --manifest-path "$root/Cargo.toml"
agent="$root/target/release/hsp-agent"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RUST_LOG=warn

# The test service image (see tests/fixtures/images), pushed to 127.0.0.1:5000.
mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/etc"
cp "$root/tests/fixtures/images/svc/bin/start" "$work/rootfs/bin/start"
cp /bin/busybox "$work/rootfs/bin/busybox"
tar --sort=name --mtime=@0 --owner=0 --group=0 -cf "$work/rootfs.tar" -C "$work/rootfs" .
docker import -c 'ENTRYPOINT ["/bin/start"]' "$work/rootfs.tar" 127.0.0.1:5000/hsp-bench/svc:1 >/dev/null
docker push -q 127.0.0.1:5000/hsp-bench/svc:1 >/dev/null
digest=$(curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  http://127.0.0.1:5000/v2/hsp-bench/svc/manifests/1 | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
image="127.0.0.1:5000/hsp-bench/svc@$digest"
mkdir -p "$work/art/bin" && cp "$root/tests/fixtures/images/svc/bin/start" "$work/art/bin/start"
tar -czf "$work/svc.tar.gz" -C "$work/art" .

# plan ENV KIND COUNT > file: COUNT independent services, one httpd each.
plan() {
  python3 - "$1" "$2" "$3" "$image" "$work/svc.tar.gz" <<'PY'
import hashlib, json, os, platform, socket, sys
env, kind, n, image, art = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
data = open(art, "rb").read()
artifact = {"platform": "linux-" + platform.machine(), "url": "file://" + art,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "entrypoint": "bin/start"}
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
insts = []
for i in range(n):
    p = 8080 if kind == "docker" else port()
    insts.append({"name": f"svc{i}", "service": "org.example.svc", "version": "1.0.0", "license": "MIT",
      "reason": "bench", "tasks": [{"name": "app", "image": image, "ports": [{"name": "http", "port": p}],
      "env": {"PORT": [{"text": str(p)}], "VERSION": [{"text": "1.0.0"}]}, "memory_mib": 16,
      "instances": {"min": 1, "max": 1}, "stop_timeout_s": 2,
      "health": {"http": {"port": "http", "path": "/healthz"}, "interval_s": 1, "timeout_s": 2, "retries": 5},
      "artifacts": [artifact] if kind == "host" else []}]})
print(json.dumps({"environment": env, "instances": insts}))
PY
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for kind in docker host; do
  env="bench-$kind-$$"
  plan "$env" "$kind" 10 >"$work/$kind.json"
  echo "{\"environment\":\"$env\",\"instances\":[]}" >"$work/empty-$kind.json"
  for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    "$agent" apply --plan "$work/$kind.json" --target "$kind" --state "$work/state" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc
    "$agent" apply --plan "$work/empty-$kind.json" --target "$kind" --state "$work/state" --purge >/dev/null
  done >"$work/times-$kind"
  echo "apply to healthy, 10 services, $kind: median $(median <"$work/times-$kind") s over $runs runs ($(tr '\n' ' ' <"$work/times-$kind"))"
done

# The host driver in systemd mode, inside a container running systemd as PID 1
# (the image `cargo test -p hsp-e2e --test e2e deploy::systemd` builds); times include
# one `docker exec` (~0.05 s).
sdimage=$(docker images hsp-test/systemd --format '{{.Repository}}:{{.Tag}}' | head -1)
if [ -n "$sdimage" ]; then
  c="hsp-bench-sd-$$"
  docker run -d --name "$c" --network none --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    -v /bin/busybox:/bin/busybox:ro -v "$work:$work" -v "$(dirname "$agent"):/opt/hsp:ro" "$sdimage" >/dev/null
  trap 'docker rm -f "$c" >/dev/null 2>&1; rm -rf "$work"' EXIT
  until [[ "$(docker exec "$c" systemctl is-system-running 2>/dev/null)" =~ running|degraded ]]; do sleep 0.1; done
  env="bench-sd-$$"
  plan "$env" host 10 >"$work/sd.json"
  echo "{\"environment\":\"$env\",\"instances\":[]}" >"$work/empty-sd.json"
  for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    docker exec -e RUST_LOG=warn "$c" /opt/hsp/hsp-agent apply --plan "$work/sd.json" --target host \
      --host-mode systemd --state "$work/state-sd" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc
    docker exec -e RUST_LOG=warn "$c" /opt/hsp/hsp-agent apply --plan "$work/empty-sd.json" --target host \
      --host-mode systemd --state "$work/state-sd" --purge >/dev/null
  done >"$work/times-sd"
  echo "apply to healthy, 10 services, host in systemd mode: median $(median <"$work/times-sd") s over $runs runs ($(tr '\n' ' ' <"$work/times-sd"))"
  docker rm -f "$c" >/dev/null
else
  echo "systemd mode skipped: no hsp-test/systemd image (cargo test -p hsp-e2e --test e2e deploy::systemd builds it)"
fi

env="bench-rss-$$"
plan "$env" docker 50 >"$work/p50.json"
echo "{\"environment\":\"$env\",\"instances\":[]}" >"$work/e50.json"
"$agent" apply --plan "$work/p50.json" --target docker --state "$work/state" >/dev/null
"$agent" run --plan "$work/p50.json" --target docker --state "$work/state" --interval 2 --jitter 0 2>/dev/null &
pid=$!
sleep 3
for _ in $(seq 10); do awk '/VmRSS/{print $2}' "/proc/$pid/status"; sleep 1; done >"$work/rss"
kill -TERM "$pid"; wait "$pid" || true
"$agent" apply --plan "$work/e50.json" --target docker --state "$work/state" --purge >/dev/null
echo "hsp-agent run managing 50 containers: median RSS $(median <"$work/rss") KiB over 10 samples (polling every 2 s)"
