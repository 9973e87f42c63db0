//! The agent's one way to GET over HTTP(S): the index, mirrors and host
//! artifacts all come through [`Http::get`].
//!
//! Redirects are followed here, not by ureq (whose redirect handling panics
//! on a `Location` it cannot parse as HTTP, e.g. `file:///etc/passwd`): at
//! most [`Timeouts::redirects`], each to an `http://` or `https://` URL, so a
//! hostile server can neither crash the agent nor point it at a local file.
//!
//! No panic gets out: ureq 2 panics on some malformed response headers (a
//! header line without a colon, found by `fuzz/fuzz_targets/http.rs`), so every
//! call into it runs under `catch_unwind`, the response is copied into
//! [`Response`] (status, headers) and its body read through a reader that
//! turns a panic into an I/O error. (The panic message still reaches stderr
//! through the panic hook; the caller sees an error.)
//!
//! Every request is bounded in time: [`Timeouts::connect`] to connect,
//! [`Timeouts::stall`] for each read (a server that stops sending fails after
//! it), and [`Deadline`] for the whole body (a server that trickles bytes
//! just fast enough fails after it). ureq's own overall timeout is not used:
//! it replaces the per-read one, so one stall would hold the agent for the
//! whole overall time.

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Time and redirect limits of one [`Http`].
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    /// The longest wait for the next bytes (first byte included).
    pub stall: Duration,
    /// The longest a whole response may take, headers to last byte.
    pub overall: Duration,
    /// Redirects followed at most.
    pub redirects: u32,
}

/// Environment variables overriding [`Timeouts::default`], in whole seconds:
/// for a site whose links are slower (or tests that cannot wait 30 s).
pub const TIMEOUT_VARS: [&str; 3] = [
    "HSP_CONNECT_TIMEOUT_S",
    "HSP_STALL_TIMEOUT_S",
    "HSP_OVERALL_TIMEOUT_S",
];

impl Default for Timeouts {
    /// 10 s to connect, 30 s without a byte, 5 minutes in all, 5 redirects;
    /// each time overridden by its [`TIMEOUT_VARS`] environment variable.
    fn default() -> Timeouts {
        Timeouts::with_overrides(|name| std::env::var(name).ok())
    }
}

impl Timeouts {
    /// The defaults, each time overridden by `var(name)` of its
    /// [`TIMEOUT_VARS`] name when that is a whole number of seconds from 1 to
    /// 86400 (another value is ignored, with a warning).
    pub fn with_overrides(var: impl Fn(&str) -> Option<String>) -> Timeouts {
        let secs = |name: &str, default: u64| {
            let Some(v) = var(name) else {
                return Duration::from_secs(default);
            };
            match v.trim().parse::<u64>() {
                Ok(s @ 1..=86_400) => Duration::from_secs(s),
                _ => {
                    tracing::warn!(
                        "{name}={v:?} is not a number of seconds from 1 to 86400; using {default}"
                    );
                    Duration::from_secs(default)
                }
            }
        };
        Timeouts {
            connect: secs(TIMEOUT_VARS[0], 10),
            stall: secs(TIMEOUT_VARS[1], 30),
            overall: secs(TIMEOUT_VARS[2], 300),
            redirects: 5,
        }
    }
}

/// Why a GET failed before its body was read.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("redirected to {location:?}: {reason}")]
    Redirect {
        location: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Transport(Box<ureq::Error>),
    #[error("malformed response: {0}")]
    Malformed(String),
}

/// A response whose head was read: the status, the headers, the body.
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Box<dyn Read + Send>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body (read errors include a stall and a panic inside ureq).
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        self.body
    }

    /// Copies what the agent reads of a ureq response; a panic while doing so
    /// is the caller's to catch.
    fn from_ureq(resp: ureq::Response) -> Response {
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|name| {
                let value = resp.header(&name)?.to_string();
                Some((name, value))
            })
            .collect();
        Response {
            status: resp.status(),
            headers,
            body: Box::new(NoPanic(resp.into_reader())),
        }
    }
}

/// A panic payload as text.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic inside the HTTP client".into())
}

/// A reader whose panics become I/O errors.
struct NoPanic<R>(R);

impl<R: Read> Read for NoPanic<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        catch_unwind(AssertUnwindSafe(|| self.0.read(buf))).unwrap_or_else(|p| {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("malformed response body: {}", panic_text(p.as_ref())),
            ))
        })
    }
}

/// An HTTP(S) client with [`Timeouts`].
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    timeouts: Timeouts,
}

impl Default for Http {
    fn default() -> Http {
        Http::new(Timeouts::default())
    }
}

impl Http {
    pub fn new(timeouts: Timeouts) -> Http {
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout_connect(timeouts.connect)
            .timeout_read(timeouts.stall)
            .timeout_write(timeouts.stall)
            .user_agent(concat!("hsp-agent/", env!("CARGO_PKG_VERSION")))
            .build();
        Http { agent, timeouts }
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// GETs `url` with `headers`, following redirects as the module says.
    /// Any status but 2xx and 304 is [`GetError::Status`].
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Response, GetError> {
        let mut url = url.to_string();
        for _ in 0..=self.timeouts.redirects {
            let call = catch_unwind(AssertUnwindSafe(|| {
                let mut req = self.agent.get(&url);
                for (k, v) in headers {
                    req = req.set(k, v);
                }
                match req.call() {
                    Ok(r) => Ok(Response::from_ureq(r)),
                    Err(ureq::Error::Status(status, _)) => Err(GetError::Status(status)),
                    Err(e) => Err(GetError::Transport(Box::new(e))),
                }
            }));
            let resp = call.unwrap_or_else(|p| Err(GetError::Malformed(panic_text(p.as_ref()))))?;
            match resp.status() {
                301 | 302 | 303 | 307 | 308 => {
                    let location = resp.header("Location").unwrap_or("").to_string();
                    url = redirect_target(&url, &location)
                        .map_err(|reason| GetError::Redirect { location, reason })?;
                }
                200..=299 | 304 => return Ok(resp),
                status => return Err(GetError::Status(status)),
            }
        }
        Err(GetError::Redirect {
            location: url,
            reason: "too many redirects",
        })
    }
}

/// Where a redirect from `from` to `location` goes: an absolute `http(s)` URL,
/// or a path on the same origin. Anything else (`file:`, `ftp:`, `data:`, no
/// location) is refused.
fn redirect_target(from: &str, location: &str) -> Result<String, &'static str> {
    let location = location.trim();
    if location.is_empty() {
        return Err("a redirect without a location");
    }
    if location.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("the location holds spaces or control characters");
    }
    let (scheme, rest) = from.split_once("://").ok_or("not an http(s) URL")?;
    let origin_end = rest.find('/').unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..origin_end]);
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(location.to_string())
    } else if let Some(rest) = location.strip_prefix("//") {
        Ok(format!("{scheme}://{rest}"))
    } else if location.starts_with('/') {
        Ok(format!("{origin}{location}"))
    } else if lower
        .split_once(':')
        .is_some_and(|(s, _)| !s.contains('/') && !s.contains('?'))
    {
        Err("only http:// and https:// redirects are followed")
    } else {
        // Relative to the current path's folder.
        let path = &rest[origin_end..];
        let path = path.split(['?', '#']).next().unwrap_or("");
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        Ok(format!("{origin}{dir}/{location}"))
    }
}

/// A reader that fails with `TimedOut` once its deadline has passed: the
/// overall bound on a body (each read is already bounded by the stall
/// timeout, so the deadline is overshot by at most one stall).
pub struct Deadline<R> {
    inner: R,
    until: Instant,
}

impl<R: Read> Deadline<R> {
    pub fn new(inner: R, within: Duration) -> Deadline<R> {
        Deadline {
            inner,
            until: Instant::now() + within,
        }
    }
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if Instant::now() > self.until {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the response took longer than allowed in all",
            ));
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn timeouts_are_overridden_by_their_variables_within_bounds() {
        let with = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Timeouts::with_overrides(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
        };
        let d = with(&[]);
        assert_eq!(
            (d.connect, d.stall, d.overall),
            (
                Duration::from_secs(10),
                Duration::from_secs(30),
                Duration::from_secs(300)
            )
        );
        let t = with(&[
            ("HSP_CONNECT_TIMEOUT_S", "3"),
            ("HSP_STALL_TIMEOUT_S", " 2 "),
            ("HSP_OVERALL_TIMEOUT_S", "600"),
        ]);
        assert_eq!(
            (t.connect, t.stall, t.overall),
            (
                Duration::from_secs(3),
                Duration::from_secs(2),
                Duration::from_secs(600)
            )
        );
        // Zero, too large, not a number: the default stays.
        for bad in ["0", "86401", "-1", "2s", ""] {
            assert_eq!(
                with(&[("HSP_STALL_TIMEOUT_S", bad)]).stall,
                Duration::from_secs(30),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn redirect_targets() {
        let from = "http://mirror.site:8080/index/metadata/timestamp.json?x=1";
        for (location, want) in [
            (
                "https://cdn.example/t.json",
                Ok("https://cdn.example/t.json"),
            ),
            ("HTTP://cdn.example/t.json", Ok("HTTP://cdn.example/t.json")),
            ("//cdn.example/t.json", Ok("http://cdn.example/t.json")),
            ("/other/t.json", Ok("http://mirror.site:8080/other/t.json")),
            (
                "t2.json",
                Ok("http://mirror.site:8080/index/metadata/t2.json"),
            ),
            ("file:///etc/passwd", Err(())),
            ("FILE:/etc/passwd", Err(())),
            ("ftp://example.org/x", Err(())),
            ("data:text/plain,hi", Err(())),
            ("", Err(())),
            ("http://a/\nb", Err(())),
        ] {
            let got = redirect_target(from, location);
            assert_eq!(got.as_deref().map_err(|_| ()), want, "{location:?}");
        }
    }

    /// A server answering each connection with the next of `replies`
    /// (whatever the request), then closing.
    fn serve(replies: Vec<Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for reply in replies {
                let Ok((mut s, _)) = listener.accept() else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(&reply);
            }
        });
        url
    }

    fn redirect(to: &str) -> Vec<u8> {
        format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n").into_bytes()
    }

    fn ok(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn quick() -> Http {
        Http::new(Timeouts {
            connect: Duration::from_secs(5),
            stall: Duration::from_millis(500),
            overall: Duration::from_secs(2),
            redirects: 2,
        })
    }

    #[test]
    fn redirects_to_http_are_followed_and_others_refused_without_panic() {
        let url = serve(vec![redirect("/b"), redirect("c"), ok("hello")]);
        let mut body = String::new();
        quick()
            .get(&format!("{url}/a"), &[])
            .unwrap()
            .into_reader()
            .read_to_string(&mut body)
            .unwrap();
        assert_eq!(body, "hello");

        for to in ["file:///etc/passwd", "file:/dev/zero", "gopher://x/"] {
            let url = serve(vec![redirect(to)]);
            match quick().get(&url, &[]) {
                Err(GetError::Redirect { location, .. }) => assert_eq!(location, to),
                other => panic!("{to}: {:?}", other.map(|r| r.status())),
            }
        }
        let loop_url = serve(vec![redirect("/1"), redirect("/2"), redirect("/3")]);
        assert!(matches!(
            quick().get(&loop_url, &[]),
            Err(GetError::Redirect {
                reason: "too many redirects",
                ..
            })
        ));
    }

    #[test]
    fn a_header_that_panics_ureq_is_an_error() {
        // Found by fuzz/fuzz_targets/http.rs: ureq 2.12 slices past the end of
        // a header line that has no colon before its line feed.
        let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding\n\0\0\0\0\0\0\0: chunked\r\n\r\n\
                      5\r\nhello\r\nffffffff\r\nxx"
            .to_vec();
        let url = serve(vec![reply]);
        let got = quick().get(&url, &[]);
        match got {
            Err(GetError::Malformed(why)) => assert!(!why.is_empty()),
            Err(other) => panic!("not reported as malformed: {other}"),
            Ok(r) => {
                // A later ureq may parse it: then reading must not panic either.
                let mut body = Vec::new();
                let _ = r.into_reader().read_to_end(&mut body);
            }
        }
    }

    #[test]
    fn a_stalled_or_trickling_body_times_out() {
        // Headers, a few bytes, then silence: the stall timeout.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for trickle in [false, true] {
                let (mut s, _) = listener.accept().unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf);
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nabc");
                    let pause = Duration::from_millis(if trickle { 200 } else { 1000 });
                    for _ in 0..30 {
                        std::thread::sleep(pause);
                        if s.write_all(b"x").is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let http = quick();
        for what in ["stall", "trickle"] {
            let started = Instant::now();
            let resp = http.get(&url, &[]).unwrap();
            let mut reader = Deadline::new(resp.into_reader(), http.timeouts().overall);
            let err = std::io::copy(&mut reader, &mut std::io::sink()).unwrap_err();
            let took = started.elapsed();
            assert!(took < Duration::from_secs(4), "{what}: {took:?} ({err})");
        }
    }
}
