//! Executes parsed trees with Go `text/template` semantics: pipelines pass each command's result
//! as the last argument of the next, variables are scoped to the enclosing control structure,
//! `range` visits maps in key order, and every runtime mistake is an error, never a panic.
//! A step budget and a nesting limit bound runaway templates.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use super::functions::Dialect;
use super::lexer::Pos;
use super::parser::{Cmd, Node, Pipe, Term, Tree};
use super::rule::QueryFn;
use super::value::{ListKind, MapKind, Value};
use super::{functions, notification};

/// What functions may reach outside their arguments.
pub struct Env<'a> {
    /// Prometheus' `query`: runs a PromQL instant query (absent for notification templates).
    pub query: Option<&'a QueryFn<'a>>,
    /// The server's external URL (Prometheus' `externalURL`, `pathPrefix`).
    pub external_url: &'a str,
    /// The evaluation time, ns (Alertmanager's `since`).
    pub now: i64,
}

/// How a template executes.
#[derive(Clone, Copy)]
pub struct Options {
    pub dialect: Dialect,
    /// Escape printed values for HTML (`html/template`), except trusted `Html` values.
    pub html: bool,
    /// Go's `missingkey=zero` (Alertmanager): a missing map entry reads as the zero value.
    pub missing_key_zero: bool,
}

/// The named templates a `{{template}}` call can reach: the text's own definitions first.
pub struct Library<'a> {
    pub local: &'a BTreeMap<String, Arc<Tree>>,
    pub shared: &'a BTreeMap<String, Arc<Tree>>,
}

impl Library<'_> {
    fn get(&self, name: &str) -> Option<Arc<Tree>> {
        self.local.get(name).or_else(|| self.shared.get(name)).cloned()
    }
}

/// An execution error: the template and position it happened at.
#[derive(Debug)]
pub struct ExecError {
    pub template: String,
    pub pos: Pos,
    pub message: String,
}

/// Maximum nesting of `{{template}}` calls (Go allows 100000; ours must fit the thread stack).
const MAX_DEPTH: usize = 100;
/// Maximum nodes and commands executed by one expansion.
const MAX_STEPS: u64 = 2_000_000;
/// Maximum output size in bytes.
const MAX_OUTPUT: usize = 16 << 20;

enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'a> {
    library: &'a Library<'a>,
    env: &'a Env<'a>,
    options: Options,
    vars: Vec<(String, Value)>,
    out: String,
    depth: usize,
    steps: u64,
    template: String,
}

/// Execute `tree` with `dot` as data.
pub fn execute(
    tree: &Tree,
    dot: Value,
    library: &Library<'_>,
    env: &Env<'_>,
    options: Options,
) -> Result<String, ExecError> {
    let mut state = State {
        library,
        env,
        options,
        vars: vec![("$".into(), dot.clone())],
        out: String::new(),
        depth: 0,
        steps: 0,
        template: tree.name.clone(),
    };
    state.walk_list(&tree.body, &dot)?;
    Ok(state.out)
}

type Res<T> = Result<T, ExecError>;

impl State<'_> {
    fn err<T>(&self, pos: Pos, message: impl Into<String>) -> Res<T> {
        Err(ExecError { template: self.template.clone(), pos, message: message.into() })
    }

    fn step(&mut self, pos: Pos) -> Res<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return self.err(pos, "execution step limit exceeded");
        }
        if self.out.len() > MAX_OUTPUT {
            return self.err(pos, "output size limit exceeded");
        }
        Ok(())
    }

    fn walk_list(&mut self, nodes: &[Node], dot: &Value) -> Res<Flow> {
        for node in nodes {
            match self.walk(node, dot)? {
                Flow::Normal => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Normal)
    }

    /// Run a list in its own variable scope.
    fn walk_scoped(&mut self, nodes: &[Node], dot: &Value) -> Res<Flow> {
        let mark = self.vars.len();
        let flow = self.walk_list(nodes, dot);
        self.vars.truncate(mark);
        flow
    }

    fn walk(&mut self, node: &Node, dot: &Value) -> Res<Flow> {
        match node {
            Node::Text(t) => {
                self.step(Pos::default())?;
                self.out.push_str(t);
            }
            Node::Action(pipe) => {
                self.step(pipe.pos)?;
                let value = self.pipe(pipe, dot)?;
                if pipe.vars.is_empty() {
                    self.print(&value);
                }
            }
            Node::If { pipe, then, otherwise } => {
                self.step(pipe.pos)?;
                let mark = self.vars.len();
                let cond = self.pipe(pipe, dot)?;
                let flow = if cond.truth() { self.walk_scoped(then, dot) } else { self.walk_scoped(otherwise, dot) };
                self.vars.truncate(mark);
                return flow;
            }
            Node::With { pipe, body, otherwise } => {
                self.step(pipe.pos)?;
                let mark = self.vars.len();
                let value = self.pipe(pipe, dot)?;
                let flow =
                    if value.truth() { self.walk_scoped(body, &value) } else { self.walk_scoped(otherwise, dot) };
                self.vars.truncate(mark);
                return flow;
            }
            Node::Range { pipe, body, otherwise } => {
                self.step(pipe.pos)?;
                let mark = self.vars.len();
                let flow = self.range(pipe, body, otherwise, dot);
                self.vars.truncate(mark);
                flow?;
            }
            Node::Template { pos, name, pipe } => {
                self.step(*pos)?;
                let Some(tree) = self.library.get(name) else {
                    return self.err(*pos, format!("no such template {name:?}"));
                };
                let value = match pipe {
                    Some(p) => {
                        let mark = self.vars.len();
                        let v = self.pipe(p, dot);
                        self.vars.truncate(mark);
                        v?
                    }
                    None => Value::Nil,
                };
                if self.depth >= MAX_DEPTH {
                    return self.err(*pos, format!("exceeded maximum template depth ({MAX_DEPTH})"));
                }
                let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), value.clone())]);
                let saved_name = std::mem::replace(&mut self.template, tree.name.clone());
                self.depth += 1;
                let result = self.walk_list(&tree.body, &value);
                self.depth -= 1;
                self.vars = saved_vars;
                self.template = saved_name;
                result?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, pipe: &Pipe, body: &[Node], otherwise: &[Node], dot: &Value) -> Res<()> {
        let value = self.pipe(pipe, dot)?;
        let items: Vec<(Value, Value)> = match &value {
            Value::List(items, _) => items.iter().enumerate().map(|(i, v)| (Value::Int(i as i64), v.clone())).collect(),
            Value::Map(map, _) => map.iter().map(|(k, v)| (Value::Str(k.clone()), v.clone())).collect(),
            Value::Int(n) => {
                if *n > MAX_STEPS as i64 {
                    return self.err(pipe.pos, "execution step limit exceeded");
                }
                (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect()
            }
            Value::Nil => Vec::new(),
            other => return self.err(pipe.pos, format!("range can't iterate over {}", other.display())),
        };
        if items.is_empty() {
            self.walk_scoped(otherwise, dot)?;
            return Ok(());
        }
        // The declared variables were pushed by `pipe`; each iteration overwrites them.
        let base = self.vars.len();
        for (key, elem) in items {
            match pipe.vars.len() {
                1 => self.set_declared(base, 1, 0, elem.clone()),
                2 => {
                    self.set_declared(base, 2, 0, key);
                    self.set_declared(base, 2, 1, elem.clone());
                }
                _ => {}
            }
            match self.walk_scoped(body, &elem)? {
                Flow::Break => break,
                Flow::Normal | Flow::Continue => {}
            }
        }
        Ok(())
    }

    fn set_declared(&mut self, base: usize, count: usize, which: usize, value: Value) {
        if let Some(slot) = self.vars.get_mut(base + which - count) {
            slot.1 = value;
        }
    }

    /// Write a value: Go's print of it, HTML-escaped when rendering HTML.
    fn print(&mut self, value: &Value) {
        match value {
            Value::Html(s) => self.out.push_str(s),
            other if self.options.html => self.out.push_str(&functions::html_escape(&other.display())),
            other => self.out.push_str(&other.display()),
        }
    }

    fn lookup_var(&self, name: &str, pos: Pos) -> Res<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.err(pos, format!("undefined variable: {name}")),
        }
    }

    fn pipe(&mut self, pipe: &Pipe, dot: &Value) -> Res<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(cmd, dot, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        if pipe.assign {
            for name in &pipe.vars {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value.clone(),
                    None => return self.err(pipe.pos, format!("undefined variable: {name}")),
                }
            }
        } else {
            for name in &pipe.vars {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Cmd, has_final: bool) -> Res<()> {
        if cmd.args.len() > 1 || has_final {
            return self.err(cmd.pos, format!("can't give argument to non-function {}", term_text(&cmd.args[0])));
        }
        Ok(())
    }

    fn command(&mut self, cmd: &Cmd, dot: &Value, last: Option<Value>) -> Res<Value> {
        self.step(cmd.pos)?;
        let rest = &cmd.args[1..];
        match &cmd.args[0] {
            Term::Func(name) => self.call(cmd.pos, name, rest, dot, last),
            Term::Field(fields) => self.field_chain(cmd.pos, dot.clone(), fields, rest, dot, last),
            Term::Var(name, fields) => {
                let receiver = self.lookup_var(name, cmd.pos)?;
                if fields.is_empty() {
                    self.not_a_function(cmd, last.is_some())?;
                    return Ok(receiver);
                }
                self.field_chain(cmd.pos, receiver, fields, rest, dot, last)
            }
            Term::Chain(base, fields) => {
                let receiver = self.term(cmd.pos, base, dot)?;
                self.field_chain(cmd.pos, receiver, fields, rest, dot, last)
            }
            other => {
                self.not_a_function(cmd, last.is_some())?;
                self.term(cmd.pos, other, dot)
            }
        }
    }

    /// The value of an operand used as an argument.
    fn term(&mut self, pos: Pos, term: &Term, dot: &Value) -> Res<Value> {
        Ok(match term {
            Term::Dot => dot.clone(),
            Term::Nil => Value::Nil,
            Term::Bool(b) => Value::Bool(*b),
            Term::Int(i) => Value::Int(*i),
            Term::Float(f) => Value::Float(*f),
            Term::Str(s) => Value::Str(s.clone()),
            Term::Func(name) => self.call(pos, name, &[], dot, None)?,
            Term::Field(fields) => self.field_chain(pos, dot.clone(), fields, &[], dot, None)?,
            Term::Var(name, fields) => {
                let v = self.lookup_var(name, pos)?;
                if fields.is_empty() { v } else { self.field_chain(pos, v, fields, &[], dot, None)? }
            }
            Term::Chain(base, fields) => {
                let v = self.term(pos, base, dot)?;
                self.field_chain(pos, v, fields, &[], dot, None)?
            }
            Term::Pipe(p) => {
                let mark = self.vars.len();
                let v = self.pipe(p, dot);
                self.vars.truncate(mark);
                v?
            }
        })
    }

    fn args(&mut self, pos: Pos, terms: &[Term], dot: &Value, last: Option<Value>) -> Res<Vec<Value>> {
        let mut values = Vec::with_capacity(terms.len() + 1);
        for t in terms {
            values.push(self.term(pos, t, dot)?);
        }
        values.extend(last);
        Ok(values)
    }

    fn call(&mut self, pos: Pos, name: &str, terms: &[Term], dot: &Value, last: Option<Value>) -> Res<Value> {
        let Some(def) = self.options.dialect.lookup(name) else {
            return self.err(pos, format!("function {name:?} not defined"));
        };
        let count = terms.len() + usize::from(last.is_some());
        if let Err(e) = def.check_arity(count) {
            return self.err(pos, e);
        }
        if name == "and" || name == "or" {
            // Short-circuit: stop at the first false (`and`) or true (`or`) argument.
            let mut value = Value::Nil;
            for t in terms {
                value = self.term(pos, t, dot)?;
                if value.truth() != (name == "and") {
                    return Ok(value);
                }
            }
            if let Some(l) = last {
                value = l;
            }
            return Ok(value);
        }
        let values = self.args(pos, terms, dot, last)?;
        match (def.imp)(self.env, values) {
            Ok(v) => Ok(v),
            Err(e) => self.err(
                pos,
                format!("error calling {name}: {}", e.trim_start_matches(&format!("error calling {name}: "))),
            ),
        }
    }

    /// Evaluate `receiver.F1.F2…`; only the last element may take arguments (a method call).
    fn field_chain(
        &mut self,
        pos: Pos,
        mut receiver: Value,
        fields: &[String],
        terms: &[Term],
        dot: &Value,
        last: Option<Value>,
    ) -> Res<Value> {
        let n = fields.len();
        for (i, field) in fields.iter().enumerate() {
            let final_field = i + 1 == n;
            let args = if final_field { self.args(pos, terms, dot, last.clone())? } else { Vec::new() };
            receiver = self.field(pos, &receiver, field, args)?;
        }
        Ok(receiver)
    }

    /// One field or method of a value.
    fn field(&self, pos: Pos, receiver: &Value, name: &str, args: Vec<Value>) -> Res<Value> {
        let has_args = !args.is_empty();
        if let Some(result) = method(receiver, name, args) {
            return result.or_else(|e| self.err(pos, format!("error calling {name}: {e}")));
        }
        if has_args {
            return self.err(pos, format!("{name} is not a method but has arguments"));
        }
        match receiver {
            Value::Map(map, kind) => Ok(match map.get(name) {
                Some(v) => v.clone(),
                None if self.options.missing_key_zero && *kind != MapKind::Any => Value::Str(String::new()),
                None => Value::Nil,
            }),
            Value::Struct(s) => match s.fields.iter().find(|(f, _)| *f == name) {
                Some((_, v)) => Ok(v.clone()),
                None => self.err(pos, format!("can't evaluate field {name} in type {}", s.type_name)),
            },
            Value::Nil => Ok(Value::Nil),
            other => self.err(pos, format!("can't evaluate field {name} in type {}", other.type_name())),
        }
    }
}

/// The methods of the Go types templates see. `None` when `receiver` has no such method.
fn method(receiver: &Value, name: &str, args: Vec<Value>) -> Option<Result<Value, String>> {
    let exact = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("wrong number of args for {name}: want {n} got {}", args.len()))
        }
    };
    match receiver {
        Value::Map(map, MapKind::Kv) => {
            let r = match name {
                "SortedPairs" => exact(0).map(|_| notification::sorted_pairs(map)),
                "Names" => exact(0).map(|_| notification::pair_column(&notification::sorted_pairs(map), "Name")),
                "Values" => exact(0).map(|_| notification::pair_column(&notification::sorted_pairs(map), "Value")),
                "Remove" => exact(1).and_then(|_| {
                    let drop = functions::arg_strings(&args[0])?;
                    let kept = map.iter().filter(|(k, _)| !drop.contains(k)).map(|(k, v)| (k.clone(), v.clone()));
                    Ok(Value::Map(Rc::new(kept.collect()), MapKind::Kv))
                }),
                _ => return None,
            };
            Some(r)
        }
        Value::List(items, ListKind::Alerts) => {
            let status = match name {
                "Firing" => "firing",
                "Resolved" => "resolved",
                _ => return None,
            };
            Some(exact(0).map(|_| notification::alerts_with_status(items, status)))
        }
        Value::List(_, ListKind::Pairs) => match name {
            "Names" => Some(exact(0).map(|_| notification::pair_column(receiver, "Name"))),
            "Values" => Some(exact(0).map(|_| notification::pair_column(receiver, "Value"))),
            _ => None,
        },
        Value::Time(t) => {
            let r = match name {
                "Format" => exact(1)
                    .and_then(|_| Ok(Value::Str(super::gotime::format_layout(*t, &functions::arg_str(&args[0])?)))),
                "Unix" => exact(0).map(|_| Value::Int(super::gotime::unix_seconds(*t))),
                "UnixMilli" => exact(0).map(|_| Value::Int(t.div_euclid(1_000_000))),
                "UnixNano" => exact(0).map(|_| Value::Int(*t)),
                "UTC" | "Local" => exact(0).map(|_| Value::Time(*t)),
                "IsZero" => exact(0).map(|_| Value::Bool(*t == super::gotime::GO_ZERO_TIME)),
                "String" => exact(0).map(|_| Value::Str(super::gotime::time_string(*t))),
                _ => return None,
            };
            Some(r)
        }
        Value::Duration(d) => {
            let r = match name {
                "Seconds" => exact(0).map(|_| Value::Float(*d as f64 / 1e9)),
                "Minutes" => exact(0).map(|_| Value::Float(*d as f64 / 6e10)),
                "Hours" => exact(0).map(|_| Value::Float(*d as f64 / 3.6e12)),
                "String" => exact(0).map(|_| Value::Str(super::gotime::duration_string(*d))),
                _ => return None,
            };
            Some(r)
        }
        _ => None,
    }
}

/// An operand as written, for error messages.
fn term_text(term: &Term) -> String {
    match term {
        Term::Dot => ".".into(),
        Term::Nil => "nil".into(),
        Term::Bool(b) => b.to_string(),
        Term::Int(i) => i.to_string(),
        Term::Float(f) => f.to_string(),
        Term::Str(s) => format!("{s:?}"),
        Term::Func(n) => n.clone(),
        Term::Field(f) => format!(".{}", f.join(".")),
        Term::Var(v, f) if f.is_empty() => v.clone(),
        Term::Var(v, f) => format!("{v}.{}", f.join(".")),
        Term::Chain(_, f) => format!("(…).{}", f.join(".")),
        Term::Pipe(_) => "(pipeline)".into(),
    }
}

// Pharos — alerting/src/template/exec.rs
