//! The XML of WeChat's pushes, and just enough reading of it to judge a server's reply.

/// An event push: `<xml><ToUserName>…<Event>…<EventKey>…<Ticket>…</xml>`.
pub struct EventXml<'a> {
    /// The 公众号's original id, `gh_…`.
    pub to_user: &'a str,
    pub from_openid: &'a str,
    pub create_time: u64,
    pub event: &'a str,
    pub event_key: &'a str,
    pub ticket: &'a str,
}

impl EventXml<'_> {
    pub fn render(&self) -> String {
        format!(
            "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName>\
             <CreateTime>{}</CreateTime><MsgType>{}</MsgType><Event>{}</Event>\
             <EventKey>{}</EventKey><Ticket>{}</Ticket></xml>",
            cdata(self.to_user),
            cdata(self.from_openid),
            self.create_time,
            cdata("event"),
            cdata(self.event),
            cdata(self.event_key),
            cdata(self.ticket),
        )
    }
}

/// 安全模式's body: the recipient in clear, the message in `<Encrypt>`.
pub fn encrypted_body(to_user: &str, encrypt: &str) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><Encrypt>{}</Encrypt></xml>",
        cdata(to_user),
        cdata(encrypt)
    )
}

/// `<![CDATA[text]]>`; a `]]>` inside is split across two sections, as XML requires.
pub fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// The text of the first `<tag>…</tag>` (CDATA unwrapped); `None` if absent.
pub fn field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    let inner = xml[start..start + len].trim();
    let text = match inner.strip_prefix("<![CDATA[") {
        Some(rest) => rest.strip_suffix("]]>")?.replace("]]]]><![CDATA[>", "]]>"),
        None => inner.to_owned(),
    };
    Some(text)
}

/// A passive reply message WeChat would show the user: an `<xml>` with the four headers.
pub fn is_passive_reply(xml: &str) -> bool {
    let xml = xml.trim();
    xml.starts_with("<xml>")
        && xml.ends_with("</xml>")
        && ["ToUserName", "FromUserName", "CreateTime", "MsgType"]
            .iter()
            .all(|tag| field(xml, tag).is_some_and(|value| !value.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_wechats_event_and_reads_it_back() {
        let xml = EventXml {
            to_user: "gh_123",
            from_openid: "oABC",
            create_time: 1714036504,
            event: "subscribe",
            event_key: "qrscene_x]]>y",
            ticket: "gQ1",
        }
        .render();
        assert!(xml.starts_with(
            "<xml><ToUserName><![CDATA[gh_123]]></ToUserName><FromUserName><![CDATA[oABC]]>"
        ));
        assert!(xml.contains("<CreateTime>1714036504</CreateTime><MsgType><![CDATA[event]]>"));
        assert_eq!(field(&xml, "EventKey").as_deref(), Some("qrscene_x]]>y"));
        assert_eq!(field(&xml, "CreateTime").as_deref(), Some("1714036504"));
        assert_eq!(field(&xml, "Nope"), None);
        assert!(is_passive_reply(&xml));
        assert!(!is_passive_reply("{\"ok\":true}"));
        assert!(!is_passive_reply("<xml><ToUserName>a</ToUserName></xml>"));
    }
}
