'use server'

import type { Provider } from '@supabase/supabase-js'
import { headers } from 'next/headers'
import { redirect } from 'next/navigation'

import { createClient } from '@/utils/supabase/server'
import { phoneErrorCode, retryAfterSeconds } from '@/utils/phone'
import { appOrigin, WECHAT_MINI_QR, WECHAT_MP_QR, WECHAT_QR } from '@/utils/wechat'

/** signInWithOAuth with `provider`, then off to saoma's /auth/v1/authorize. */
async function signInWith(provider: Provider): Promise<never> {
  const supabase = await createClient()
  const { data, error } = await supabase.auth.signInWithOAuth({
    provider,
    options: {
      // Must be allowed by saoma: SAOMA_SITE_URL's host, or a SAOMA_URI_ALLOW_LIST glob.
      redirectTo: `${appOrigin(await headers())}/private`,
    },
  })
  // signInWithOAuth has stored the PKCE code verifier in a cookie; /private needs it.

  if (error || !data.url) {
    redirect(`/error?message=${encodeURIComponent(error?.message ?? 'No authorization URL')}`)
  }
  redirect(data.url)
}

// 微信登录: saoma's /auth/v1/authorize sends the browser on to WeChat's QR page (or, inside
// WeChat's own browser, to the 公众号 authorization page).
export async function login() {
  await signInWith(WECHAT_QR)
}

// 小程序码登录: saoma's waiting page shows your mini-program's code; the person scans it, the
// mini-program page (examples/wechat-mini-program) confirms, and the page moves on by itself.
export async function loginWithMiniProgramCode() {
  await signInWith(WECHAT_MINI_QR)
}

// 关注公众号登录: saoma's waiting page shows the 公众号's QR code; following (or entering) the
// account signs the person in, through the event WeChat pushes to saoma.
export async function loginByFollowing() {
  await signInWith(WECHAT_MP_QR)
}

/** Back to /login with the phone form in the state `params` describe. */
function backToLogin(params: Record<string, string | undefined>): never {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value) query.set(key, value)
  }
  redirect(`/login?${query}`)
}

// 获取验证码: POST /auth/v1/otp {phone}. saoma sends a code by SMS (with `saoma dev`, into its
// simulator's inbox) and creates the account on first use; it answers the same for every
// number, so nothing here reveals whether the number has an account.
export async function sendPhoneCode(formData: FormData) {
  const phone = String(formData.get('phone') ?? '').trim()
  if (!phone) backToLogin({ phone_error: 'missing_phone' })

  const supabase = await createClient()
  const { error } = await supabase.auth.signInWithOtp({ phone })
  if (error) {
    backToLogin({
      phone,
      sent: formData.get('sent') ? '1' : undefined,
      phone_error: phoneErrorCode(error),
      wait: String(retryAfterSeconds(error) ?? ''),
    })
  }
  backToLogin({ phone, sent: '1' })
}

// 登录: POST /auth/v1/verify {type: 'sms', phone, token}. The session lands in the
// sb-<host>-auth-token cookies of this response, as after the WeChat login.
export async function verifyPhoneCode(formData: FormData) {
  const phone = String(formData.get('phone') ?? '').trim()
  const token = String(formData.get('token') ?? '').replace(/\s+/g, '')
  if (!phone) backToLogin({ phone_error: 'missing_phone' })
  if (!token) backToLogin({ phone, sent: '1', phone_error: 'missing_code' })

  const supabase = await createClient()
  const { error } = await supabase.auth.verifyOtp({ phone, token, type: 'sms' })
  if (error) {
    backToLogin({ phone, sent: '1', phone_error: phoneErrorCode(error) })
  }
  redirect('/')
}
