//! Branches, loops, computed variables, groups and custom metrics: `when`,
//! `repeat`, `repeat_until`, `repeat_while`, `for_each`, `set`, `group`,
//! `counter`, `trend`. (`until`, `while` and `var` are Rhai
//! keywords, hence the function names and the `variable` key.)

use rhai::{Array, Dynamic, Engine, FnPtr, Map};

use super::{Options, RResult, steps};
use crate::spec::{
    Cmp, Condition, Control, Loop, MetricKind, MetricValue, ScriptFn, Step, Subject, Test,
};

/// Most rounds of a `repeat` with `until` or `while`, unless `max` says otherwise.
const DEFAULT_MAX: u32 = 100;

/// Registers `when`, `repeat`, `repeat_until`, `repeat_while`, `for_each` and `set`.
pub fn register(engine: &mut Engine) {
    engine.register_fn("when", |cond: Dynamic, then: Array| {
        when(cond, then, Array::new())
    });
    engine.register_fn("when", when);
    engine.register_fn("repeat", |times: i64, body: Array| {
        let n = u32::try_from(times)
            .map_err(|_| format!("repeat: the count must be 0 or more, got {times}"))?;
        repeat(Loop::Times(n), n, None, body)
    });
    for (name, until) in [("repeat_until", true), ("repeat_while", false)] {
        engine.register_fn(name, move |cond: Dynamic, body: Array| {
            repeat_on(name, until, cond, body, Map::new())
        });
        engine.register_fn(name, move |cond: Dynamic, body: Array, options: Map| {
            repeat_on(name, until, cond, body, options)
        });
    }
    engine.register_fn("repeat_while_running", |body: Array| {
        repeat(Loop::WhileRunning, u32::MAX, None, body)
    });
    engine.register_fn("for_each", |list: &str, item: &str, body: Array| {
        Ok::<_, Box<rhai::EvalAltResult>>(Step::Control(Control::ForEach {
            list: list.to_owned(),
            item: item.to_owned(),
            steps: steps(body, "for_each")?,
        }))
    });
    engine.register_fn("attempt", |body: Array| -> RResult<Step> {
        Ok(Step::Control(Control::Attempt {
            steps: steps(body, "attempt")?,
        }))
    });
    engine.register_fn("group", |name: &str, body: Array| -> RResult<Step> {
        Ok(Step::Control(Control::Group {
            name: name.to_owned(),
            steps: steps(body, &format!("group `{name}`"))?,
        }))
    });
    engine.register_fn("counter", |name: &str| {
        metric(MetricKind::Counter, name, Dynamic::from(1_i64))
    });
    engine.register_fn("counter", |name: &str, value: Dynamic| {
        metric(MetricKind::Counter, name, value)
    });
    engine.register_fn("trend", |name: &str, value: Dynamic| {
        metric(MetricKind::Trend, name, value)
    });
    engine.register_fn("set", |var: &str, f: FnPtr| {
        Step::Control(Control::Set {
            var: var.to_owned(),
            f: ScriptFn(f),
        })
    });
}

/// `counter(name, value)` / `trend(name, value)`: value a number, a
/// `"{variable}"` template or a `|ctx|` closure.
fn metric(kind: MetricKind, name: &str, value: Dynamic) -> RResult<Step> {
    let what = if kind == MetricKind::Counter {
        "counter"
    } else {
        "trend"
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-'))
    {
        return Err(format!(
            "{what}({name:?}, …): name it with letters, digits, `_` and `-` (thresholds use it)"
        )
        .into());
    }
    let t = value.type_name();
    let value = if let Some(f) = value.clone().try_cast::<FnPtr>() {
        MetricValue::Script(ScriptFn(f))
    } else if let Ok(n) = value.as_int() {
        MetricValue::Number(n as f64)
    } else if let Ok(n) = value.as_float() {
        MetricValue::Number(n)
    } else if let Some(s) = value.try_cast::<rhai::ImmutableString>() {
        MetricValue::Template(s.to_string())
    } else {
        return Err(format!(
            "{what}({name:?}, …): the value is a number, a \"{{variable}}\" or a |ctx| closure, not a {t}"
        )
        .into());
    };
    Ok(Step::Control(Control::Metric {
        kind,
        name: name.to_owned(),
        value,
    }))
}

/// `when(condition, then, otherwise)`.
fn when(cond: Dynamic, then: Array, otherwise: Array) -> RResult<Step> {
    Ok(Step::Control(Control::When {
        cond: condition(cond, "when")?,
        then: steps(then, "when")?,
        otherwise: steps(otherwise, "when (else)")?,
    }))
}

/// `repeat_until(cond, steps, #{ max, timeout })` or `repeat_while(…)`.
fn repeat_on(name: &str, until: bool, cond: Dynamic, body: Array, options: Map) -> RResult<Step> {
    let o = Options::new(options, "repeat", &["max", "timeout"])?;
    let max = match o.int("max")? {
        Some(m) => {
            u32::try_from(m).map_err(|_| format!("{name}: `max` must be 0 or more, got {m}"))?
        }
        None => DEFAULT_MAX,
    };
    let cond = condition(cond, name)?;
    let how = if until {
        Loop::Until(cond)
    } else {
        Loop::While(cond)
    };
    repeat(how, max, o.duration("timeout")?, body)
}

fn repeat(
    until: Loop,
    max: u32,
    timeout: Option<std::time::Duration>,
    body: Array,
) -> RResult<Step> {
    Ok(Step::Control(Control::Repeat {
        until,
        max,
        timeout,
        steps: steps(body, "repeat")?,
    }))
}

/// A closure `|ctx| bool`, or `#{ variable | field | status | header | length,
/// equals | one_of | exists | gt | ge | lt | le | matches }`.
pub(super) fn condition(value: Dynamic, what: &str) -> RResult<Condition> {
    if let Some(f) = value.clone().try_cast::<FnPtr>() {
        return Ok(Condition::Script(ScriptFn(f)));
    }
    let t = value.type_name();
    let Some(map) = value.try_cast::<Map>() else {
        return Err(format!(
            "{what}: expected a closure |ctx| … or a map like #{{ variable: \"x\", equals: 1 }}, got {t}"
        )
        .into());
    };
    let keys = [
        "variable", "field", "status", "header", "length", "equals", "one_of", "exists", "gt",
        "ge", "lt", "le", "matches",
    ];
    let o = Options::new(map, "condition", &keys)?;
    let mut subjects = Vec::new();
    if let Some(v) = o.string("variable")? {
        subjects.push(Subject::Var(v));
    }
    if let Some(f) = o.string("field")? {
        subjects.push(Subject::Field(f));
    }
    if o.get("status").is_some() {
        subjects.push(Subject::Status);
    }
    if let Some(h) = o.string("header")? {
        subjects.push(Subject::Header(h.to_ascii_lowercase()));
    }
    if let Some(f) = o.string("length")? {
        subjects.push(Subject::Length(f));
    }
    let (Some(subject), 1) = (subjects.pop(), subjects.len() + 1) else {
        return Err(format!(
            "{what}: a condition looks at exactly one of `variable`, `field`, `status`, `header` or `length` (of the last response)"
        )
        .into());
    };
    let mut tests = Vec::new();
    if let Some(v) = o.get("equals") {
        tests.push(Test::Equals(rhai::serde::from_dynamic(v)?));
    }
    if let Some(v) = o.get("one_of") {
        let list = v
            .clone()
            .try_cast::<Array>()
            .ok_or(format!("{what}: `one_of` expects an array"))?;
        let values = list
            .iter()
            .map(rhai::serde::from_dynamic)
            .collect::<RResult<Vec<_>>>()?;
        tests.push(Test::OneOf(values));
    }
    if let Some(v) = o.get("exists") {
        let b = v
            .as_bool()
            .map_err(|t| format!("{what}: `exists` expects true or false, got {t}"))?;
        tests.push(Test::Exists(b));
    }
    for (key, cmp) in [
        ("gt", Cmp::Gt),
        ("ge", Cmp::Ge),
        ("lt", Cmp::Lt),
        ("le", Cmp::Le),
    ] {
        if let Some(n) = o.float(key)? {
            tests.push(Test::Compare(cmp, n));
        }
    }
    if let Some(pattern) = o.string("matches")? {
        tests.push(Test::Matches(pattern));
    }
    match tests.len() {
        1 => Ok(Condition::Compare {
            subject,
            test: tests.pop().expect("one test"),
        }),
        _ => Err(format!(
            "{what}: give exactly one test: equals, one_of, exists, gt, ge, lt, le or matches"
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Dynamic)]) -> Dynamic {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert((*k).into(), v.clone());
        }
        Dynamic::from_map(m)
    }

    #[test]
    fn conditions_read_headers_lengths_and_patterns() {
        let c = condition(
            map(&[("header", "X-Id".into()), ("matches", "^a".into())]),
            "t",
        );
        match c.unwrap() {
            Condition::Compare {
                subject: Subject::Header(h),
                test: Test::Matches(p),
            } => assert_eq!((h.as_str(), p.as_str()), ("x-id", "^a")),
            other => panic!("{other:?}"),
        }
        let c = condition(
            map(&[("length", "items".into()), ("ge", 1_i64.into())]),
            "t",
        );
        assert!(matches!(
            c.unwrap(),
            Condition::Compare {
                subject: Subject::Length(_),
                test: Test::Compare(Cmp::Ge, _)
            }
        ));
        let two = map(&[
            ("header", "a".into()),
            ("field", "b".into()),
            ("exists", true.into()),
        ]);
        let err = condition(two, "t").unwrap_err().to_string();
        assert!(err.contains("exactly one of"), "{err}");
        let none = map(&[("header", "a".into())]);
        let err = condition(none, "t").unwrap_err().to_string();
        assert!(err.contains("matches"), "{err}");
    }

    #[test]
    fn metrics_take_numbers_templates_and_closures_and_check_their_names() {
        let value = |step: RResult<Step>| match step.unwrap() {
            Step::Control(Control::Metric { value, .. }) => value,
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            value(metric(MetricKind::Counter, "carts", 2_i64.into())),
            MetricValue::Number(n) if n == 2.0
        ));
        assert!(matches!(
            value(metric(MetricKind::Trend, "total", "{total}".into())),
            MetricValue::Template(t) if t == "{total}"
        ));
        let f = Dynamic::from(FnPtr::new("f").unwrap());
        assert!(matches!(
            value(metric(MetricKind::Trend, "total", f)),
            MetricValue::Script(_)
        ));
        let err = metric(MetricKind::Counter, "a b", 1_i64.into()).unwrap_err();
        assert!(err.to_string().contains("letters, digits"), "{err}");
        let err = metric(MetricKind::Counter, "n", true.into()).unwrap_err();
        assert!(err.to_string().contains("not a bool"), "{err}");
    }
}
