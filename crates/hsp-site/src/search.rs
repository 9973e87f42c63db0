//! The client-side search data: one compact entry per service, written both as
//! `search.json` (for scripts) and as `search-data.js`, which sets a global so the
//! home page can load it with `<script src>`: `fetch()` is refused on `file://`.

use serde::Serialize;

use crate::catalogue::Catalogue;

/// Bumped when the layout of [`SearchData`] changes.
pub const FORMAT: u32 = 1;

#[derive(Serialize)]
pub struct SearchData<'a> {
    pub format: u32,
    /// Interface ids; entries refer to them by index.
    pub interfaces: Vec<&'a str>,
    /// `[name, title]` of publishers, by name; the title is empty when the
    /// registry has no record (no page to link to). Entries refer to them by index.
    pub publishers: Vec<(&'a str, &'a str)>,
    /// `[id, name, summary, publisher index, licence, latest version,
    ///   all yanked (0/1), provided interface indices, required interface indices]`
    pub services: Vec<Entry<'a>>,
}

#[derive(Serialize)]
pub struct Entry<'a>(
    pub &'a str,
    pub &'a str,
    pub &'a str,
    pub usize,
    pub &'a str,
    pub &'a str,
    pub u8,
    pub Vec<usize>,
    pub Vec<usize>,
);

pub fn data<'a>(cat: &'a Catalogue<'a>) -> SearchData<'a> {
    let mut interfaces: Vec<&str> = cat.interfaces.iter().map(|i| i.id.as_str()).collect();
    let mut publishers: Vec<&str> = cat
        .publishers
        .iter()
        .map(|p| p.publisher.name.as_str())
        .collect();
    // Names used by documents but not defined still need an index.
    for s in &cat.services {
        let d = s.latest().doc;
        publishers.push(&d.publisher);
        interfaces.extend(d.provides.iter().map(|p| p.interface.as_str()));
        interfaces.extend(d.requires.iter().map(|r| r.interface.as_str()));
    }
    interfaces.sort_unstable();
    interfaces.dedup();
    publishers.sort_unstable();
    publishers.dedup();
    let idx = |list: &[&str], x: &str| list.binary_search(&x).unwrap_or(0);
    let services = cat
        .services
        .iter()
        .map(|s| {
            let d = s.latest().doc;
            let mut provides: Vec<usize> = d
                .provides
                .iter()
                .map(|p| idx(&interfaces, &p.interface))
                .collect();
            provides.dedup();
            let mut requires: Vec<usize> = d
                .requires
                .iter()
                .map(|r| idx(&interfaces, &r.interface))
                .collect();
            requires.sort_unstable();
            requires.dedup();
            Entry(
                s.id,
                &d.name,
                &d.summary,
                idx(&publishers, &d.publisher),
                &d.license,
                &d.version,
                u8::from(s.all_yanked()),
                provides,
                requires,
            )
        })
        .collect();
    let publishers = publishers
        .into_iter()
        .map(|name| {
            (
                name,
                cat.publisher(name)
                    .map(|p| p.publisher.title.as_str())
                    .unwrap_or(""),
            )
        })
        .collect();
    SearchData {
        format: FORMAT,
        interfaces,
        publishers,
        services,
    }
}

/// `search.json` and `search-data.js` contents.
pub fn files(cat: &Catalogue) -> (String, String) {
    let json = serde_json::to_string(&data(cat)).unwrap_or_default();
    // `</` cannot end the script early: JSON never needs a raw `</`.
    let js = format!("window.HSP_SEARCH={};\n", json.replace("</", "<\\/"));
    (json, js)
}
