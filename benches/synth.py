"""A synthetic registry for the index benchmark: P publishers x S services x V
versions of ~2 KB documents, derived from the example registry's Mailpit
document so that every `hsp check` rule passes.

usage: synth.py OUT --keys KEYDIR [--publishers 200] [--services 50] [--versions 10]

KEYDIR holds bench<P>.key.pub files (from `hsp keygen`), whose public keys go
into the publisher records. Signing is left to `hsp sign`.
"""

import argparse
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "registry")
TEMPLATE = os.path.join(
    EXAMPLE, "publishers", "axllent", "services", "org.axllent.mailpit", "1.25.0.json"
)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--keys", required=True)
    p.add_argument("--publishers", type=int, default=200)
    p.add_argument("--services", type=int, default=50)
    p.add_argument("--versions", type=int, default=10)
    a = p.parse_args()

    os.makedirs(a.out)
    config = json.load(open(os.path.join(EXAMPLE, "registry.json")))
    config.pop("$schema", None)
    config["name"] = "bench"
    json.dump(config, open(os.path.join(a.out, "registry.json"), "w"), indent=2)
    shutil.copytree(os.path.join(EXAMPLE, "interfaces"), os.path.join(a.out, "interfaces"))

    template = json.load(open(TEMPLATE))
    template.pop("$schema", None)
    template["description"] = template["description"][:200]
    template.pop("artifacts", None)
    for pi in range(a.publishers):
        name = f"bench{pi}"
        ns = f"com.bench{pi}"
        pdir = os.path.join(a.out, "publishers", name)
        key = json.load(open(os.path.join(a.keys, f"{name}.key.pub")))
        record = {
            "name": name,
            "title": f"Bench Publisher {pi}",
            "namespaces": [ns],
            "keys": [key],
            "threshold": 1,
        }
        os.makedirs(pdir)
        json.dump(record, open(os.path.join(pdir, "publisher.json"), "w"), indent=2)
        for si in range(a.services):
            sid = f"{ns}.svc{si}"
            sdir = os.path.join(pdir, "services", sid)
            os.makedirs(sdir)
            for vi in range(a.versions):
                doc = dict(template)
                doc["id"] = sid
                doc["version"] = f"1.{vi}.0"
                doc["name"] = f"Service {si} of publisher {pi}"
                doc["publisher"] = name
                doc["release_notes"] = f"Release 1.{vi}.0 of {sid}."
                with open(os.path.join(sdir, f"1.{vi}.0.json"), "w") as f:
                    json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
