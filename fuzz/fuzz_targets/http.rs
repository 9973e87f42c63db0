//! The index fetcher on any HTTP response: a local server answers every
//! request with the fuzzer's bytes and closes, and the agent's fetcher (its
//! redirect rules, size cap and timeouts) reads it. No panic, no hang (short
//! timeouts here), never more than the cap.
//!
//! ureq 2 panics on some malformed headers; `client::http` catches those
//! panics and returns an error, so here a panic located in ureq is let
//! through (libFuzzer's hook would abort on it) and any other still aborts.
//!
//! Inputs holding `//` are skipped: an absolute redirect would leave this
//! machine (a DNS lookup has no timeout); redirects to other hosts and schemes
//! are covered by the unit tests of `hsp_tuf::client::http`.
#![no_main]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use hsp_tuf::client::fetch::{Fetch, Fetched, HttpFetcher};
use hsp_tuf::client::http::{Http, Timeouts};
use libfuzzer_sys::fuzz_target;

const LIMIT: u64 = 4096;

static RESPONSE: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The server's port; started on first use.
fn server() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
                // Read the request head, then answer and close.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = RESPONSE.lock().unwrap().clone();
                let _ = conn.write_all(&body);
            }
        });
        port
    })
}

/// Panics inside ureq are caught by `Http`: do not abort on them.
fn let_ureq_panics_unwind() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.location().is_some_and(|l| l.file().contains("/ureq-")) {
                abort(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_ureq_panics_unwind();
    if data.windows(2).any(|w| w == b"//") {
        return;
    }
    let port = server();
    *RESPONSE.lock().unwrap() = data.to_vec();
    let http = Http::new(Timeouts {
        connect: Duration::from_millis(500),
        stall: Duration::from_millis(500),
        overall: Duration::from_secs(2),
        redirects: 3,
    });
    let fetcher = HttpFetcher::with(&format!("http://127.0.0.1:{port}/"), http);
    if let Ok(Fetched::Body(bytes, _)) = fetcher.fetch("timestamp.json", LIMIT, None) {
        assert!(bytes.len() as u64 <= LIMIT, "{} bytes over the cap", bytes.len());
    }
});
