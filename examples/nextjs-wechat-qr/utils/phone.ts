import type { AuthError } from '@supabase/supabase-js'

// The phone login's errors travel back to /login as an error code in the URL, never as text:
// the page shows only messages of its own, so a crafted link cannot put words on it.

/** What the user reads for each of saoma's (GoTrue's) error codes the phone login can meet. */
const MESSAGES: Record<string, string> = {
  missing_phone: '请输入手机号。',
  missing_code: '请输入短信验证码。',
  validation_failed: '手机号格式不正确，请检查后重试。',
  otp_expired: '验证码错误或已过期，请重新输入或重新获取。',
  over_sms_send_rate_limit: '验证码发送太频繁，请稍后再试。',
  over_request_rate_limit: '请求太频繁，请稍后再试。',
  sms_send_failed: '短信发送失败，请稍后再试。',
  phone_provider_disabled: '暂未开放手机号登录。',
  signup_disabled: '暂不开放新用户注册。',
  user_banned: '该账号已被停用。',
}

const UNKNOWN = 'unknown'

/** The error code to put in the URL: one the page knows, else `unknown`. */
export function phoneErrorCode(error: AuthError): string {
  return error.code && error.code in MESSAGES ? error.code : UNKNOWN
}

/**
 * Seconds to wait before asking for another code, from GoTrue's "...you can only request this
 * after 42 seconds." (the 429 `over_sms_send_rate_limit` answer).
 */
export function retryAfterSeconds(error: AuthError): number | undefined {
  const seconds = /after (\d+) seconds?/.exec(error.message)?.[1]
  return seconds ? Number(seconds) : undefined
}

/** The sentence /login shows for `code` (and `wait` seconds, for a refused resend). */
export function phoneErrorMessage(code: string, wait?: string): string {
  if (code === 'over_sms_send_rate_limit' && wait && /^\d+$/.test(wait)) {
    return `验证码发送太频繁，请 ${wait} 秒后再获取。`
  }
  return MESSAGES[code] ?? '手机号登录失败，请重试。'
}

/** A number as the page shows it: saoma answers digits with the country code, no `+`. */
export function displayPhone(phone: string): string {
  return phone.startsWith('+') ? phone : `+${phone}`
}
