//! The planner against a brute-force oracle on small random indexes (the model
//! is cargo's `resolver-tests`):
//! - it finds a plan exactly when one exists;
//! - its plan is a solution (every requirement met by a compatible provider,
//!   policy respected, nothing extra);
//! - its plan is locally optimal under the preference order: no single instance
//!   can take a more preferred release, and no single requirement a more
//!   preferred candidate, with everything else kept (what only the changed
//!   choice needed may change freely). PubGrub decides one package at a time,
//!   always the most preferred value not yet ruled out by sound deductions, so
//!   this holds whatever order it decides in.
//!
//! The oracle shares no code with the planner: it enumerates assignments over
//! this file's own model of services, requirements and candidates.

use std::collections::{BTreeMap, VecDeque};

use hsp_index::document::Scope;
use hsp_index::environment::UpdateMode;
use hsp_index::plan::ProviderRef;
use hsp_index::Plan;
use hsp_test_support::planner::*;
use proptest::prelude::*;
use semver::{Version, VersionReq};

const IFACES: [&str; 2] = ["postgres", "smtp"];
const VERSIONS: [&str; 3] = ["1.0.0", "1.1.0", "2.0.0"];
const RANGES: [&str; 4] = ["*", "^1", ">=2", "<2"];

#[derive(Clone, Debug)]
struct Req {
    name: String,
    iface: usize,
    range: &'static str,
    dedicated: bool,
    feature: bool,
    optional: bool,
}

#[derive(Clone, Debug)]
struct Rel {
    v: Version,
    licence: &'static str,
    yanked: bool,
    /// (interface, interface version, offers the feature)
    provides: Vec<(usize, Version, bool)>,
    requires: Vec<Req>,
}

#[derive(Clone, Debug)]
struct Ext {
    iface: usize,
    version: Version,
    feature: bool,
}

#[derive(Clone, Debug)]
struct Case {
    services: Vec<Vec<Rel>>,
    wanted: Vec<(usize, &'static str)>,
    licences: Option<Vec<&'static str>>,
    preferred: Option<(usize, usize)>,
    externals: Vec<Ext>,
}

fn id(s: usize) -> String {
    format!("org.t.s{s}")
}

/// A tiny deterministic generator, so a failing seed reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.next(100) < percent
    }
}

/// Services in layers so the graph is acyclic: layer 0 needs interfaces of layer
/// 1 or 2, layer 1 needs `smtp` (layer 2); `postgres` comes from layer 1, `smtp` from 2.
fn generate(seed: u64) -> Case {
    let mut r = Rng(seed | 1);
    let n = 2 + r.next(4);
    let layer: Vec<usize> = (0..n)
        .map(|s| if s == 0 { 0 } else { 1 + r.next(2) })
        .collect();
    let mut services = Vec::new();
    for &lay in &layer {
        let mut rels = Vec::new();
        for v in VERSIONS {
            let keep = r.chance(70) || (v == "2.0.0" && rels.is_empty());
            if !keep {
                continue;
            }
            let mut provides = Vec::new();
            if lay >= 1 {
                let iface = lay - 1;
                provides.push((
                    iface,
                    Version::parse(VERSIONS[r.next(3)]).unwrap(),
                    r.chance(60),
                ));
            }
            let mut requires = Vec::new();
            let max_reqs = match lay {
                0 => 2,
                1 => 1,
                _ => 0,
            };
            for k in 0..max_reqs {
                if !r.chance(70) {
                    continue;
                }
                let iface = if lay == 1 { 1 } else { r.next(2) };
                requires.push(Req {
                    name: format!("r{k}"),
                    iface,
                    range: RANGES[r.next(4)],
                    dedicated: r.chance(40),
                    feature: r.chance(30),
                    optional: r.chance(15),
                });
            }
            rels.push(Rel {
                v: Version::parse(v).unwrap(),
                licence: if r.chance(80) { "MIT" } else { "PostgreSQL" },
                yanked: r.chance(15),
                provides,
                requires,
            });
        }
        services.push(rels);
    }
    let mut wanted = vec![(0, ["*", "^1", ">=1.1"][r.next(3)])];
    if n > 2 && r.chance(40) {
        wanted.push((1 + r.next(n - 1), "*"));
    }
    let licences = r.chance(40).then(|| vec!["MIT"]);
    let preferred = r.chance(40).then(|| (r.next(2), 1 + r.next(n - 1)));
    let externals = if r.chance(25) {
        vec![Ext {
            iface: r.next(2),
            version: Version::parse(VERSIONS[r.next(3)]).unwrap(),
            feature: r.chance(50),
        }]
    } else {
        vec![]
    };
    Case {
        services,
        wanted,
        licences,
        preferred,
        externals,
    }
}

fn to_index_and_env(c: &Case) -> (hsp_planner::MemorySource, hsp_index::Environment) {
    let mut docs = Vec::new();
    for (s, rels) in c.services.iter().enumerate() {
        for rel in rels {
            let mut d = doc(&id(s), &rel.v.to_string()).license(rel.licence);
            if rel.yanked {
                d = d.yanked("test");
            }
            for (i, iv, f) in &rel.provides {
                let feats: &[&str] = if *f { &["f"] } else { &[] };
                d = d.provides_with(
                    IFACES[*i],
                    &iv.to_string(),
                    feats,
                    &[("host", "${self.app.http.host}")],
                );
            }
            for q in &rel.requires {
                let scope = if q.dedicated {
                    Scope::Dedicated
                } else {
                    Scope::Shared
                };
                let feats: &[&str] = if q.feature { &["f"] } else { &[] };
                d = d.requires_with(&q.name, IFACES[q.iface], q.range, scope, feats, q.optional);
            }
            docs.push(d);
        }
    }
    let mut env = serde_json::json!({
        "services": c.wanted.iter().map(|(s, r)| serde_json::json!({"id": id(*s), "version": r})).collect::<Vec<_>>(),
        "externals": c.externals.iter().enumerate().map(|(n, e)| serde_json::json!({
            "name": format!("ext{n}"), "interface": IFACES[e.iface], "version": e.version.to_string(),
            "features": if e.feature { vec!["f"] } else { vec![] }})).collect::<Vec<_>>(),
    });
    let mut policy = serde_json::json!({});
    if let Some(l) = &c.licences {
        policy["licenses"] = serde_json::json!(l);
    }
    if let Some((i, s)) = c.preferred {
        policy["preferred"] = serde_json::json!({IFACES[i]: id(s)});
    }
    env["policy"] = policy;
    (index(docs), environment(env))
}

// ---- the oracle ----

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Key {
    Shared(usize),
    Dedicated(Box<Key>, String, usize),
}

impl Key {
    fn service(&self) -> usize {
        match self {
            Key::Shared(s) | Key::Dedicated(_, _, s) => *s,
        }
    }
    /// Whether `self` is `k` or a dedicated provider (transitively) of `k`.
    fn under(&self, k: &Key) -> bool {
        self == k || matches!(self, Key::Dedicated(c, _, _) if c.under(k))
    }
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Cand {
    External(usize),
    Provider(usize),
    Unbound,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Assignment {
    /// key -> release index
    inst: BTreeMap<Key, usize>,
    bind: BTreeMap<(Key, String), Cand>,
}

#[derive(Clone, Default)]
struct Search {
    a: Assignment,
    /// (key, allowed release indexes)
    cons: Vec<(Key, Vec<usize>)>,
    queue: VecDeque<Key>,
}

/// Restrictions of one oracle query.
#[derive(Default)]
struct Fixed {
    inst: BTreeMap<Key, usize>,
    bind: BTreeMap<(Key, String), Cand>,
}

struct Oracle<'c> {
    c: &'c Case,
    /// What is deployed (in the oracle's terms) and the update mode.
    deployed: Option<(&'c Assignment, UpdateMode)>,
}

impl Oracle<'_> {
    fn allowed(&self, k: &Key, i: usize) -> bool {
        let s = k.service();
        let rel = &self.c.services[s][i];
        let deployed = self
            .deployed
            .and_then(|(d, mode)| d.inst.get(k).map(|x| (&self.c.services[s][*x].v, mode)));
        if rel.yanked && deployed.is_none_or(|(d, _)| *d != rel.v) {
            return false;
        }
        if let Some((d, mode)) = deployed {
            let asked_otherwise = matches!(k, Key::Shared(_))
                && self
                    .c
                    .wanted
                    .iter()
                    .any(|(w, r)| *w == s && !VersionReq::parse(r).unwrap().matches(d));
            let within = match mode {
                UpdateMode::None => rel.v == *d,
                UpdateMode::Patch => {
                    rel.v >= *d && rel.v.major == d.major && rel.v.minor == d.minor
                }
                UpdateMode::Minor => rel.v >= *d && rel.v.major == d.major,
                UpdateMode::Any => true,
            };
            if !within && !asked_otherwise {
                return false;
            }
        }
        self.c
            .licences
            .as_ref()
            .is_none_or(|l| l.contains(&rel.licence))
    }

    /// No external is bound to a dedicated requirement and any other one
    /// (the cases have no `per_consumer` bindings: one binding per external).
    fn no_shared_dedicated(&self, a: &Assignment) -> bool {
        (0..self.c.externals.len()).all(|e| {
            let users: Vec<bool> = a
                .bind
                .iter()
                .filter(|(_, c)| **c == Cand::External(e))
                .map(|((k, req), _)| {
                    self.c.services[k.service()][a.inst[k]]
                        .requires
                        .iter()
                        .any(|q| &q.name == req && q.dedicated)
                })
                .collect();
            users.len() < 2 || !users.contains(&true)
        })
    }

    fn offering(&self, s: usize, q: &Req) -> Vec<usize> {
        let range = VersionReq::parse(q.range).unwrap();
        (0..self.c.services[s].len())
            .filter(|&i| {
                self.c.services[s][i].provides.iter().any(|(f, iv, feat)| {
                    *f == q.iface && range.matches(iv) && (!q.feature || *feat)
                })
            })
            .collect()
    }

    /// Candidates for requirement `q` of `consumer`, most preferred first.
    fn candidates(&self, consumer: &Key, q: &Req) -> Vec<Cand> {
        let range = VersionReq::parse(q.range).unwrap();
        let exts: Vec<usize> = (0..self.c.externals.len())
            .filter(|&e| self.c.externals[e].iface == q.iface)
            .collect();
        let mut out: Vec<Cand> = Vec::new();
        if !exts.is_empty() {
            for e in exts {
                let x = &self.c.externals[e];
                if range.matches(&x.version) && (!q.feature || x.feature) {
                    out.push(Cand::External(e));
                }
            }
        } else {
            let wanted = |s: usize| self.c.wanted.iter().any(|(w, _)| *w == s);
            let mut ranked = Vec::new();
            for s in 0..self.c.services.len() {
                if !q.dedicated && matches!(consumer, Key::Shared(x) if *x == s) {
                    continue;
                }
                let shared_wanted = wanted(s) && !q.dedicated;
                if q.optional && !shared_wanted {
                    continue;
                }
                if self.offering(s, q).is_empty() {
                    continue;
                }
                let bound = self.deployed.is_some_and(|(d, _)| {
                    d.bind.get(&(consumer.clone(), q.name.clone())) == Some(&Cand::Provider(s))
                });
                let deployed_shared = self
                    .deployed
                    .is_some_and(|(d, _)| d.inst.contains_key(&Key::Shared(s)));
                let rank = if bound {
                    0
                } else if deployed_shared && !q.dedicated {
                    1
                } else if self.c.preferred == Some((q.iface, s)) {
                    2
                } else if wanted(s) && !q.dedicated {
                    3
                } else {
                    4
                };
                ranked.push((rank, id(s), s));
            }
            ranked.sort();
            out.extend(ranked.into_iter().map(|(_, _, s)| Cand::Provider(s)));
        }
        if q.optional {
            out.push(Cand::Unbound);
        }
        out
    }

    /// Some complete assignment within `fx`, with `force` applied.
    fn find(&self, fx: &Fixed) -> Option<Assignment> {
        let mut st = Search::default();
        for (s, range) in &self.c.wanted {
            let r = VersionReq::parse(range).unwrap();
            let ok = (0..self.c.services[*s].len())
                .filter(|&i| r.matches(&self.c.services[*s][i].v))
                .collect();
            st.cons.push((Key::Shared(*s), ok));
            st.queue.push_back(Key::Shared(*s));
        }
        self.step(st, fx)
    }

    fn step(&self, mut st: Search, fx: &Fixed) -> Option<Assignment> {
        let Some(k) = st.queue.pop_front() else {
            let ok = st
                .cons
                .iter()
                .all(|(k, allowed)| st.a.inst.get(k).is_some_and(|i| allowed.contains(i)));
            return (ok && self.no_shared_dedicated(&st.a)).then_some(st.a);
        };
        if st.a.inst.contains_key(&k) {
            return self.step(st, fx);
        }
        let s = k.service();
        for i in 0..self.c.services[s].len() {
            if !self.allowed(&k, i) || fx.inst.get(&k).is_some_and(|x| *x != i) {
                continue;
            }
            if st
                .cons
                .iter()
                .any(|(ck, allowed)| *ck == k && !allowed.contains(&i))
            {
                continue;
            }
            let mut next = st.clone();
            next.a.inst.insert(k.clone(), i);
            let reqs = self.c.services[s][i].requires.clone();
            if let Some(found) = self.bind(next, &k, &reqs, fx) {
                return Some(found);
            }
        }
        None
    }

    fn bind(&self, st: Search, k: &Key, reqs: &[Req], fx: &Fixed) -> Option<Assignment> {
        let Some((q, rest)) = reqs.split_first() else {
            return self.step(st, fx);
        };
        for cand in self.candidates(k, q) {
            if fx
                .bind
                .get(&(k.clone(), q.name.clone()))
                .is_some_and(|c| *c != cand)
            {
                continue;
            }
            let mut next = st.clone();
            next.a
                .bind
                .insert((k.clone(), q.name.clone()), cand.clone());
            if let Cand::Provider(p) = cand {
                let target = if q.dedicated {
                    Key::Dedicated(Box::new(k.clone()), q.name.clone(), p)
                } else {
                    Key::Shared(p)
                };
                let offer = self.offering(p, q);
                if next.a.inst.get(&target).is_some_and(|i| !offer.contains(i)) {
                    continue;
                }
                next.cons.push((target.clone(), offer));
                next.queue.push_back(target);
            }
            if let Some(found) = self.bind(next, k, rest, fx) {
                return Some(found);
            }
        }
        None
    }
}

/// The planner's plan in the oracle's terms.
fn assignment_of(c: &Case, plan: &Plan) -> Assignment {
    let by_name: BTreeMap<&str, &hsp_index::plan::PlannedInstance> = plan
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    fn key_of(name: &str, by_name: &BTreeMap<&str, &hsp_index::plan::PlannedInstance>) -> Key {
        let i = by_name[name];
        let s: usize = i.service.trim_start_matches("org.t.s").parse().unwrap();
        match &i.dedicated_to {
            None => Key::Shared(s),
            Some(consumer) => {
                let req = by_name[consumer.as_str()]
                    .bindings
                    .iter()
                    .find(|(_, b)| b.provider == ProviderRef::Instance(name.to_string()))
                    .map(|(r, _)| r.clone())
                    .expect("a dedicated provider is bound by its consumer");
                Key::Dedicated(Box::new(key_of(consumer, by_name)), req, s)
            }
        }
    }
    let mut a = Assignment::default();
    for i in &plan.instances {
        let k = key_of(&i.name, &by_name);
        let s = k.service();
        let idx = c.services[s]
            .iter()
            .position(|r| r.v.to_string() == i.version)
            .unwrap();
        for q in &c.services[s][idx].requires {
            let cand = match i.bindings.get(&q.name).map(|b| &b.provider) {
                None => Cand::Unbound,
                Some(ProviderRef::External(e)) => {
                    Cand::External(e.trim_start_matches("ext").parse().unwrap())
                }
                Some(ProviderRef::Instance(p)) => Cand::Provider(key_of(p, &by_name).service()),
            };
            a.bind.insert((k.clone(), q.name.clone()), cand);
        }
        a.inst.insert(k, idx);
    }
    a
}

/// A deployed state near a solution: the plan for `case` with some instances
/// moved to other releases (yanked ones included), and an update mode.
fn deployed_state(seed: u64, case: &Case) -> Option<(Plan, UpdateMode)> {
    let (index, env) = to_index_and_env(case);
    let mut p = plan(&index, &env).ok()?;
    let mut r = Rng(seed.rotate_left(17) | 1);
    for inst in &mut p.instances {
        let s: usize = inst.service.trim_start_matches("org.t.s").parse().unwrap();
        if r.chance(60) {
            inst.version = case.services[s][r.next(case.services[s].len())]
                .v
                .to_string();
        }
    }
    // What a journal can hold: an instance's bindings are those of its own
    // release's requirements, and a dedicated provider is bound by its consumer.
    for inst in &mut p.instances {
        let s: usize = inst.service.trim_start_matches("org.t.s").parse().unwrap();
        let rel = case.services[s]
            .iter()
            .find(|r| r.v.to_string() == inst.version)
            .unwrap();
        inst.bindings
            .retain(|req, _| rel.requires.iter().any(|q| &q.name == req));
    }
    loop {
        let bound: Vec<String> = p
            .instances
            .iter()
            .flat_map(|i| i.bindings.values())
            .filter_map(|b| match &b.provider {
                ProviderRef::Instance(n) => Some(n.clone()),
                ProviderRef::External(_) => None,
            })
            .collect();
        let before = p.instances.len();
        p.instances
            .retain(|i| i.dedicated_to.is_none() || bound.contains(&i.name));
        if p.instances.len() == before {
            break;
        }
    }
    let mode = [
        UpdateMode::None,
        UpdateMode::Patch,
        UpdateMode::Minor,
        UpdateMode::Any,
    ][r.next(4)];
    Some((p, mode))
}

fn check(seed: u64, with_deployed: bool) -> Result<(), String> {
    let case = generate(seed);
    let (index, mut env) = to_index_and_env(&case);
    let deployed = if with_deployed {
        deployed_state(seed, &case)
    } else {
        None
    };
    let deployed_a = deployed.as_ref().map(|(p, _)| assignment_of(&case, p));
    if let Some((_, mode)) = &deployed {
        env.policy.update = *mode;
    }
    let oracle = Oracle {
        c: &case,
        deployed: deployed_a.as_ref().zip(deployed.as_ref().map(|(_, m)| *m)),
    };
    let exists = oracle.find(&Fixed::default());
    let planned = match &deployed {
        Some((d, _)) => plan_from(&index, &env, d),
        None => plan(&index, &env),
    };
    let plan = match (planned, &exists) {
        (Ok(p), Some(_)) => p,
        (Err(e), None) => {
            return matches!(
                e,
                hsp_planner::PlanError::NoSolution(_)
                    | hsp_planner::PlanError::SharedExternal { .. }
            )
            .then_some(())
            .ok_or(format!("wrong error: {e}"))
        }
        (Ok(p), None) => {
            return Err(format!(
                "planner found {:?} but the oracle finds no solution",
                summary(&p)
            ))
        }
        (Err(e), Some(a)) => return Err(format!("oracle finds {a:?} but the planner says: {e}")),
    };
    let got = assignment_of(&case, &plan);
    // A solution: the oracle accepts exactly this assignment, nothing more.
    let pinned = Fixed {
        inst: got.inst.clone(),
        bind: got.bind.clone(),
    };
    match oracle.find(&pinned) {
        Some(a) if a == got => {}
        other => {
            return Err(format!(
                "the plan {got:?} is not a solution (oracle: {other:?})"
            ))
        }
    }
    // Local optimality.
    let keep = |changed: &Key| Fixed {
        inst: got
            .inst
            .iter()
            .filter(|(k, _)| !k.under(changed))
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        bind: got
            .bind
            .iter()
            .filter(|((k, _), _)| !k.under(changed))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    for (k, &i) in &got.inst {
        let s = k.service();
        for better in (0..case.services[s].len())
            .filter(|&u| case.services[s][u].v > case.services[s][i].v && oracle.allowed(k, u))
        {
            let mut fx = keep(k);
            fx.inst.insert(k.clone(), better);
            if let Some(a) = oracle.find(&fx) {
                return Err(format!(
                    "{k:?} could take release {} instead of {}: {a:?}",
                    case.services[s][better].v, case.services[s][i].v
                ));
            }
        }
    }
    for ((k, req), cand) in &got.bind {
        let q = case.services[k.service()][got.inst[k]]
            .requires
            .iter()
            .find(|q| &q.name == req)
            .unwrap();
        let cands = oracle.candidates(k, q);
        let at = cands
            .iter()
            .position(|c| c == cand)
            .ok_or(format!("{cand:?} is not a candidate for {k:?}.{req}"))?;
        for better in &cands[..at] {
            let mut fx = keep(k);
            fx.inst.insert(k.clone(), got.inst[k]);
            for ((k2, r2), c2) in &got.bind {
                if k2 == k && r2 != req {
                    fx.bind.insert((k2.clone(), r2.clone()), c2.clone());
                }
            }
            fx.bind.insert((k.clone(), req.clone()), better.clone());
            if let Some(a) = oracle.find(&fx) {
                return Err(format!(
                    "{k:?}.{req} could use {better:?} instead of {cand:?}: {a:?}"
                ));
            }
        }
    }
    Ok(())
}

/// The same 400 cases on every run, so CI is deterministic; explore others with
/// `PROPTEST_RNG_SEED=<u64> cargo test -p hsp-planner --test planner props::`.
fn config() -> ProptestConfig {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x4853_5031);
    ProptestConfig {
        cases: 400,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn planner_agrees_with_the_oracle(seed in any::<u64>()) {
        if let Err(e) = check(seed, false) {
            prop_assert!(false, "seed {seed}: {e}\ncase: {:#?}", generate(seed));
        }
    }

    #[test]
    fn planner_agrees_with_the_oracle_from_a_deployed_state(seed in any::<u64>()) {
        if let Err(e) = check(seed, true) {
            prop_assert!(false, "seed {seed}: {e}\ncase: {:#?}\ndeployed: {:#?}", generate(seed), deployed_state(seed, &generate(seed)).map(|(p, m)| (summary(&p), m)));
        }
    }
}

#[test]
fn the_generator_makes_both_outcomes() {
    let (mut ok, mut fail) = (0, 0);
    for seed in 1..300u64 {
        let case = generate(seed);
        match (Oracle {
            c: &case,
            deployed: None,
        })
        .find(&Fixed::default())
        {
            Some(_) => ok += 1,
            None => fail += 1,
        }
    }
    assert!(
        ok > 50 && fail > 20,
        "solvable {ok}, unsolvable {fail}: the generator should exercise both"
    );
}

/// A seed whose deployed state once held a binding its release does not have
/// (a version changed under a dedicated requirement): the planner honoured the
/// stale binding, the oracle did not. Journals never hold such a state.
#[test]
fn deployed_state_is_one_a_journal_can_hold() {
    check(17521114954943165258, true).unwrap();
}
