'use server'

import { headers } from 'next/headers'
import { redirect } from 'next/navigation'

import { createClient } from '@/utils/supabase/server'
import { appOrigin, WECHAT_QR } from '@/utils/wechat'

export async function login() {
  const supabase = await createClient()
  const { data, error } = await supabase.auth.signInWithOAuth({
    provider: WECHAT_QR,
    options: {
      // Must be allowed by saoma: SAOMA_SITE_URL's host, or a SAOMA_URI_ALLOW_LIST glob.
      redirectTo: `${appOrigin(await headers())}/private`,
    },
  })
  // signInWithOAuth has stored the PKCE code verifier in a cookie; /private needs it.

  if (error || !data.url) {
    redirect(`/error?message=${encodeURIComponent(error?.message ?? 'No authorization URL')}`)
  }
  // saoma's /auth/v1/authorize, which sends the browser on to WeChat's QR page (or, inside
  // WeChat's own browser, to the 公众号 authorization page).
  redirect(data.url)
}
