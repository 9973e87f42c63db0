//! From a PubGrub solution to a [`Plan`]: instance names, start order, rendered
//! templates and a reason per instance.
//!
//! Templates (see `hsp_index::document`): `${<req>.<field>}` is the field of what
//! satisfies requirement `<req>` (an optional requirement left unbound renders
//! as empty text); `${config.NAME}` is the instance's config value (a secret stays
//! a [`SecretRef`]); `${self.<task>.<port>}` is `<instance>-<task>:<port>` on
//! Docker (`127.0.0.1:<port>` on a host target), with `.host` and `.port`
//! selecting a part. `$$` is a literal `$`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hsp_index::document::{Provide, Scope};
use hsp_index::environment::{ConfigValue, TargetKind};
use hsp_index::plan::{
    Binding, Part, PlannedExternal, PlannedInstance, PlannedTask, ProviderRef, SecretRef, Value,
};
use hsp_index::version::{parse_range, parse_version};
use hsp_index::{Document, Plan};
use pubgrub::SelectedDependencies;

use super::solve::{dedicated_name, Candidate, Inst, Pkg, Solver, Ver};
use super::PlanError;
use hsp_index::name::is_name;

/// What templates of one rendered instance can see.
struct Scope_ {
    config: BTreeMap<String, Value>,
    bindings: BTreeMap<String, Option<BTreeMap<String, Value>>>,
}

pub(crate) fn build(
    solver: &Solver,
    solution: &SelectedDependencies<Solver>,
) -> Result<Plan, PlanError> {
    let mut insts = collect(solver, solution)?;
    let names = name_instances(solver, &insts)?;
    for i in &mut insts {
        i.name = names[&i.pkg].clone();
    }
    let by_pkg: BTreeMap<String, usize> = insts
        .iter()
        .enumerate()
        .map(|(n, i)| (i.name.clone(), n))
        .collect();
    let provider_of = |i: &Inst, req: &str| -> Option<String> {
        match &i.choices.get(req)?.0 {
            Candidate::Provider { service, .. } => {
                let key = match i.doc.requires.iter().find(|r| r.name == req)?.scope {
                    Scope::Shared => Pkg::Shared(service.clone()),
                    Scope::Dedicated => {
                        Pkg::Dedicated(std::sync::Arc::new(super::solve::DedicatedKey {
                            consumer: i.pkg.clone(),
                            req: req.to_string(),
                            service: service.clone(),
                        }))
                    }
                };
                Some(names[&key].clone())
            }
            _ => None,
        }
    };
    // Start order: Kahn's algorithm, ready instances by name.
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in &insts {
        let d = deps.entry(i.name.clone()).or_default();
        for req in i.choices.keys() {
            if let Some(p) = provider_of(i, req) {
                d.insert(p);
            }
        }
    }
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    while order.len() < insts.len() {
        let ready: Vec<String> = deps
            .iter()
            .filter(|(n, d)| !done.contains(*n) && d.iter().all(|p| done.contains(p)))
            .map(|(n, _)| n.clone())
            .collect();
        if ready.is_empty() {
            let stuck: Vec<String> = deps
                .keys()
                .filter(|n| !done.contains(*n))
                .cloned()
                .collect();
            return Err(PlanError::Cycle(stuck));
        }
        for n in ready {
            done.insert(n.clone());
            order.push(n);
        }
    }
    let mut scopes: BTreeMap<String, Scope_> = BTreeMap::new();
    let mut plan = Plan {
        environment: solver.env.name.clone(),
        instances: vec![],
        externals: vec![],
    };
    let mut used_externals = BTreeSet::new();
    // (external, `per_consumer` key) -> the requirements bound to that binding.
    let mut claims: BTreeMap<(usize, Option<String>), Vec<Claim>> = BTreeMap::new();
    let mut own_values: BTreeMap<usize, BTreeMap<String, BTreeMap<String, Value>>> =
        BTreeMap::new();
    for name in &order {
        let inst = &insts[by_pkg[name]];
        let config = config_values(solver, inst)?;
        let mut scope = Scope_ {
            config,
            bindings: BTreeMap::new(),
        };
        let mut bindings = BTreeMap::new();
        for req in &inst.doc.requires {
            let Some((cand, _)) = inst.choices.get(&req.name) else {
                continue;
            };
            let binding = match cand {
                Candidate::Unbound => None,
                Candidate::External(e) => {
                    let ext = &solver.env.externals[*e];
                    used_externals.insert(*e);
                    let names = [inst.name.as_str(), inst.doc.id.as_str()];
                    if !ext.serves(&names) {
                        return Err(PlanError::Render {
                            instance: inst.name.clone(),
                            message: format!(
                                "requirement `{}` was bound to external {} although its `consumers` ({}) do not name {} (hint: name the instance in externals[{e}].consumers)",
                                req.name,
                                ext.name,
                                ext.consumers.join(", "),
                                inst.name
                            ),
                        });
                    }
                    let own = ext.own_binding(&names);
                    let mut values: BTreeMap<String, Value> = ext
                        .binding
                        .iter()
                        .map(|(k, v)| (k.clone(), config_value(v)))
                        .collect();
                    if let Some(key) = own {
                        let fields: BTreeMap<String, Value> = ext.per_consumer[key]
                            .iter()
                            .map(|(k, v)| (k.clone(), config_value(v)))
                            .collect();
                        values.extend(fields.clone());
                        own_values
                            .entry(*e)
                            .or_default()
                            .insert(inst.name.clone(), fields);
                    }
                    claims
                        .entry((*e, own.map(str::to_string)))
                        .or_default()
                        .push(Claim {
                            consumer: inst.name.clone(),
                            req: req.name.clone(),
                            dedicated: req.scope == Scope::Dedicated,
                        });
                    Some(Binding {
                        interface: ext.interface.clone(),
                        version: ext.version.clone(),
                        provider: ProviderRef::External(ext.name.clone()),
                        values,
                    })
                }
                Candidate::Provider { .. } => {
                    let pname = provider_of(inst, &req.name).expect("provider instance");
                    let provider = &insts[by_pkg[&pname]];
                    let offer = matching_provide(
                        &provider.doc,
                        &req.interface,
                        &req.version,
                        &req.features,
                    )
                    .ok_or_else(|| PlanError::Render {
                        instance: inst.name.clone(),
                        message: format!(
                            "{} {} offers no matching `{}`",
                            provider.doc.id, provider.doc.version, req.interface
                        ),
                    })?;
                    let pscope = &scopes[&pname];
                    let mut values = BTreeMap::new();
                    for (field, t) in &offer.binding {
                        let v = render(solver, t, provider, pscope).map_err(|message| {
                            PlanError::Render {
                                instance: pname.clone(),
                                message: format!(
                                    "binding `{}` field `{field}`: {message}",
                                    offer.interface
                                ),
                            }
                        })?;
                        values.insert(field.clone(), v);
                    }
                    Some(Binding {
                        interface: offer.interface.clone(),
                        version: offer.version.clone(),
                        provider: ProviderRef::Instance(pname),
                        values,
                    })
                }
            };
            scope
                .bindings
                .insert(req.name.clone(), binding.as_ref().map(|b| b.values.clone()));
            if let Some(b) = binding {
                bindings.insert(req.name.clone(), b);
            }
        }
        let mut tasks = Vec::new();
        for t in &inst.doc.tasks {
            let mut env = BTreeMap::new();
            for (k, tmpl) in &t.env {
                let v =
                    render(solver, tmpl, inst, &scope).map_err(|message| PlanError::Render {
                        instance: inst.name.clone(),
                        message: format!("task `{}` env {k}: {message}", t.name),
                    })?;
                env.insert(k.clone(), v);
            }
            tasks.push(PlannedTask {
                name: t.name.clone(),
                image: t.image.clone(),
                command: t.command.clone(),
                ports: t.ports.clone(),
                env,
                memory_mib: t.memory_mib,
                cpus: t.cpus,
                instances: t.instances,
                health: t.health.clone(),
                volumes: t.volumes.clone(),
                stop_timeout_s: t.stop_timeout_s,
                artifacts: inst.doc.artifacts.clone(),
            });
        }
        let depends_on: Vec<String> = deps[name].iter().cloned().collect();
        let dedicated_to = match &inst.pkg {
            Pkg::Dedicated(d) => Some(names[&d.consumer].clone()),
            _ => None,
        };
        plan.instances.push(PlannedInstance {
            name: inst.name.clone(),
            service: inst.doc.id.clone(),
            version: inst.doc.version.clone(),
            license: inst.doc.license.clone(),
            reason: super::reason::reason(solver, inst, &insts),
            dedicated_to,
            bindings,
            depends_on,
            tasks,
        });
        scopes.insert(name.clone(), scope);
    }
    for ((e, own), users) in &claims {
        if users.len() > 1 && users.iter().any(|u| u.dedicated) {
            return Err(shared_dedicated(solver, *e, own.as_deref(), users));
        }
    }
    for e in used_externals {
        let ext = &solver.env.externals[e];
        plan.externals.push(PlannedExternal {
            name: ext.name.clone(),
            interface: ext.interface.clone(),
            version: ext.version.clone(),
            values: ext
                .binding
                .iter()
                .map(|(k, v)| (k.clone(), config_value(v)))
                .collect(),
            per_consumer: own_values.remove(&e).unwrap_or_default(),
        });
    }
    Ok(plan)
}

/// A requirement bound to one binding of an external.
struct Claim {
    consumer: String,
    req: String,
    dedicated: bool,
}

/// Two requirements, one of them dedicated, on one binding of an external:
/// which, and how the environment tells them apart.
fn shared_dedicated(solver: &Solver, e: usize, own: Option<&str>, users: &[Claim]) -> PlanError {
    let ext = &solver.env.externals[e];
    let who: Vec<String> = users
        .iter()
        .map(|u| {
            let scope = if u.dedicated { "dedicated" } else { "shared" };
            format!("{}'s `{}` ({scope})", u.consumer, u.req)
        })
        .collect();
    let binding = match own {
        None => "its binding".to_string(),
        Some(key) => format!("the binding per_consumer.{key}"),
    };
    let mut consumers: Vec<&str> = users.iter().map(|u| u.consumer.as_str()).collect();
    consumers.dedup();
    let hint = if consumers.len() > 1 {
        // The fields that tell consumers apart: the binding's, but where the
        // server is; a database, user and password when it names none.
        let mut fields: Vec<(&str, bool)> = ext
            .binding
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "host" | "port" | "url"))
            .map(|(k, v)| (k.as_str(), matches!(v, ConfigValue::Secret(_))))
            .collect();
        if fields.is_empty() {
            fields = vec![("database", false), ("user", false), ("password", true)];
        }
        let entries: Vec<String> = consumers
            .iter()
            .map(|c| {
                let values: Vec<String> = fields
                    .iter()
                    .map(|(k, secret)| match secret {
                        true => format!(
                            "\"{k}\": {{\"secret_file\": \"secrets/{}-{c}-{k}\"}}",
                            ext.name
                        ),
                        false => format!("\"{k}\": \"{c}\""),
                    })
                    .collect();
                format!("\"{c}\": {{{}}}", values.join(", "))
            })
            .collect();
        format!(
            "give each consumer a binding of its own in externals[{e}].per_consumer, e.g. {{{}}}, or declare another external and say which consumers each serves with `consumers`",
            entries.join(", ")
        )
    } else {
        format!(
            "one consumer's requirements cannot be told apart by per_consumer; declare another external of `{}` and name {} in its `consumers`",
            ext.interface, consumers[0]
        )
    };
    PlanError::SharedExternal {
        external: ext.name.clone(),
        binding,
        users: who,
        hint,
    }
}

fn collect(
    solver: &Solver,
    solution: &SelectedDependencies<Solver>,
) -> Result<Vec<Inst>, PlanError> {
    let mut insts = Vec::new();
    let mut choices: BTreeMap<String, Vec<(&Pkg, String, Candidate, usize)>> = BTreeMap::new();
    for (pkg, ver) in solution {
        match (pkg, ver) {
            (Pkg::Choice(c), Ver::Candidate(i)) => {
                let cands = solver.candidates(c).map_err(|e| PlanError::Source(e.0))?;
                let key = format!("{:?}", c.consumer);
                choices.entry(key).or_default().push((
                    &c.consumer,
                    c.spec.name.clone(),
                    cands[*i as usize].clone(),
                    cands.len(),
                ));
            }
            (Pkg::Shared(_) | Pkg::Dedicated(_), Ver::Release(v)) => {
                let service = pkg.service().unwrap_or_default();
                let s = solver
                    .service(service)
                    .map_err(|e| PlanError::Source(e.0))?
                    .expect("solved service exists");
                let entry = s.entry(v).expect("solved release exists");
                let doc = solver
                    .source
                    .document(service, &entry.version)
                    .map_err(PlanError::Source)?;
                insts.push(Inst {
                    pkg: pkg.clone(),
                    name: String::new(),
                    version: v.clone(),
                    doc,
                    choices: BTreeMap::new(),
                });
            }
            _ => {}
        }
    }
    for i in &mut insts {
        if let Some(cs) = choices.remove(&format!("{:?}", i.pkg)) {
            for (_, req, cand, n) in cs {
                i.choices.insert(req, (cand, n));
            }
        }
    }
    insts.sort_by(|a, b| format!("{:?}", a.pkg).cmp(&format!("{:?}", b.pkg)));
    Ok(insts)
}

fn name_instances(solver: &Solver, insts: &[Inst]) -> Result<HashMap<Pkg, String>, PlanError> {
    let mut names: HashMap<Pkg, String> = HashMap::new();
    let mut derived: BTreeMap<String, Vec<&Pkg>> = BTreeMap::new();
    for i in insts.iter().filter(|i| matches!(i.pkg, Pkg::Shared(_))) {
        match solver.stable_name(&i.pkg) {
            Some(n) => {
                names.insert(i.pkg.clone(), n);
            }
            None => {
                let id = i.pkg.service().unwrap_or_default();
                derived
                    .entry(id.rsplit('.').next().unwrap_or(id).to_string())
                    .or_default()
                    .push(&i.pkg);
            }
        }
    }
    let taken: BTreeSet<String> = names.values().cloned().collect();
    for (label, pkgs) in derived {
        for p in &pkgs {
            let name = if pkgs.len() == 1 && is_name(&label) && !taken.contains(&label) {
                label.clone()
            } else {
                let dashed = p.service().unwrap_or_default().replace('.', "-");
                if is_name(&dashed) {
                    dashed
                } else {
                    format!("s-{dashed}")
                }
            };
            names.insert((*p).clone(), name);
        }
    }
    fn dedicated(pkg: &Pkg, names: &mut HashMap<Pkg, String>) -> String {
        if let Some(n) = names.get(pkg) {
            return n.clone();
        }
        let Pkg::Dedicated(d) = pkg else {
            return String::new();
        };
        let n = dedicated_name(&dedicated(&d.consumer, names), &d.req);
        names.insert(pkg.clone(), n.clone());
        n
    }
    for i in insts {
        dedicated(&i.pkg, &mut names);
    }
    let mut all: Vec<(&String, String)> = names.iter().map(|(p, n)| (n, p.to_string())).collect();
    all.sort();
    for pair in all.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(PlanError::NameClash {
                name: pair[0].0.clone(),
                first: pair[0].1.clone(),
                second: pair[1].1.clone(),
            });
        }
    }
    Ok(names)
}

/// The first offer of `interface` whose version is in `range` with `features`.
fn matching_provide<'d>(
    doc: &'d Document,
    interface: &str,
    range: &str,
    features: &[String],
) -> Option<&'d Provide> {
    let range = parse_range(range).ok()?;
    doc.provides.iter().find(|p| {
        p.interface == interface
            && parse_version(&p.version).is_ok_and(|v| range.matches(&v))
            && features.iter().all(|f| p.features.contains(f))
    })
}

fn config_value(v: &ConfigValue) -> Value {
    match v {
        ConfigValue::Literal(s) => Value::text(s.clone()),
        ConfigValue::Secret(f) => Value(vec![Part::Secret(SecretRef::File {
            path: f.secret_file.clone(),
        })]),
    }
}

/// Config values of an instance: environment config by instance name, then by
/// service id, then generated, then the document's default.
fn config_values(solver: &Solver, inst: &Inst) -> Result<BTreeMap<String, Value>, PlanError> {
    let env = &solver.env.config;
    let mut out = BTreeMap::new();
    for c in &inst.doc.config {
        let given = env
            .get(&inst.name)
            .and_then(|m| m.get(&c.name))
            .or_else(|| env.get(&inst.doc.id).and_then(|m| m.get(&c.name)));
        let value = match given {
            Some(ConfigValue::Literal(s)) => {
                if c.secret {
                    return Err(PlanError::Config {
                        instance: inst.name.clone(),
                        name: c.name.clone(),
                        message: "is a secret but the environment gives it as plain text".into(),
                        hint: format!("write it to a file only its owner can read and use {{\"secret_file\": \"PATH\"}} in config.{}.{}", inst.name, c.name),
                    });
                }
                if let Some(p) = &c.pattern {
                    let ok = regex::Regex::new(&format!("^(?:{p})$"))
                        .map(|r| r.is_match(s))
                        .unwrap_or(true);
                    if !ok {
                        return Err(PlanError::Config {
                            instance: inst.name.clone(),
                            name: c.name.clone(),
                            message: format!("value {s:?} does not match the pattern {p}"),
                            hint: c.description.clone(),
                        });
                    }
                }
                Value::text(s.clone())
            }
            Some(v @ ConfigValue::Secret(_)) => config_value(v),
            None if c.generate => Value(vec![Part::Secret(SecretRef::Generated {
                instance: inst.name.clone(),
                name: c.name.clone(),
            })]),
            None => match &c.default {
                Some(d) => Value::text(d.clone()),
                None if c.required => {
                    return Err(PlanError::Config {
                        instance: inst.name.clone(),
                        name: c.name.clone(),
                        message: format!("is required by {} and has no value", inst.doc.id),
                        hint: format!(
                            "add it to the environment under config.{}.{}{}",
                            inst.doc.id,
                            c.name,
                            if c.description.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", c.description)
                            }
                        ),
                    })
                }
                None => Value::text(""),
            },
        };
        out.insert(c.name.clone(), value);
    }
    Ok(out)
}

/// Renders one template in the scope of `inst`.
fn render(solver: &Solver, template: &str, inst: &Inst, scope: &Scope_) -> Result<Value, String> {
    let mut parts: Vec<Part> = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            text.push('$');
            rest = r;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            text.push('$');
            rest = after;
            continue;
        };
        let end = body
            .find('}')
            .ok_or_else(|| format!("`${{` in {template:?} is not closed"))?;
        let value = resolve(solver, &body[..end], inst, scope)?;
        for p in value.0 {
            match p {
                Part::Text(t) => text.push_str(&t),
                secret => {
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(secret);
                }
            }
        }
        rest = &body[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() || parts.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(Value(parts))
}

fn resolve(solver: &Solver, reference: &str, inst: &Inst, scope: &Scope_) -> Result<Value, String> {
    let parts: Vec<&str> = reference.split('.').collect();
    match parts.as_slice() {
        ["config", name] => scope
            .config
            .get(*name)
            .cloned()
            .ok_or_else(|| format!("`${{config.{name}}}` names no config entry")),
        ["self", task, port, rest @ ..] if rest.len() <= 1 => {
            let t = inst
                .doc
                .task(task)
                .ok_or_else(|| format!("`${{{reference}}}`: no task `{task}`"))?;
            let p = t
                .port(port)
                .ok_or_else(|| format!("`${{{reference}}}`: task `{task}` has no port `{port}`"))?;
            // Docker: the DNS name drivers and exporters give the task; host: all on loopback.
            let host = match solver.env.target.kind {
                TargetKind::Host => "127.0.0.1".to_string(),
                TargetKind::Docker => format!("{}-{task}", inst.name),
            };
            Ok(Value::text(match rest {
                [] => format!("{host}:{}", p.port),
                ["host"] => host,
                ["port"] => p.port.to_string(),
                _ => return Err(format!("`${{{reference}}}`: write `.host` or `.port`")),
            }))
        }
        [req, field] => {
            let binding = scope
                .bindings
                .get(*req)
                .ok_or_else(|| format!("`${{{reference}}}` names no requirement `{req}`"))?;
            let Some(values) = binding else {
                return Ok(Value::text(""));
            };
            if let Some(v) = values.get(*field) {
                return Ok(v.clone());
            }
            let interface = inst
                .doc
                .requires
                .iter()
                .find(|r| r.name == *req)
                .map(|r| r.interface.clone())
                .unwrap_or_default();
            let declared = solver
                .interface(&interface)
                .ok()
                .flatten()
                .is_some_and(|ix| ix.interface.field(field).is_some());
            if declared {
                Ok(Value::text(""))
            } else {
                Err(format!(
                    "`${{{reference}}}`: interface `{interface}` has no binding field `{field}`"
                ))
            }
        }
        _ => Err(format!("`${{{reference}}}` is not a reference")),
    }
}
