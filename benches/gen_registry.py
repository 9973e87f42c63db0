#!/usr/bin/env python3
"""Writes a synthetic registry repo for benchmarking `hsp check`.

usage: gen_registry.py OUT_DIR [SERVICES] [VERSIONS]   (default 10000 x 10)

Services are spread over 100 publishers; each has an app and a worker task, env
templates over its requirements and config, a health check, a smoke test and (one
in four) a bare-metal artifact, like the example registry's documents. Every
document is valid, so the benchmark measures the full rule set, not an early exit.
"""
import hashlib
import json
import os
import sys

out = sys.argv[1]
services = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
versions = int(sys.argv[3]) if len(sys.argv) > 3 else 10
publishers = 100


def write(rel, value):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def hexdigest(*parts):
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def public_key(p):
    """A real ed25519 public key (hsp check refuses one that is not a curve
    point), from a seed fixed per publisher."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    seed = hashlib.sha256(f"key/{p}".encode()).digest()
    key = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


INTERFACES = {
    "postgres": ["host", "port", "database", "user", "password"],
    "fhir": ["base_url"],
    "smtp": ["host", "port"],
    "oidc": ["issuer_url", "client_id", "client_secret"],
}

write("registry.json", {"name": "bench", "title": "Synthetic benchmark registry"})
for iid, fields in INTERFACES.items():
    write(f"interfaces/{iid}.json", {
        "id": iid, "name": iid.upper(), "description": f"The {iid} interface.",
        "versioning": "semver",
        "fields": [{"name": f, "type": "secret" if "password" in f or "secret" in f else "string"} for f in fields],
    })
for p in range(publishers):
    write(f"publishers/pub{p}/publisher.json", {
        "name": f"pub{p}", "title": f"Publisher {p}", "namespaces": [f"com.pub{p}"],
        "keys": [{"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": public_key(p)}}],
    })


def document(s, v):
    pub = s % publishers
    sid = f"com.pub{pub}.service{s}"
    version = f"{1 + v // 5}.{v % 5}.0"
    kind = s % 4
    provides, requires, env = [], [], {}
    if kind == 0:  # a database
        provides.append({"interface": "postgres", "version": f"16.{v}", "task": "app", "port": "main",
                         "binding": {"host": "${self.app.main.host}", "port": "${self.app.main.port}",
                                     "database": "${config.DB_NAME}", "user": "${config.DB_USER}",
                                     "password": "${config.DB_PASSWORD}"}})
    elif kind == 1:  # a FHIR server on a database
        provides.append({"interface": "fhir", "version": "4.0.1", "task": "app", "port": "main",
                         "binding": {"base_url": "http://${self.app.main}/fhir"}})
        requires.append({"name": "db", "interface": "postgres", "version": ">=13, <17", "scope": "dedicated"})
        env["DB_URL"] = "jdbc:postgresql://${db.host}:${db.port}/${db.database}"
        env["DB_USER"] = "${db.user}"
        env["DB_PASSWORD"] = "${db.password}"
    elif kind == 2:  # a mail relay
        provides.append({"interface": "smtp", "version": "1.0.0", "task": "app", "port": "main",
                         "binding": {"host": "${self.app.main.host}", "port": "${self.app.main.port}"}})
    else:  # an application
        requires.append({"name": "ehr", "interface": "fhir", "version": "^4.0"})
        requires.append({"name": "mail", "interface": "smtp", "version": "*"})
        requires.append({"name": "sso", "interface": "oidc", "version": "*", "optional": True})
        env["FHIR_BASE"] = "${ehr.base_url}"
        env["SMTP_HOST"] = "${mail.host}"
        env["SMTP_PORT"] = "${mail.port}"
    env["DB_NAME"] = "${config.DB_NAME}"
    env["LOG_LEVEL"] = "info"
    image = f"registry.example/pub{pub}/service{s}:{version}@sha256:{hexdigest(s, v)}"
    doc = {
        "$schema": "../../../../../schemas/document.schema.json",
        "id": sid, "version": version, "name": f"Service {s}",
        "summary": f"Synthetic service {s} for the hsp check benchmark.",
        "description": "A generated document shaped like the example registry's.",
        "publisher": f"pub{pub}", "homepage": f"https://pub{pub}.example/service{s}",
        "license": ["Apache-2.0", "MIT", "GPL-3.0-or-later", "MIT OR Apache-2.0"][s % 4],
        "provides": provides, "requires": requires,
        "config": [
            {"name": "DB_NAME", "default": "app"},
            {"name": "DB_USER", "default": "app"},
            {"name": "DB_PASSWORD", "secret": True, "generate": True},
        ],
        "tasks": [
            {"name": "app", "image": image,
             "ports": [{"name": "main", "port": 8080}, {"name": "admin", "port": 9000}],
             "env": env, "memory_mib": 2048, "cpus": 1.0, "instances": {"min": 2, "max": 4},
             "health": {"http": {"port": "admin", "path": "/health"}, "start_period_s": 30},
             "volumes": [{"name": "data", "path": "/var/lib/app"}], "stop_timeout_s": 10},
            {"name": "worker", "image": image, "command": ["worker", "--queue", "default"],
             "env": {"LOG_LEVEL": "info"}, "memory_mib": 1024, "instances": {"min": 1, "max": 2}},
        ],
        "smoke_test": {"task": "app", "http": {"port": "main", "path": "/"}},
    }
    if s % 4 == 2:
        doc["artifacts"] = [{"platform": "linux-x86_64",
                             "url": f"https://pub{pub}.example/service{s}-{version}.tar.gz",
                             "sha256": hexdigest("artifact", s, v), "size": 10485760 + s,
                             "entrypoint": f"bin/service{s}"}]
        # On a host the replicas share the machine's ports: one port each (E052).
        for port in doc["tasks"][0]["ports"]:
            port["per_replica"] = True
    return f"publishers/pub{pub}/services/{sid}/{version}.json", doc


for s in range(services):
    for v in range(versions):
        write(*document(s, v))
print(f"wrote {services * versions} documents, {len(INTERFACES)} interfaces, {publishers} publishers to {out}")
