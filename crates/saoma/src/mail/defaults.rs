//! The built-in mails, in Chinese and English: one layout (a heading, a line, a button, the
//! code, the plain link) filled per mail and language, as template sources in GoTrue's syntax
//! so they render exactly like a user's own templates. The English subjects are GoTrue's.

use super::templates::Kind;

/// A built-in mail's words in one language.
struct Words {
    subject: &'static str,
    heading: &'static str,
    /// May use template variables (`{{ .Email }}`).
    intro: &'static str,
    /// The button's label; `None`: the mail has no link (reauthentication).
    button: Option<&'static str>,
}

/// What every mail of a language shares.
struct Common {
    lang: &'static str,
    code_label: &'static str,
    link_label: &'static str,
    footer: &'static str,
    /// The footer of a mail with a code and no link.
    code_only_footer: &'static str,
    /// Between a label and what it labels in the text part.
    colon: &'static str,
}

const EN: Common = Common {
    lang: "en",
    code_label: "Or enter this code",
    link_label: "If the button does not work, open this link:",
    footer: "The link and the code work once. If you did not ask for this mail, you can ignore it.",
    code_only_footer: "The code works once. If you did not ask for it, you can ignore this mail.",
    colon: ": ",
};

const ZH: Common = Common {
    lang: "zh-CN",
    code_label: "或输入验证码",
    link_label: "如果按钮无法点击，请在浏览器中打开以下链接：",
    footer: "链接和验证码仅可使用一次。如果这不是您本人的操作，请忽略此邮件。",
    code_only_footer: "验证码仅可使用一次。如果这不是您本人的操作，请忽略此邮件。",
    colon: "：",
};

fn words(kind: Kind, zh: bool) -> Words {
    let (subject, heading, intro, button) = match (kind, zh) {
        (Kind::Confirmation, false) => (
            "Confirm your email address",
            "Confirm your email address",
            "Thanks for signing up. Confirm {{ .Email }} to finish.",
            Some("Confirm email"),
        ),
        (Kind::Confirmation, true) => (
            "确认您的邮箱地址",
            "确认您的邮箱地址",
            "感谢注册。请确认 {{ .Email }} 以完成注册。",
            Some("确认邮箱"),
        ),
        (Kind::Invite, false) => (
            "You've been invited",
            "You've been invited",
            "You have been invited to create an account on {{ .SiteURL }}. Accept the invitation to set it up.",
            Some("Accept the invitation"),
        ),
        (Kind::Invite, true) => (
            "您收到了一份邀请",
            "您收到了一份邀请",
            "您被邀请在 {{ .SiteURL }} 创建账号，接受邀请即可完成设置。",
            Some("接受邀请"),
        ),
        (Kind::MagicLink, false) => (
            "Your sign-in link",
            "Your sign-in link",
            "Use the button below to sign in as {{ .Email }}.",
            Some("Sign in"),
        ),
        (Kind::MagicLink, true) => (
            "您的登录链接",
            "您的登录链接",
            "点击下方按钮，以 {{ .Email }} 登录。",
            Some("登录"),
        ),
        (Kind::Recovery, false) => (
            "Reset your password",
            "Reset your password",
            "Someone asked to reset the password of {{ .Email }}. If it was you, continue below.",
            Some("Reset password"),
        ),
        (Kind::Recovery, true) => (
            "重置您的密码",
            "重置您的密码",
            "有人请求重置 {{ .Email }} 的密码。如果是您本人，请继续操作。",
            Some("重置密码"),
        ),
        (Kind::EmailChange, false) => (
            "Confirm your new email address",
            "Confirm your new email address",
            "Confirm the change of your email address from {{ .Email }} to {{ .NewEmail }}.",
            Some("Confirm the change"),
        ),
        (Kind::EmailChange, true) => (
            "确认您的新邮箱地址",
            "确认您的新邮箱地址",
            "请确认将邮箱地址从 {{ .Email }} 更改为 {{ .NewEmail }}。",
            Some("确认更改"),
        ),
        (Kind::Reauthentication, false) => (
            "{{ .Token }} is your verification code",
            "Confirm it's you",
            "Enter this code to confirm it is you:",
            None,
        ),
        (Kind::Reauthentication, true) => (
            "{{ .Token }} 是您的验证码",
            "确认是您本人",
            "请输入以下验证码，确认是您本人操作：",
            None,
        ),
    };
    Words {
        subject,
        heading,
        intro,
        button,
    }
}

/// The built-in subject, HTML body and text body sources of `kind`.
pub(super) fn sources(kind: Kind, zh: bool) -> (String, String, String) {
    let words = words(kind, zh);
    let common = if zh { &ZH } else { &EN };
    (
        words.subject.to_owned(),
        html(&words, common),
        text(&words, common),
    )
}

const FONT: &str = "-apple-system,BlinkMacSystemFont,'Segoe UI','PingFang SC','Microsoft YaHei',Helvetica,Arial,sans-serif";

fn html(words: &Words, common: &Common) -> String {
    let Words {
        heading,
        intro,
        button,
        ..
    } = words;
    let Common {
        lang,
        code_label,
        link_label,
        colon,
        ..
    } = common;
    let footer = footer(words, common);
    let (button, code_label, link) = match button {
        Some(label) => (
            format!(
                r#"<p style="margin:0 0 24px;"><a href="{{{{ .ConfirmationURL }}}}" style="display:inline-block;background:#16a34a;color:#ffffff;text-decoration:none;padding:12px 28px;border-radius:6px;font-size:15px;font-weight:600;">{label}</a></p>
"#
            ),
            *code_label,
            format!(
                r#"<p style="margin:0 0 4px;font-size:13px;color:#57606a;">{link_label}</p>
<p style="margin:0 0 24px;font-size:13px;word-break:break-all;"><a href="{{{{ .ConfirmationURL }}}}" style="color:#0969da;">{{{{ .ConfirmationURL }}}}</a></p>
"#
            ),
        ),
        None => (String::new(), "", String::new()),
    };
    let code_label = if code_label.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p style="margin:0 0 4px;font-size:14px;color:#57606a;">{code_label}{}</p>"#,
            colon.trim_end()
        )
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{heading}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;padding:32px 12px;"><tr><td align="center">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:480px;background:#ffffff;border-radius:8px;font-family:{FONT};color:#1f2328;line-height:1.6;"><tr><td style="padding:32px;">
<h1 style="margin:0 0 16px;font-size:20px;">{heading}</h1>
<p style="margin:0 0 24px;font-size:15px;">{intro}</p>
{button}{code_label}
<p style="margin:0 0 24px;font-size:28px;font-weight:700;letter-spacing:6px;font-family:Menlo,Consolas,monospace;">{{{{ .Token }}}}</p>
{link}<p style="margin:0;font-size:12px;color:#8c959f;">{footer}</p>
</td></tr></table>
</td></tr></table>
</body>
</html>
"#
    )
}

fn footer(words: &Words, common: &Common) -> &'static str {
    if words.button.is_some() {
        common.footer
    } else {
        common.code_only_footer
    }
}

/// The plain-text part: the same words and data, readable in any mail client.
fn text(words: &Words, common: &Common) -> String {
    let mut text = format!("{}\n\n{}\n\n", words.heading, words.intro);
    let colon = common.colon;
    if let Some(button) = words.button {
        text.push_str(&format!(
            "{button}{colon}{{{{ .ConfirmationURL }}}}\n\n{}{colon}{{{{ .Token }}}}\n\n",
            common.code_label
        ));
    } else {
        text.push_str("    {{ .Token }}\n\n");
    }
    text.push_str(footer(words, common));
    text.push('\n');
    text
}
