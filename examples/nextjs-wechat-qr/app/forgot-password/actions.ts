'use server'

import { headers } from 'next/headers'
import { redirect } from 'next/navigation'

import { emailErrorCode, retryAfterSeconds, withQuery } from '@/utils/email'
import { createClient } from '@/utils/supabase/server'
import { appOrigin } from '@/utils/wechat'

const PAGE = '/forgot-password'

// 发送重置邮件: POST /auth/v1/recover {email}. saoma answers the same whether or not the
// address has an account (nothing to learn here about who signed up). The mail's link comes
// back to /auth/confirm, which signs in and goes on to /update-password.
export async function sendPasswordReset(formData: FormData) {
  const email = String(formData.get('email') ?? '').trim()
  if (!email) redirect(withQuery(PAGE, { error: 'missing_email' }))

  const supabase = await createClient()
  const { error } = await supabase.auth.resetPasswordForEmail(email, {
    redirectTo: `${appOrigin(await headers())}/auth/confirm?next=/update-password`,
  })
  if (error) {
    redirect(
      withQuery(PAGE, {
        email,
        error: emailErrorCode(error),
        wait: String(retryAfterSeconds(error) ?? ''),
      }),
    )
  }
  redirect(withQuery(PAGE, { email, sent: '1' }))
}
