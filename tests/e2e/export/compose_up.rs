//! An exported Compose project brought up on the real dockerd: busybox images
//! built locally and pushed to the local registry (the plan names another
//! registry; `--registry` points the export at the mirror), secrets inline, a
//! dependency that must be healthy first, a generated secret that both sides must
//! agree on, replicas and memory limits. `docker compose up --wait` must report
//! every service healthy; then the test's own project is taken down.

use std::path::Path;
use std::process::Command;

use hsp_test_support::export::*;
use hsp_test_support::set_mode;
use serde_json::{json, Value as Json};

/// Tears down the test's own Compose project and image, whatever happens.
struct Project {
    dir: std::path::PathBuf,
    name: String,
    image: Option<String>,
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = docker_compose(&self.dir)
            .args(["-p", &self.name, "down", "-v", "--timeout", "1"])
            .output();
        if let Some(image) = &self.image {
            let _ = Command::new("docker").args(["rmi", image]).output();
        }
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker is installed (.ci/install)");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_string()
}

/// A busybox image pushed to the local registry; returns its repo digest.
fn push_busybox(tmp: &Path, repo: &str) -> String {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: run .ci/install (busybox-static)"
    );
    let registry = std::net::TcpStream::connect("127.0.0.1:5000");
    assert!(
        registry.is_ok(),
        "no OCI registry on 127.0.0.1:5000: run .ci/install"
    );
    let rootfs = tmp.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::create_dir_all(rootfs.join("tmp")).unwrap();
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "wget", "httpd", "printf", "mkdir", "echo", "test", "cat",
    ] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let tar_path = tmp.join("rootfs.tar");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar_path)
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success(), "tar of the busybox rootfs");
    let tag = format!("{repo}:1");
    docker(&[
        "import",
        "-c",
        "CMD [\"/bin/sh\"]",
        tar_path.to_str().unwrap(),
        &tag,
    ]);
    docker(&["push", "-q", &tag]);
    let digest = docker(&["inspect", "--format", "{{index .RepoDigests 0}}", &tag]);
    digest.split_once('@').expect("a repo digest").1.to_string()
}

fn plan(image: &str, token_file: &Path) -> Json {
    let text = |s: &str| json!({"text": s});
    let generated =
        json!({"secret": {"kind": "generated", "instance": "store", "name": "PASSWORD"}});
    let token = json!({"secret": {"kind": "file", "path": token_file}});
    json!({
        "environment": "live",
        "instances": [
            {
                "name": "store", "service": "org.example.store", "version": "1.0.0", "license": "MIT",
                "reason": "test", "dedicated_to": "web", "bindings": {}, "depends_on": [],
                "tasks": [{
                    "name": "main", "image": image,
                    "command": ["sh", "-c", "mkdir -p /data/www && printf %s \"$STORE_PASSWORD\" > /data/www/pw && echo ok > /data/www/livez && exec httpd -f -p 5432 -h /data/www"],
                    "ports": [{"name": "db", "port": 5432, "protocol": "tcp"}],
                    "env": {"STORE_PASSWORD": [generated]},
                    "memory_mib": 32, "instances": {"min": 1, "max": 1},
                    "health": {"http": {"port": "db", "path": "/livez"}, "interval_s": 1, "timeout_s": 2, "start_period_s": 0, "retries": 60},
                    "volumes": [{"name": "data", "path": "/data"}], "stop_timeout_s": 1, "artifacts": []
                }]
            },
            {
                "name": "web", "service": "org.example.web", "version": "2.0.0", "license": "MIT", "reason": "test",
                "bindings": {"db": {"interface": "store", "version": "1.0.0", "provider": {"kind": "instance", "name": "store"},
                                    "values": {"host": [text("store-main")], "password": [generated]}}},
                "depends_on": ["store"],
                "tasks": [{
                    "name": "app", "image": image,
                    "command": ["sh", "-c", "mkdir -p /tmp/www && echo ok > /tmp/www/livez && exec httpd -f -p 8080 -h /tmp/www"],
                    "ports": [{"name": "http", "port": 8080, "protocol": "http"}],
                    "env": {
                        "DB_URL": [text("http://web:"), generated, text("@store-main:5432/pw")],
                        "API_TOKEN": [token],
                        "GREETING": [text("hello $HOME 'single' \"double\" \\ back")]
                    },
                    "memory_mib": 48, "instances": {"min": 2, "max": 3},
                    // Healthy only when the provider answers by its DNS name with the
                    // same generated password this task got inside its URL.
                    "health": {"command": ["sh", "-c", "pw=$(wget -q -O - http://store-main:5432/pw) && test -n \"$pw\" && test \"$DB_URL\" = \"http://web:$pw@store-main:5432/pw\""],
                               "interval_s": 1, "timeout_s": 2, "start_period_s": 0, "retries": 60},
                    "volumes": [], "stop_timeout_s": 1, "artifacts": []
                }]
            }
        ],
        "externals": []
    })
}

#[test]
fn exported_compose_project_comes_up_healthy_on_docker() {
    let tmp = tempfile::tempdir().unwrap();
    let unique = format!(
        "{}-{}",
        std::process::id(),
        tmp.path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
    );
    let unique: String = unique
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let repo = format!("127.0.0.1:5000/hsp-export-test/busybox-{unique}");
    let mut project = Project {
        dir: tmp.path().join("compose"),
        name: format!("hsp-export-test-{unique}"),
        image: None,
    };
    let digest = push_busybox(tmp.path(), &repo);
    project.image = Some(format!("{repo}:1"));

    let token_file = tmp.path().join("api-token");
    let token = format!("t$k\"n\\'x-{unique}");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    set_mode(&token_file, 0o600);
    // The plan names the upstream registry; the export points at the mirror.
    let image = format!("registry.example/hsp-export-test/busybox-{unique}:1@{digest}");
    let plan_path = tmp.path().join("plan.json");
    std::fs::write(
        &plan_path,
        serde_json::to_vec_pretty(&plan(&image, &token_file)).unwrap(),
    )
    .unwrap();
    export(
        &plan_path,
        &[
            "--format",
            "compose",
            "--inline-secrets",
            "--image-registry",
            "127.0.0.1:5000",
        ],
        &project.dir,
    )
    .success();

    let compose = std::fs::read_to_string(project.dir.join("compose.yaml")).unwrap();
    assert!(
        compose.contains(&format!(
            "image: 127.0.0.1:5000/hsp-export-test/busybox-{unique}:1@{digest}"
        )),
        "{compose}"
    );
    assert!(
        !compose.contains("t$k"),
        "secret values stay out of compose.yaml"
    );

    let up = docker_compose(&project.dir)
        .args([
            "-p",
            &project.name,
            "up",
            "-d",
            "--wait",
            "--wait-timeout",
            "120",
        ])
        .output()
        .unwrap();
    let ps = docker_compose(&project.dir)
        .args(["-p", &project.name, "ps", "-a"])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "docker compose up --wait:\n{}\n{}",
        text(&up.stderr),
        text(&ps.stdout)
    );

    let ps = docker_compose(&project.dir)
        .args(["-p", &project.name, "ps", "--format", "json"])
        .output()
        .unwrap();
    let containers: Vec<Json> = text(&ps.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let services: Vec<&str> = containers
        .iter()
        .map(|c| c["Service"].as_str().unwrap())
        .collect();
    assert_eq!(
        services.iter().filter(|s| **s == "web-app").count(),
        2,
        "replicas = minimum instances: {services:?}"
    );
    assert_eq!(services.iter().filter(|s| **s == "store-main").count(), 1);
    for c in &containers {
        assert_eq!(c["Health"], "healthy", "{c}");
        let memory = docker(&[
            "inspect",
            "--format",
            "{{.HostConfig.Memory}}",
            c["Name"].as_str().unwrap(),
        ]);
        let want = if c["Service"] == "web-app" { 48 } else { 32 } * 1024 * 1024;
        assert_eq!(memory, want.to_string(), "memory limit of {}", c["Name"]);
    }
    // Secret and plain values arrive byte for byte, `$`, quotes and backslashes included.
    let env = |name: &str| {
        let out = docker_compose(&project.dir)
            .args([
                "-p",
                &project.name,
                "exec",
                "-T",
                "web-app",
                "sh",
                "-c",
                &format!("printf %s \"${name}\""),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(env("API_TOKEN"), token);
    assert_eq!(env("GREETING"), "hello $HOME 'single' \"double\" \\ back");
    drop(project);
}
