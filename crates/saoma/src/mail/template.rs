//! The part of Go's templates GoTrue's mail templates use, so a Supabase project's templates
//! carry over unchanged: `{{ .Var }}`, `{{ .Data.key }}`, `{{ if ... }}{{ else }}{{ end }}`
//! (with `eq`, `ne`, `not`), comments and `{{- -}}` trimming. As in GoTrue (Go's
//! `html/template` over a map), an unknown variable renders empty, and in HTML each value is
//! escaped for where it stands: text and attributes HTML-escaped, a URL attribute's value
//! checked and normalised, a value in a URL's query percent-encoded. Anything else (`range`,
//! pipes, functions) is refused when the template is loaded, never at send time.

use serde_json::Value;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Value {
        path: Vec<String>,
        escape: Escape,
    },
    If {
        condition: Condition,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone)]
enum Condition {
    Truthy(Operand),
    Not(Operand),
    Equal(Operand, Operand),
    NotEqual(Operand, Operand),
}

#[derive(Debug, Clone)]
enum Operand {
    Path(Vec<String>),
    Literal(String),
}

/// How a value is written, decided from the template text before it (as `html/template`
/// decides it when the template is parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// A subject, a plain-text body.
    None,
    /// HTML text or an ordinary attribute.
    Html,
    /// The start or the path of a URL attribute (`href`, `src`...): unsafe schemes refused,
    /// characters a URL cannot hold percent-encoded, then HTML-escaped.
    UrlAttribute,
    /// After the `?` of a URL attribute: fully percent-encoded, then HTML-escaped.
    UrlQuery,
}

/// What a template reads: GoTrue's variables by name (`Data` an object).
pub type Variables = serde_json::Map<String, Value>;

/// Whether values are escaped as HTML (a body) or written as they are (a subject, text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Html,
    Text,
}

impl Template {
    pub fn parse(source: &str, syntax: Syntax) -> Result<Self, String> {
        let mut parser = Parser {
            source,
            position: 0,
            syntax,
            literal: String::new(),
            trim_next: false,
        };
        let (nodes, end) = parser.block()?;
        match end {
            BlockEnd::Eof => Ok(Self { nodes }),
            BlockEnd::Else => Err("{{ else }} outside an {{ if }}".into()),
            BlockEnd::End => Err("{{ end }} without an {{ if }}".into()),
        }
    }

    pub fn render(&self, variables: &Variables) -> String {
        let mut out = String::new();
        render_nodes(&self.nodes, variables, &mut out);
        out
    }
}

fn render_nodes(nodes: &[Node], variables: &Variables, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Value { path, escape } => {
                let text = display(lookup(variables, path));
                write_escaped(&text, *escape, out);
            }
            Node::If {
                condition,
                then,
                otherwise,
            } => {
                let branch = if holds(condition, variables) {
                    then
                } else {
                    otherwise
                };
                render_nodes(branch, variables, out);
            }
        }
    }
}

fn lookup<'a>(variables: &'a Variables, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = variables.get(first)?;
    for key in rest {
        value = value.as_object()?.get(key)?;
    }
    Some(value)
}

fn operand<'a>(
    variables: &'a Variables,
    operand: &'a Operand,
) -> Option<std::borrow::Cow<'a, Value>> {
    match operand {
        Operand::Path(path) => lookup(variables, path).map(std::borrow::Cow::Borrowed),
        Operand::Literal(text) => Some(std::borrow::Cow::Owned(Value::String(text.clone()))),
    }
}

/// Go's truth: false, 0, "", null and empty collections are false.
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(value)) => *value,
        Some(Value::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(text)) => !text.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
    }
}

fn holds(condition: &Condition, variables: &Variables) -> bool {
    match condition {
        Condition::Truthy(value) => truthy(operand(variables, value).as_deref()),
        Condition::Not(value) => !truthy(operand(variables, value).as_deref()),
        Condition::Equal(left, right) => {
            display(operand(variables, left).as_deref())
                == display(operand(variables, right).as_deref())
        }
        Condition::NotEqual(left, right) => {
            display(operand(variables, left).as_deref())
                != display(operand(variables, right).as_deref())
        }
    }
}

/// A value as text: strings as they are, a missing value or null as nothing, objects as JSON.
fn display(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

fn write_escaped(text: &str, escape: Escape, out: &mut String) {
    match escape {
        Escape::None => out.push_str(text),
        Escape::Html => html_escape(text, out),
        Escape::UrlAttribute => {
            if has_unsafe_scheme(text) {
                // What html/template writes for a refused URL.
                out.push_str("#ZgotmplZ");
            } else {
                html_escape(&percent_encode(text, true), out);
            }
        }
        Escape::UrlQuery => html_escape(&percent_encode(text, false), out),
    }
}

/// HTML-escapes as Go's `html/template` does.
pub fn html_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '+' => out.push_str("&#43;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Schemes other than http(s) and mailto (`javascript:`...) are not let into a link.
fn has_unsafe_scheme(url: &str) -> bool {
    let Some((scheme, _)) = url.split_once(':') else {
        return false;
    };
    if scheme.contains('/') {
        return false;
    }
    !["http", "https", "mailto"]
        .iter()
        .any(|safe| scheme.trim().eq_ignore_ascii_case(safe))
}

/// Go's URL escaping: `normalize` keeps URL punctuation and existing `%XX` (a whole URL);
/// otherwise only unreserved characters stay (a query value).
fn percent_encode(text: &str, normalize: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (index, &byte) in bytes.iter().enumerate() {
        let keep = match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => true,
            b'!' | b'#' | b'$' | b'&' | b'*' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?'
            | b'@' | b'[' | b']' => normalize,
            b'%' => {
                normalize
                    && bytes.get(index + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(index + 2).is_some_and(u8::is_ascii_hexdigit)
            }
            _ => false,
        };
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02x}"));
        }
    }
    out
}

enum BlockEnd {
    Eof,
    Else,
    End,
}

struct Parser<'a> {
    source: &'a str,
    position: usize,
    syntax: Syntax,
    /// The template's text so far, without its actions: where a value stands in the HTML.
    literal: String,
    /// The previous action ended with ` -}}`: the next text loses its leading whitespace.
    trim_next: bool,
}

impl Parser<'_> {
    /// Nodes up to the end of the source, or to the `{{ else }}` / `{{ end }}` that closes
    /// the enclosing `if`.
    fn block(&mut self) -> Result<(Vec<Node>, BlockEnd), String> {
        let mut nodes = Vec::new();
        loop {
            let rest = &self.source[self.position..];
            let Some(open) = rest.find("{{") else {
                self.push_text(&mut nodes, rest, false);
                self.position = self.source.len();
                return Ok((nodes, BlockEnd::Eof));
            };
            let after_open = &rest[open + 2..];
            let trim_before = after_open.starts_with("- ")
                || after_open.starts_with("-\t")
                || after_open.starts_with("-\n");
            self.push_text(&mut nodes, &rest[..open], trim_before);
            let Some(close) = after_open.find("}}") else {
                return Err("a {{ without its }}".into());
            };
            let mut action = &after_open[..close];
            if trim_before {
                action = &action[1..];
            }
            self.trim_next =
                action.ends_with(" -") || action.ends_with("\t-") || action.ends_with("\n-");
            if self.trim_next {
                action = &action[..action.len() - 1];
            }
            self.position += open + 2 + close + 2;
            let action = action.trim();
            if action.starts_with("/*") && action.ends_with("*/") {
                continue;
            }
            let words = split_words(action)?;
            match words.first().map(String::as_str) {
                Some("end") if words.len() == 1 => return Ok((nodes, BlockEnd::End)),
                Some("else") if words.len() == 1 => return Ok((nodes, BlockEnd::Else)),
                Some("if") => {
                    let condition = condition(&words[1..])?;
                    let (then, end) = self.block()?;
                    let otherwise = match end {
                        BlockEnd::End => Vec::new(),
                        BlockEnd::Else => match self.block()? {
                            (otherwise, BlockEnd::End) => otherwise,
                            _ => return Err("an {{ if }} without its {{ end }}".into()),
                        },
                        BlockEnd::Eof => return Err("an {{ if }} without its {{ end }}".into()),
                    };
                    nodes.push(Node::If {
                        condition,
                        then,
                        otherwise,
                    });
                }
                _ if words.len() == 1 && words[0].starts_with('.') => {
                    let path = variable_path(&words[0])?;
                    let escape = self.escape_here();
                    nodes.push(Node::Value { path, escape });
                }
                _ => {
                    return Err(format!(
                        "{{{{ {action} }}}} is not supported (only {{{{ .Variable }}}}, {{{{ if }}}}, {{{{ else }}}}, {{{{ end }}}}, eq, ne, not)"
                    ))
                }
            }
        }
    }

    fn push_text(&mut self, nodes: &mut Vec<Node>, text: &str, trim_end: bool) {
        let mut text = text;
        if std::mem::take(&mut self.trim_next) {
            text = text.trim_start();
        }
        if trim_end {
            text = text.trim_end();
        }
        if !text.is_empty() {
            self.literal.push_str(text);
            nodes.push(Node::Text(text.to_owned()));
        }
    }

    /// Where a value written now stands: in a tag's attribute (which one, and is it past a
    /// URL's `?`), or in text.
    fn escape_here(&self) -> Escape {
        if self.syntax == Syntax::Text {
            return Escape::None;
        }
        let literal = &self.literal;
        let Some(tag_start) = literal.rfind('<') else {
            return Escape::Html;
        };
        if literal[tag_start..].contains('>') {
            return Escape::Html;
        }
        match open_attribute(&literal[tag_start + 1..]) {
            Some((name, value)) if is_url_attribute(&name) => {
                if value.contains('?') {
                    Escape::UrlQuery
                } else {
                    Escape::UrlAttribute
                }
            }
            _ => Escape::Html,
        }
    }
}

/// In a tag's text so far, the attribute whose quoted value is still open: its name
/// (lower case) and its value so far.
fn open_attribute(tag: &str) -> Option<(String, String)> {
    let mut name = String::new();
    let mut reading_name = false;
    let mut after_equals = false;
    let mut unquoted_value = false;
    let mut open: Option<(char, String, String)> = None;
    for c in tag.chars() {
        if let Some((quote, _, value)) = &mut open {
            if c == *quote {
                open = None;
            } else {
                value.push(c);
            }
            continue;
        }
        if unquoted_value {
            unquoted_value = !c.is_whitespace();
            continue;
        }
        if after_equals {
            if c.is_whitespace() {
                continue;
            }
            after_equals = false;
            if c == '"' || c == '\'' {
                open = Some((c, name.to_ascii_lowercase(), String::new()));
            } else {
                unquoted_value = true;
            }
            continue;
        }
        if c == '=' {
            after_equals = true;
            reading_name = false;
        } else if c.is_whitespace() || c == '/' {
            reading_name = false;
        } else {
            if !reading_name {
                name.clear();
                reading_name = true;
            }
            name.push(c);
        }
    }
    open.map(|(_, name, value)| (name, value))
}

fn is_url_attribute(name: &str) -> bool {
    matches!(
        name,
        "href" | "src" | "action" | "formaction" | "cite" | "poster" | "background" | "data"
    ) || name.contains("url")
        || name.contains("uri")
}

/// An action's words: `.Paths`, names and "quoted literals".
fn split_words(action: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut literal = String::from("\"");
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(escaped) => literal.push(escaped),
                        None => return Err("an unfinished string".into()),
                    },
                    Some(c) => literal.push(c),
                    None => return Err("an unfinished string".into()),
                }
            }
            words.push(literal);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            words.push(word);
        }
    }
    Ok(words)
}

fn variable_path(word: &str) -> Result<Vec<String>, String> {
    let path: Vec<String> = word[1..].split('.').map(str::to_owned).collect();
    let valid =
        |part: &String| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_');
    if path.iter().all(valid) {
        Ok(path)
    } else {
        Err(format!("{word} is not a variable"))
    }
}

fn operand_word(word: &str) -> Result<Operand, String> {
    if let Some(literal) = word.strip_prefix('"') {
        Ok(Operand::Literal(literal.to_owned()))
    } else if word.starts_with('.') {
        Ok(Operand::Path(variable_path(word)?))
    } else {
        Err(format!("{word} is not a variable or a \"string\""))
    }
}

fn condition(words: &[String]) -> Result<Condition, String> {
    let names: Vec<&str> = words.iter().map(String::as_str).collect();
    match names.as_slice() {
        [value] => Ok(Condition::Truthy(operand_word(value)?)),
        ["not", value] => Ok(Condition::Not(operand_word(value)?)),
        ["eq", left, right] => Ok(Condition::Equal(operand_word(left)?, operand_word(right)?)),
        ["ne", left, right] => Ok(Condition::NotEqual(
            operand_word(left)?,
            operand_word(right)?,
        )),
        _ => Err(format!(
            "{{{{ if {} }}}} is not supported (only a variable, not, eq and ne)",
            words.join(" ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn variables(value: Value) -> Variables {
        value.as_object().cloned().unwrap_or_default()
    }

    fn html(source: &str, value: Value) -> String {
        Template::parse(source, Syntax::Html)
            .unwrap()
            .render(&variables(value))
    }

    #[test]
    fn a_supabase_style_template_renders_as_gotrue_would() {
        let source = r#"<h2>Confirm your signup</h2>
<p><a href="{{ .SiteURL }}/auth/confirm?token_hash={{ .TokenHash }}&type=email&next={{.RedirectTo}}">Confirm</a></p>
<p>Or enter {{ .Token }} for {{ .Email }}</p>"#;
        let rendered = html(
            source,
            json!({
                "SiteURL": "https://app.example.com",
                "TokenHash": "pkce_abc123",
                "Token": "123456",
                "Email": "a+b@example.com",
                "RedirectTo": "https://app.example.com/welcome?x=1&y=2",
            }),
        );
        assert!(rendered.contains(
            r#"<a href="https://app.example.com/auth/confirm?token_hash=pkce_abc123&type=email&next=https%3a%2f%2fapp.example.com%2fwelcome%3fx%3d1%26y%3d2">"#
        ), "{rendered}");
        assert!(
            rendered.contains("Or enter 123456 for a&#43;b@example.com"),
            "{rendered}"
        );
    }

    #[test]
    fn values_are_escaped_for_where_they_stand() {
        let rendered = html(
            r#"<p title="{{ .Data.name }}">{{ .Data.name }}</p><a href="{{ .ConfirmationURL }}">x</a><a href='{{ .Bad }}'>y</a>"#,
            json!({
                "Data": { "name": "<b>\"Tom\" & 'Jerry'</b>" },
                "ConfirmationURL": "http://localhost:9999/verify?token=abc&type=signup&redirect_to=http://localhost:3000/a b",
                "Bad": "javascript:alert(1)",
            }),
        );
        assert!(
            rendered.contains(
                "<p title=\"&lt;b&gt;&#34;Tom&#34; &amp; &#39;Jerry&#39;&lt;/b&gt;\">&lt;b&gt;"
            ),
            "{rendered}"
        );
        assert!(rendered.contains(
            r#"href="http://localhost:9999/verify?token=abc&amp;type=signup&amp;redirect_to=http://localhost:3000/a%20b""#
        ), "{rendered}");
        assert!(rendered.contains("href='#ZgotmplZ'"), "{rendered}");
    }

    #[test]
    fn unknown_variables_render_empty_as_in_gotrue() {
        assert_eq!(
            html(
                "[{{ .Nope }}|{{ .Data.missing }}|{{ .Token.deeper }}]",
                json!({"Token": "1", "Data": {}})
            ),
            "[||]"
        );
        let text =
            Template::parse("{{ .Data.age }} {{ .Data.vip }} {{ .Data }}", Syntax::Text).unwrap();
        assert_eq!(
            text.render(&variables(json!({"Data": {"age": 7, "vip": true}}))),
            r#"7 true {"age":7,"vip":true}"#
        );
    }

    #[test]
    fn conditions_comments_and_trimming() {
        let source = "{{- /* a note */ -}}
{{ if .NewEmail }}to {{ .NewEmail }}{{ else }}no change{{ end }};
{{- if eq .Data.plan \"pro\" }} pro{{ end }}{{ if not .Token }} none{{ end }}";
        let template = Template::parse(source, Syntax::Text).unwrap();
        assert_eq!(
            template.render(&variables(
                json!({"NewEmail": "n@x.cn", "Data": {"plan": "pro"}})
            )),
            "to n@x.cn; pro none"
        );
        assert_eq!(
            template.render(&variables(json!({"Token": "1"}))),
            "no change;"
        );
    }

    #[test]
    fn what_is_not_supported_is_refused_when_loaded() {
        for source in [
            "{{ range .Data }}x{{ end }}",
            "{{ .Token | printf \"%s\" }}",
            "{{ if .Token }}open",
            "{{ end }}",
            "{{ .Token",
            "{{ .To-ken }}",
        ] {
            assert!(Template::parse(source, Syntax::Html).is_err(), "{source}");
        }
    }
}
