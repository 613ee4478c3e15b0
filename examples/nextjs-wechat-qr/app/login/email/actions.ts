'use server'

import { headers } from 'next/headers'
import { redirect } from 'next/navigation'

import { emailErrorCode, retryAfterSeconds, withQuery } from '@/utils/email'
import { createClient } from '@/utils/supabase/server'
import { appOrigin } from '@/utils/wechat'

const PAGE = '/login/email'

function field(formData: FormData, name: string): string {
  return String(formData.get(name) ?? '').trim()
}

// 发送登录邮件: POST /auth/v1/otp {email}. saoma mails a sign-in link and a code (with
// `saoma dev`, into its mailbox at /mailbox) and makes the account on first use; it answers the
// same for every address. The link comes back to /auth/confirm, which signs in and goes to `/`.
export async function sendEmailLink(formData: FormData) {
  const email = field(formData, 'email')
  if (!email) redirect(withQuery(PAGE, { email_error: 'missing_email' }))

  const supabase = await createClient()
  const { error } = await supabase.auth.signInWithOtp({
    email,
    options: {
      // Must be allowed by saoma: SAOMA_SITE_URL's host, or a SAOMA_URI_ALLOW_LIST glob.
      emailRedirectTo: `${appOrigin(await headers())}/auth/confirm?next=/`,
    },
  })
  if (error) {
    redirect(
      withQuery(PAGE, {
        email,
        sent: formData.get('sent') ? '1' : undefined,
        email_error: emailErrorCode(error),
        wait: String(retryAfterSeconds(error) ?? ''),
      }),
    )
  }
  redirect(withQuery(PAGE, { email, sent: '1' }))
}

// 登录 with the mailed code: POST /auth/v1/verify {type: 'email', email, token}; the session
// goes into the sb-<host>-auth-token cookies of this response.
export async function verifyEmailCode(formData: FormData) {
  const email = field(formData, 'email')
  const token = field(formData, 'token').replace(/\s+/g, '')
  if (!email) redirect(withQuery(PAGE, { email_error: 'missing_email' }))
  if (!token) redirect(withQuery(PAGE, { email, sent: '1', email_error: 'missing_code' }))

  const supabase = await createClient()
  const { error } = await supabase.auth.verifyOtp({ email, token, type: 'email' })
  if (error) {
    redirect(withQuery(PAGE, { email, sent: '1', email_error: emailErrorCode(error) }))
  }
  redirect('/')
}

// 邮箱 + 密码: POST /auth/v1/token?grant_type=password.
export async function signInWithPassword(formData: FormData) {
  const email = field(formData, 'email')
  const password = String(formData.get('password') ?? '')
  if (!email) redirect(withQuery(PAGE, { password_error: 'missing_email' }))
  if (!password) redirect(withQuery(PAGE, { email, password_error: 'missing_password' }))

  const supabase = await createClient()
  const { error } = await supabase.auth.signInWithPassword({ email, password })
  if (error) {
    redirect(withQuery(PAGE, { email, password_error: emailErrorCode(error) }))
  }
  redirect('/')
}
