//! The example registry and environments checked with real tools: an independent
//! JSON Schema validator (python-jsonschema) and the real planner (`hsp-agent plan`).

use std::collections::BTreeSet;

use hsp_index::Environment;
use hsp_test_support::examples::{json_files, load, name_of, parse, registry_root};

/// An independent validator (python-jsonschema, installed with kubernetes-validate
/// by `.ci/install`) accepts every example against the schema its `$schema` names,
/// so editors that validate with the committed schemas show no false errors.
#[test]
fn committed_schemas_accept_every_example_in_an_independent_validator() {
    let python = hsp_test_support::tool(".venv/bin/python");
    let script = r#"
import json, os, sys
from jsonschema import Draft7Validator
bad = 0
count = 0
for top in sys.argv[1:]:
    for dirpath, _, files in os.walk(top):
        for f in sorted(files):
            if not f.endswith(".json"):
                continue
            path = os.path.join(dirpath, f)
            doc = json.load(open(path))
            schema = json.load(open(os.path.join(dirpath, doc["$schema"])))
            for e in Draft7Validator(schema).iter_errors(doc):
                bad += 1
                print(f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
            count += 1
print(f"checked {count}")
sys.exit(1 if bad else 0)
"#;
    let examples = hsp_test_support::root().join("examples");
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(examples.join("registry"))
        .arg(examples.join("environments"))
        .output()
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked: usize = stdout
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    let expected =
        json_files(&registry_root()).len() + json_files(&examples.join("environments")).len();
    assert_eq!(checked, expected, "{stdout}");
}

/// Every example environment resolves with the real planner (`hsp-agent plan
/// --registry`), with throwaway secret files in place of the ones sites create;
/// every wanted service becomes an instance and no requirement stays open.
#[test]
fn example_environments_resolve_with_the_real_planner() {
    use std::os::unix::fs::PermissionsExt;
    let agent = hsp_test_support::bin("hsp-agent");
    for path in json_files(&hsp_test_support::root().join("examples/environments")) {
        let at = path.display().to_string();
        let env: Environment = parse(&path);
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join(name_of(&path));
        std::fs::copy(&path, &copy).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in text.split("\"secret_file\": \"").skip(1) {
            let rel = secret.split('"').next().unwrap();
            let file = dir.path().join(rel);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, "example-secret\n").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let out = std::process::Command::new(&agent)
            .arg("plan")
            .arg(&copy)
            .arg("--registry")
            .arg(registry_root())
            .arg("--state")
            .arg(dir.path().join("state"))
            .arg("--json")
            .output()
            .expect("running hsp-agent");
        assert!(
            out.status.success(),
            "{at}: plan failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let plan: hsp_index::Plan =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{at}: plan JSON: {e}"));
        assert_eq!(plan.environment, env.name, "{at}");
        let names: BTreeSet<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
        for w in &env.services {
            let name = w
                .name
                .as_deref()
                .expect("example environments name their instances");
            let inst = plan.instances.iter().find(|i| i.name == name);
            let inst = inst.unwrap_or_else(|| panic!("{at}: no instance {name}: {names:?}"));
            assert_eq!(inst.service, w.id, "{at}");
        }
        let reg = load();
        for inst in &plan.instances {
            let doc = reg
                .versions(&inst.service)
                .into_iter()
                .find(|d| d.version == inst.version)
                .unwrap_or_else(|| {
                    panic!(
                        "{at}: {} {} is not in the registry",
                        inst.service, inst.version
                    )
                });
            assert!(doc.yanked.is_none(), "{at}: planned a yanked version");
            for r in doc.requires.iter().filter(|r| !r.optional) {
                assert!(
                    inst.bindings.contains_key(&r.name),
                    "{at}: {}'s requirement `{}` is not bound",
                    inst.name,
                    r.name
                );
            }
        }
    }
}
