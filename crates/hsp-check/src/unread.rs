//! Files the loader found but did not read, and why: each one is a finding
//! at `1:1` of its path, never an abort (the loader does the I/O and hands
//! these over in [`RepoInput::unread`](crate::RepoInput::unread)).
//!
//! The rules, the same in `hsp check` and `hsp build`:
//! - a file name must be UTF-8 without control characters (a newline in a
//!   name would split a line of output, a log or the build cache): `E081`,
//!   shown with the bad bytes escaped (`a\nb.json`, `caf\xe9.json`);
//! - a symbolic link is never followed, whether named on the command line or
//!   met in a folder (a link could publish a file from outside the registry):
//!   `E082`; so is a FIFO, device or socket, which is never opened (reading
//!   one would block or never end);
//! - a file is at most [`MAX_FILE_BYTES`], read with that cap: `E083`.

use super::{Code, Diagnostic, Finding, Position};

/// The largest registry file (document, interface, publisher record,
/// registry config) that is read. Real documents are a few kilobytes.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// Why a file was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unread {
    /// Its name is not UTF-8 or holds a control character.
    Name,
    /// A symbolic link, not followed.
    Link,
    /// Not a regular file: what it is, e.g. `a FIFO`.
    NotFile(&'static str),
    /// Larger than [`MAX_FILE_BYTES`] (`len` is what was seen, at least the
    /// limit plus one).
    TooLarge { len: u64 },
}

impl Unread {
    /// The finding for the file at `path` (as shown: see [`path_text`]).
    pub fn diagnostic(&self, path: &str) -> Diagnostic {
        let f = match self {
            Unread::Name => Finding::new(
                Code::FileName,
                "",
                "the file name is not UTF-8 or holds a control character; the file is not read",
            )
            .hint("rename it to plain text, e.g. `<version>.json`"),
            Unread::Link => Finding::new(
                Code::FileKind,
                "",
                "is a symbolic link; hsp does not follow symbolic links in a registry, so it is not read",
            )
            .hint("put the file itself here (`cp --remove-destination \"$(readlink -f PATH)\" PATH`)"),
            Unread::NotFile(what) => Finding::new(
                Code::FileKind,
                "",
                format!("is {what}, not a regular file; it is not opened"),
            )
            .hint("registry files and documents are regular files"),
            Unread::TooLarge { len } => Finding::new(
                Code::FileSize,
                "",
                format!(
                    "is {} bytes or more, above the limit of {MAX_FILE_BYTES} bytes; it is not read",
                    len
                ),
            )
            .hint("a conformance document is a few kilobytes; is this the right file?"),
        };
        let mut f = f;
        f.position = Some(Position { line: 1, column: 1 });
        f.resolve(path, b"")
    }
}

/// A path's bytes as text: `Ok` when it is UTF-8 without control
/// characters, otherwise `Err` with the bad bytes escaped (`\n`, `\t`,
/// `\x1b`, `\xe9`), for showing only.
pub fn path_text(bytes: &[u8]) -> Result<&str, String> {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => Ok(s),
        _ => {
            let mut out = String::new();
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
                        c => out.push(c),
                    }
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            Err(out)
        }
    }
}

/// What a file type is, in a finding (`a FIFO`).
pub fn kind_name(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_dir() {
        "a folder"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_shown_escaped() {
        for (bytes, want) in [
            (&b"ok/1.0.0.json"[..], Ok("ok/1.0.0.json")),
            (b"a\nb.json", Err("a\\nb.json".to_string())),
            (b"caf\xe9.json", Err("caf\\xe9.json".to_string())),
            (b"x\x1b[2J.json", Err("x\\u{1b}[2J.json".to_string())),
        ] {
            assert_eq!(path_text(bytes), want.as_deref().map_err(|e| e.to_string()));
        }
    }

    #[test]
    fn each_reason_has_its_code_at_the_start_of_the_file() {
        for (why, code) in [
            (Unread::Name, Code::FileName),
            (Unread::Link, Code::FileKind),
            (Unread::NotFile("a FIFO"), Code::FileKind),
            (
                Unread::TooLarge {
                    len: MAX_FILE_BYTES + 1,
                },
                Code::FileSize,
            ),
        ] {
            let d = why.diagnostic("p/x.json");
            assert_eq!((d.code, d.line, d.column), (code, 1, 1), "{why:?}");
            assert!(d.hint.is_some());
        }
        let fifo = Unread::NotFile("a FIFO").diagnostic("p/x.json").to_string();
        assert!(
            fifo.starts_with("p/x.json:1:1: error[E082]: is a FIFO, not a regular file"),
            "{fifo}"
        );
    }
}
