//! The OCI test tools themselves: a throwaway registry, hand-made multi-arch
//! images and the stalling proxy (they need what .ci/install provides).

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use hsp_test_support::oci::*;

const FIXTURE: &str = "svc";

#[test]
fn a_registry_starts_answers_and_stops() {
    let mut r = Registry::start();
    let v2 = r.request("GET", "/v2/", &[]).unwrap();
    assert_eq!(v2.status, 200, "{}", r.log());
    let host = r.host();
    r.stop();
    r.stop();
    assert!(
        request(&host, "GET", "/v2/", &[]).is_err(),
        "still answering"
    );
}

#[test]
fn basic_auth_is_required_when_configured() {
    let r = Registry::start_with_auth("isv", "s3cret");
    let anonymous = request(&r.host(), "GET", "/v2/", &[]).unwrap();
    assert_eq!(anonymous.status, 401);
    assert_eq!(r.request("GET", "/v2/", &[]).unwrap().status, 200);
    let image = push_single_arch(&r, "auth/app", "1", FIXTURE, Filler::default());
    assert_eq!(
        r.manifest_digest("auth/app", "1").as_deref(),
        Some(image.digest.as_str())
    );
}

#[test]
fn multi_arch_images_keep_their_digests_and_run() {
    let r = Registry::start();
    let image = push_multi_arch(&r, "multi/app", "1.0", FIXTURE);
    assert_eq!(
        r.manifest_digest("multi/app", "1.0").as_deref(),
        Some(image.index_digest.as_str())
    );
    let index = r
        .request(
            "GET",
            &format!("/v2/multi/app/manifests/{}", image.index_digest),
            &[("Accept", OCI_INDEX)],
        )
        .unwrap();
    assert_eq!(sha256(&index.body), image.index_digest);
    let text = String::from_utf8_lossy(&index.body);
    for d in [&image.amd64_digest, &image.arm64_digest] {
        assert!(text.contains(d.as_str()), "{d} not in {text}");
    }
    for blob in &image.blobs {
        assert!(r.has_blob("multi/app", blob), "{blob} missing");
    }
    // The engine pulls it by digest over plain HTTP (loopback) and runs it.
    let reference = image.reference();
    let pull = std::process::Command::new("docker")
        .args(["pull", "-q", &reference])
        .output()
        .unwrap();
    assert!(pull.status.success(), "{pull:?}");
    let run = std::process::Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "/bin/busybox",
        ])
        .args([&reference, "true"])
        .status()
        .unwrap();
    let _ = std::process::Command::new("docker")
        .args(["rmi", &reference])
        .output();
    assert!(run.success());
}

#[test]
fn a_corrupted_blob_is_served_with_other_bytes() {
    let r = Registry::start();
    let image = push_single_arch(&r, "bad/app", "1", FIXTURE, Filler::default());
    r.corrupt_blob(&image.layer);
    let got = r
        .request("GET", &format!("/v2/bad/app/blobs/{}", image.layer), &[])
        .unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.body.len() as u64, image.layer_size);
    assert_ne!(sha256(&got.body), image.layer);
}

#[test]
fn the_proxy_stalls_a_blob_at_n_bytes_then_lets_it_finish() {
    let r = Registry::start();
    let filler = Filler {
        bytes: 1 << 20,
        seed: 7,
    };
    let image = push_single_arch(&r, "big/app", "1", FIXTURE, filler);
    let proxy = CutProxy::start(&r.host());
    proxy.set_mode(Mode::StallBlobAfter(1000));
    let path = format!("/v2/big/app/blobs/{}", image.layer);
    let mut conn = TcpStream::connect(proxy.host()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    std::io::Write::write_all(
        &mut conn,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    proxy.wait_blob_bytes(&image.layer, 1000, Duration::from_secs(20));
    assert_eq!(proxy.blob_bytes_sent(&image.layer), 1000);
    proxy.set_mode(Mode::Pass);
    let mut all = Vec::new();
    conn.read_to_end(&mut all).unwrap();
    let body_at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(sha256(&all[body_at..]), image.layer);
    // A range request passes through and is recorded.
    let part = request(&proxy.host(), "GET", &path, &[("Range", "bytes=10-19")]).unwrap();
    assert_eq!((part.status, part.body.len()), (206, 10));
    assert!(proxy
        .requests()
        .iter()
        .any(|s| s.range.as_deref() == Some("bytes=10-19")));
}
