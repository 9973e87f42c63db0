//! The `reason` sentence of each planned instance: why this service (wanted,
//! or which consumers' requirements it serves and why it was the candidate
//! chosen) and why this release (pinned, kept or moved within the update mode,
//! newest allowed, or which newer releases were ruled out and why).

use hsp_index::document::Scope;
use hsp_index::environment::ConfigValue;
use hsp_index::version::{parse_range, parse_version};

use super::solve::{in_window, mode_name, Candidate, Inst, Pkg, Rank, Solver};

/// Why this instance runs this version of this service, in a sentence.
pub(crate) fn reason(solver: &Solver, inst: &Inst, all: &[Inst]) -> String {
    let mut why = Vec::new();
    if let Pkg::Shared(s) = &inst.pkg {
        if solver.wanted(s).is_some() {
            why.push("wanted by the environment".to_string());
        }
    }
    why.extend(external_bindings(solver, inst));
    for consumer in all {
        for (req, (cand, n)) in &consumer.choices {
            let Candidate::Provider { service, rank, .. } = cand else {
                continue;
            };
            if **service != *inst.doc.id {
                continue;
            }
            let scope = consumer
                .doc
                .requires
                .iter()
                .find(|r| &r.name == req)
                .map(|r| r.scope);
            let mine = match (&inst.pkg, scope) {
                (Pkg::Dedicated(d), Some(Scope::Dedicated)) => {
                    d.consumer == consumer.pkg && &d.req == req
                }
                (Pkg::Shared(_), Some(Scope::Shared)) => true,
                _ => false,
            };
            if !mine {
                continue;
            }
            let iface = consumer
                .doc
                .requires
                .iter()
                .find(|r| &r.name == req)
                .map(|r| r.interface.as_str())
                .unwrap_or("");
            let how = match rank {
                Rank::Bound => "the provider it is bound to now".to_string(),
                Rank::Deployed => "a provider already deployed".to_string(),
                Rank::Preferred => "the environment's preferred provider".to_string(),
                Rank::Wanted => "a service the environment wants anyway".to_string(),
                _ if *n == 1 => "the only candidate".to_string(),
                _ => format!("first by id of {n} candidates"),
            };
            why.push(format!(
                "provides {iface} to {}'s `{req}` ({how})",
                consumer.name
            ));
        }
    }
    why.push(version_reason(solver, inst));
    why.join("; ")
}

/// For each requirement bound to an external: which external and binding it
/// got, and why.
fn external_bindings(solver: &Solver, inst: &Inst) -> Vec<String> {
    let mut out = Vec::new();
    for r in &inst.doc.requires {
        let Some((Candidate::External(e), n)) = inst.choices.get(&r.name) else {
            continue;
        };
        let ext = &solver.env.externals[*e];
        let names = [inst.name.as_str(), inst.doc.id.as_str()];
        let binding = match ext.own_binding(&names) {
            Some(key) => {
                let fields: Vec<String> = ext.per_consumer[key]
                    .iter()
                    .map(|(k, v)| match v {
                        ConfigValue::Literal(s) => format!("{k} {s}"),
                        ConfigValue::Secret(_) => format!("{k} <secret>"),
                    })
                    .collect();
                format!("its own {} on external {}", fields.join(", "), ext.name)
            }
            None if r.scope == Scope::Dedicated => format!(
                "external {}'s binding, which no other consumer uses",
                ext.name
            ),
            None => format!("external {}'s binding, shared", ext.name),
        };
        let scope = match r.scope {
            Scope::Dedicated => "dedicated: ",
            Scope::Shared => "",
        };
        let mut chosen = format!("externals pin {}", r.interface);
        let optional = usize::from(r.optional);
        if n - optional > 1 {
            chosen.push_str(&format!(
                ", the first of {} that may serve it",
                n - optional
            ));
        }
        if !ext.consumers.is_empty() {
            chosen.push_str(&format!(
                ", {} serves {}",
                ext.name,
                ext.consumers.join(", ")
            ));
        }
        out.push(format!(
            "binds `{}` to external {} ({scope}{binding}; {chosen})",
            r.name, ext.name
        ));
    }
    out
}

fn version_reason(solver: &Solver, inst: &Inst) -> String {
    let v = &inst.version;
    let wanted = match &inst.pkg {
        Pkg::Shared(s) => solver.wanted(s),
        _ => None,
    };
    if wanted.is_some_and(|w| w.pin.is_some()) {
        return format!("pinned to {v} by the environment");
    }
    let deployed = solver
        .deployed_instance(&inst.pkg)
        .and_then(|d| parse_version(&d.version).ok());
    let mode = solver.env.policy.update;
    let prefix = match &deployed {
        Some(d) if d == v => format!("keeps the deployed {v} (update mode `{}`)", mode_name(mode)),
        Some(d) if in_window(d, v, mode) => format!(
            "{d} is deployed; update mode `{}` allows {v}",
            mode_name(mode)
        ),
        Some(d) => format!("moves from the deployed {d} as the environment's wanted range asks"),
        None => String::new(),
    };
    let Ok(Some(s)) = solver.service(&inst.doc.id) else {
        return prefix;
    };
    let range = wanted.and_then(|w| parse_range(&w.version).ok());
    let mut newer = Vec::new();
    for (u, i) in s.versions.iter().filter(|(u, _)| u > v) {
        if range.as_ref().is_some_and(|r| !r.matches(u)) {
            continue;
        }
        let why = match solver.unavailable(&inst.pkg, &s.index.versions[*i], u) {
            Some(r) => r.to_string(),
            None => "it does not fit the rest of the plan".to_string(),
        };
        newer.push(format!("{u}: {why}"));
    }
    let head = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}; ")
    };
    if newer.is_empty() {
        format!("{head}{v} is the newest allowed release")
    } else {
        let shown: Vec<String> = newer.iter().take(3).cloned().collect();
        let more = if newer.len() > 3 {
            format!(" and {} more", newer.len() - 3)
        } else {
            String::new()
        };
        format!(
            "{head}newer releases not chosen: {}{more}",
            shown.join("; ")
        )
    }
}
