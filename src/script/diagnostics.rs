//! Rhai errors → miette diagnostics that show the file, line, column and the
//! offending line, following errors into module and function calls.

use miette::{NamedSource, SourceSpan};
use rhai::{EvalAltResult, Position};

use super::resolver::Sources;

/// A script error with its source line, ready for miette to render.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(code(runner::script))]
pub struct ScriptError {
    message: String,
    #[source_code]
    src: NamedSource<String>,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
    #[related]
    related: Vec<ScriptError>,
}

impl ScriptError {
    /// An error that points at no particular line.
    pub fn message(message: String) -> Self {
        ScriptError {
            message,
            src: NamedSource::new("", String::new()),
            span: None,
            label: String::new(),
            help: None,
            related: Vec::new(),
        }
    }
}

impl Sources {
    /// Diagnoses an error raised while running the main script or one of its closures.
    pub fn diagnose(&self, err: &EvalAltResult) -> ScriptError {
        self.diagnose_in(&self.get(None).0, err)
    }

    /// Diagnoses an error whose position refers to the source named `name`.
    pub fn diagnose_in(&self, name: &str, err: &EvalAltResult) -> ScriptError {
        let (name, text) = self.get(Some(name));
        match err {
            EvalAltResult::ErrorInFunctionCall(func, src, inner, pos) => {
                let inner_src = if src.is_empty() {
                    name.as_str()
                } else {
                    src.as_str()
                };
                let cause = self.diagnose_in(inner_src, inner);
                let mut e = located(&name, &text, *pos, format!("error in call to `{func}`"));
                e.message = cause.message.clone();
                e.related.push(cause);
                e
            }
            EvalAltResult::ErrorInModule(module, inner, pos) => {
                let cause = self.diagnose_in(module, inner);
                let mut e = located(&name, &text, *pos, format!("error in module `{module}`"));
                e.message = cause.message.clone();
                e.related.push(cause);
                e
            }
            leaf => {
                let pos = leaf.position();
                let full = leaf.to_string();
                let suffix = format!(" ({pos})");
                let label = full.strip_suffix(&suffix).unwrap_or(&full);
                let (kind, label) = match leaf {
                    // Rhai's text starts "Syntax error: ", which `kind` says already.
                    EvalAltResult::ErrorParsing(..) => (
                        "syntax error",
                        label.strip_prefix("Syntax error: ").unwrap_or(label),
                    ),
                    _ => ("script error", label),
                };
                let label = label.to_owned();
                let mut e = located(&name, &text, pos, label.clone());
                e.message = format!("{kind} in {name}: {label}");
                e.help = help_for(leaf);
                e
            }
        }
    }
}

fn located(name: &str, text: &str, pos: Position, label: String) -> ScriptError {
    let line = pos
        .line()
        .map(|l| format!(":{l}:{}", pos.position().unwrap_or(1)))
        .unwrap_or_default();
    ScriptError {
        message: format!("{name}{line}: {label}"),
        src: NamedSource::new(name, text.to_owned()),
        span: span_at(text, pos),
        label,
        help: None,
        related: Vec::new(),
    }
}

fn help_for(err: &EvalAltResult) -> Option<String> {
    let text = match err {
        EvalAltResult::ErrorTooManyOperations(_) => {
            "the script ran too long: scripts describe a scenario and must finish quickly (no endless loops)"
        }
        EvalAltResult::ErrorStackOverflow(_) => "recursion is too deep for a scenario script",
        EvalAltResult::ErrorDataTooLarge(..) => {
            "a string, array or map grew past the script size limits"
        }
        EvalAltResult::ErrorModuleNotFound(..) => {
            "modules are looked up beside the script, then in the embedded stdlib (orders)"
        }
        EvalAltResult::ErrorVariableNotFound(..) => {
            "variables must be declared with `let` before use"
        }
        _ => return None,
    };
    Some(text.to_owned())
}

/// The byte span of the token at a Rhai position (1-based line, column in chars).
pub fn span_at(src: &str, pos: Position) -> Option<SourceSpan> {
    let line = pos.line()?;
    let col = pos.position().unwrap_or(1);
    let line_start: usize = src.split_inclusive('\n').take(line - 1).map(str::len).sum();
    if line_start > src.len() {
        return None;
    }
    let text = src[line_start..].lines().next().unwrap_or("");
    let start = text
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(text.len(), |(b, _)| b);
    let rest = &text[start..];
    let len = if let Some(quoted) = rest.strip_prefix('"') {
        quoted.find('"').map_or(rest.len(), |i| i + 2)
    } else {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())
            .max(rest.chars().next().map_or(0, char::len_utf8))
    };
    Some(SourceSpan::new((line_start + start).into(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_covers_the_identifier_at_the_position() {
        let src = "let a = 1;\nlet bee = oops;\n";
        let span = span_at(src, Position::new(2, 11)).unwrap();
        assert_eq!(&src[span.offset()..span.offset() + span.len()], "oops");
    }
}
