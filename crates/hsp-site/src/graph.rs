//! The dependency graph of a version page, drawn at build time as inline SVG
//! (no JavaScript, no graphviz): the version on the left, its requirements in the
//! middle, and the services of the index that can provide each on the right.
//! Every node is a link; the `<title>` and `<desc>` say in words what it shows.

use std::borrow::Cow;
use std::fmt::Write;

use crate::catalogue::Catalogue;
use crate::paths;

/// Providers drawn per requirement; the rest are summed up in a "more" node
/// linking to the interface page.
pub const MAX_PROVIDERS: usize = 4;

const NODE_W: u32 = 240;
const NODE_H: u32 = 44;
const PITCH: u32 = 56;
const COLS: [u32; 3] = [8, 318, 628];
const WIDTH: u32 = 876;
const PAD: u32 = 8;
/// Characters that fit in a node at the font size used.
const MAX_CHARS: usize = 31;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Root,
    Requirement,
    Optional,
    Provider,
    Missing,
    More,
}

struct Node {
    kind: Kind,
    title: String,
    sub: String,
    href: Option<String>,
    y: u32,
}

/// SVG of version `v` of service `s`; `root` is the relative path to the site root.
pub fn svg(cat: &Catalogue, s: usize, v: usize, root: &str) -> String {
    let doc = cat.services[s].versions[v].doc;
    let mut right: Vec<Node> = Vec::new();
    let mut middle: Vec<Node> = Vec::new();
    let mut edges: Vec<(u32, u32, bool)> = Vec::new(); // (middle index, right index, dashed)
    let mut desc = format!("{} {}", doc.name, doc.version);
    if doc.requires.is_empty() {
        desc.push_str(" requires no other service.");
    } else {
        desc.push_str(" requires: ");
    }
    let mut row = 0u32;
    for (ri, r) in doc.requires.iter().enumerate() {
        let providers = cat.providers(r);
        let shown = providers.len().min(MAX_PROVIDERS);
        let extra = providers.len() - shown;
        let rows = (shown + usize::from(extra > 0)).max(1) as u32;
        let iface_href = cat
            .interface(&r.interface)
            .map(|_| format!("{root}{}", paths::interface_path(&r.interface)));
        let mut sentence = format!(
            "{} ({} {}{})",
            r.name,
            r.interface,
            r.version,
            if r.optional { ", optional" } else { "" }
        );
        let first_right = right.len();
        for (k, &(ps, pv)) in providers.iter().take(shown).enumerate() {
            let pdoc = cat.services[ps].versions[pv].doc;
            right.push(Node {
                kind: Kind::Provider,
                title: pdoc.name.clone(),
                sub: format!("{} {}", pdoc.id, pdoc.version),
                href: Some(format!(
                    "{root}{}",
                    paths::version_path(&pdoc.id, &pdoc.version)
                )),
                y: row + k as u32,
            });
        }
        if extra > 0 {
            right.push(Node {
                kind: Kind::More,
                title: format!("{extra} more provider{}", if extra == 1 { "" } else { "s" }),
                sub: format!("see interface {}", r.interface),
                href: iface_href.clone(),
                y: row + shown as u32,
            });
        }
        if providers.is_empty() {
            right.push(Node {
                kind: Kind::Missing,
                title: "No provider in this index".into(),
                sub: "an external service can provide it".into(),
                href: None,
                y: row,
            });
            sentence.push_str(" which no service of this index provides; an external service can");
        } else {
            let names: Vec<String> = providers
                .iter()
                .take(shown)
                .map(|&(ps, pv)| {
                    let d = cat.services[ps].versions[pv].doc;
                    format!("{} {}", d.name, d.version)
                })
                .collect();
            let _ = write!(sentence, " provided by {}", names.join(", "));
            if extra > 0 {
                let _ = write!(sentence, " and {extra} more");
            }
        }
        desc.push_str(&sentence);
        desc.push_str(if ri + 1 == doc.requires.len() {
            "."
        } else {
            "; "
        });
        for k in first_right..right.len() {
            edges.push((ri as u32, k as u32, r.optional));
        }
        middle.push(Node {
            kind: if r.optional {
                Kind::Optional
            } else {
                Kind::Requirement
            },
            title: format!("{}: {}", r.name, r.interface),
            sub: format!(
                "{}{}",
                r.version,
                if r.optional { " (optional)" } else { "" }
            ),
            href: iface_href,
            y: row * 2 + rows - 1, // in half rows: centre of the block
        });
        row += rows;
    }
    let rows = row.max(1);
    let height = rows * PITCH + 2 * PAD - (PITCH - NODE_H);
    let root_node = Node {
        kind: Kind::Root,
        title: doc.name.clone(),
        sub: format!("{} {}", doc.id, doc.version),
        href: None,
        y: rows - 1, // half rows
    };

    let mut out = String::with_capacity(2048 + 600 * (middle.len() + right.len()));
    let id = format!(
        "graph-{}",
        doc.version
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">Dependency graph of {} {}</title><desc id="{id}-desc">{}</desc>"#,
        esc(&doc.name),
        esc(&doc.version),
        esc(&desc)
    );
    out.push_str(r#"<g class="edges" aria-hidden="true">"#);
    let half_y = |half: u32| PAD + half * PITCH / 2 + NODE_H / 2;
    for (mi, m) in middle.iter().enumerate() {
        edge(
            &mut out,
            COLS[0] + NODE_W,
            half_y(root_node.y),
            COLS[1],
            half_y(m.y),
            m.kind == Kind::Optional,
        );
        for &(emi, ek, dashed) in &edges {
            if emi as usize == mi {
                let r = &right[ek as usize];
                edge(
                    &mut out,
                    COLS[1] + NODE_W,
                    half_y(m.y),
                    COLS[2],
                    half_y(r.y * 2),
                    dashed,
                );
            }
        }
    }
    out.push_str("</g>");
    node(&mut out, &root_node, COLS[0], PAD + root_node.y * PITCH / 2);
    for m in &middle {
        node(&mut out, m, COLS[1], PAD + m.y * PITCH / 2);
    }
    for r in &right {
        node(&mut out, r, COLS[2], PAD + r.y * PITCH);
    }
    out.push_str("</svg>");
    out
}

fn edge(out: &mut String, x1: u32, y1: u32, x2: u32, y2: u32, dashed: bool) {
    let mx = (x1 + x2) / 2;
    let _ = write!(
        out,
        r#"<path d="M{x1} {y1} C{mx} {y1} {mx} {y2} {x2} {y2}"{}/>"#,
        if dashed { r#" class="optional""# } else { "" }
    );
}

fn node(out: &mut String, n: &Node, x: u32, y: u32) {
    let class = match n.kind {
        Kind::Root => "node root",
        Kind::Requirement => "node req",
        Kind::Optional => "node req optional",
        Kind::Provider => "node provider",
        Kind::Missing => "node missing",
        Kind::More => "node more",
    };
    if let Some(href) = &n.href {
        out.push_str(r#"<a href=""#);
        esc_into(out, href);
        out.push_str(r#"">"#);
    }
    let _ = write!(
        out,
        r#"<g class="{class}"><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6"/><text x="{}" y="{}" class="t">"#,
        x + 10,
        y + 18,
    );
    esc_into(out, &clip(&n.title));
    let _ = write!(
        out,
        r#"</text><text x="{}" y="{}" class="s">"#,
        x + 10,
        y + 35
    );
    esc_into(out, &clip(&n.sub));
    out.push_str("</text></g>");
    if n.href.is_some() {
        out.push_str("</a>");
    }
}

/// Shortens a label to what fits in a node.
fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(MAX_CHARS) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let cut = s
                .char_indices()
                .nth(MAX_CHARS - 1)
                .map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..cut]))
        }
    }
}

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 16);
    esc_into(&mut o, s);
    o
}

/// Appends `s` to `out`, escaped for XML content and attribute values.
pub fn esc_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_and_escape() {
        for (input, want) in [
            ("short", "short"),
            ("a".repeat(40).as_str(), &format!("{}…", "a".repeat(30))),
        ] {
            assert_eq!(clip(input), want);
        }
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn clip_and_escape_multibyte_text() {
        let long = "é".repeat(MAX_CHARS + 1);
        let fits = "é".repeat(MAX_CHARS);
        for (input, want) in [
            (fits.as_str(), fits.clone()),
            (long.as_str(), format!("{}…", "é".repeat(MAX_CHARS - 1))),
        ] {
            assert_eq!(clip(input), want);
        }
        for (input, want) in [
            ("", ""),
            ("plain", "plain"),
            ("Ünïcode & <ü>", "Ünïcode &amp; &lt;ü&gt;"),
            ("a\"b'c", "a&quot;b&#39;c"),
            ("&&", "&amp;&amp;"),
        ] {
            let mut out = String::from("x");
            esc_into(&mut out, input);
            assert_eq!(out, format!("x{want}"), "{input}");
        }
    }
}
