import type { AuthError } from '@supabase/supabase-js'

// The email pages' errors travel back as an error code in the URL, never as text (as the phone
// login's do): the pages show only messages of their own, so a crafted link cannot put words on
// them.

/** What the user reads for each of saoma's (GoTrue's) error codes the email pages can meet. */
const MESSAGES: Record<string, string> = {
  missing_email: '请输入邮箱地址。',
  missing_code: '请输入邮件中的验证码。',
  missing_password: '请输入密码。',
  password_mismatch: '两次输入的密码不一致。',
  validation_failed: '邮箱地址格式不正确，请检查后重试。',
  otp_expired: '验证码或链接错误或已过期，请重新获取。',
  invalid_credentials: '邮箱或密码错误。',
  email_not_confirmed: '邮箱尚未验证，请先点击验证邮件中的链接。',
  over_email_send_rate_limit: '邮件发送太频繁，请稍后再试。',
  over_request_rate_limit: '请求太频繁，请稍后再试。',
  email_send_failed: '邮件发送失败，请稍后再试。',
  email_provider_disabled: '暂未开放邮箱登录。',
  signup_disabled: '暂不开放新用户注册。',
  otp_disabled: '暂不开放新用户注册。',
  weak_password: '密码太简单，请至少使用 6 个字符。',
  same_password: '新密码不能与旧密码相同。',
  user_banned: '该账号已被停用。',
}

const UNKNOWN = 'unknown'

/**
 * The error code to put in the URL: one the page knows, else `unknown`. supabase-js hands 5xx
 * answers over without a code (as retryable errors); a mail that could not leave is one.
 */
export function emailErrorCode(error: AuthError): string {
  if (error.code && error.code in MESSAGES) return error.code
  if (error.status === 503) return 'email_send_failed'
  return UNKNOWN
}

/** Seconds to wait, from GoTrue's "...you can only request this after 42 seconds." (429). */
export function retryAfterSeconds(error: AuthError): number | undefined {
  const seconds = /after (\d+) seconds?/.exec(error.message)?.[1]
  return seconds ? Number(seconds) : undefined
}

/** The sentence a page shows for `code` (and `wait` seconds, for a refused resend). */
export function emailErrorMessage(code: string, wait?: string): string {
  if (code === 'over_email_send_rate_limit' && wait && /^\d+$/.test(wait)) {
    return `邮件发送太频繁，请 ${wait} 秒后再试。`
  }
  return MESSAGES[code] ?? '操作失败，请重试。'
}

/** Back to `path` with the form's state in the query (empty values left out). */
export function withQuery(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value) query.set(key, value)
  }
  const text = query.toString()
  return text ? `${path}?${text}` : path
}

/** Only same-site paths: a `next` parameter must not turn a redirect into an open one. */
export function safeNext(next: string | null | undefined, fallback = '/'): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\')
    ? next
    : fallback
}
