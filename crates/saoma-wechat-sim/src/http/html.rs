//! Tiny HTML helpers: escaping and the one page layout every page shares.

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};

use crate::config::Persona;
use crate::simulator::Shared;

const STYLE: &str = include_str!("assets/sim.css");

/// Escapes text for HTML text and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole document. `body_class` picks the look (e.g. "qr-page dark"); `head` and `body`
/// are already-escaped HTML.
/// `<input type="hidden">` fields carrying `fields` through a form, escaped.
pub fn hidden_inputs(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape(name),
                escape(value)
            )
        })
        .collect()
}

pub fn page(title: &str, body_class: &str, head: &str, body: &str) -> Response {
    let title = escape(title);
    let document = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n{head}</head>\n\
         <body class=\"{body_class}\">\n{body}\n</body>\n</html>\n"
    );
    // Tickets change every second; a cached page would show a stale QR code.
    let mut response = Html(document).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The simulated phone: WeChat's grey screen with a title bar reading `bar`.
pub fn phone_page(bar: &str, body: &str) -> Response {
    let frame = format!("<div class=\"phone-bar\">{}</div>\n{body}", escape(bar));
    page(bar, "phone-screen", "", &frame)
}

/// The persona radios of the phone pages (the first checked); `note` adds a remark after
/// a persona's id, e.g. 已关注.
pub fn persona_radios(shared: &Shared, note: impl Fn(&Persona) -> String) -> String {
    shared
        .config
        .personas
        .iter()
        .enumerate()
        .map(|(index, persona)| {
            format!(
                "<label class=\"persona\"><input type=\"radio\" name=\"persona\" value=\"{id}\"{checked}>\
                 <img src=\"{avatar}\" alt=\"\"><span class=\"nickname\">{nickname}</span>\
                 <span class=\"persona-id\">{id}</span>{note}</label>\n",
                id = escape(&persona.id),
                checked = if index == 0 { " checked" } else { "" },
                avatar = escape(&shared.url(&format!("/sim/avatar/{}/64", persona.id))),
                nickname = escape(&persona.nickname),
                note = note(persona),
            )
        })
        .collect()
}

/// Whether the caller asked for JSON (`Accept: application/json`), as tests driving the
/// phone do.
pub fn wants_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
