'use server'

import type { Provider } from '@supabase/supabase-js'
import { headers } from 'next/headers'
import { redirect } from 'next/navigation'

import { siteUrl } from '@/utils/supabase/env'
import { createClient } from '@/utils/supabase/server'

// supabase-js's `Provider` type lists Supabase's built-in providers; saoma adds `wechat_qr`.
// The client sends any provider name as is (GET /auth/v1/authorize?provider=wechat_qr).
const WECHAT_QR = 'wechat_qr' as unknown as Provider

/** This app's origin: NEXT_PUBLIC_SITE_URL, else what the browser's request says. */
async function origin(): Promise<string> {
  const configured = siteUrl()
  if (configured) return configured
  const h = await headers()
  const fromBrowser = h.get('origin')
  if (fromBrowser) return fromBrowser
  const host = h.get('x-forwarded-host') ?? h.get('host') ?? 'localhost:3000'
  const proto = h.get('x-forwarded-proto') ?? 'http'
  return `${proto}://${host}`
}

export async function login() {
  const supabase = await createClient()
  const { data, error } = await supabase.auth.signInWithOAuth({
    provider: WECHAT_QR,
    options: {
      // Must be allowed by saoma: SAOMA_SITE_URL's host, or a SAOMA_URI_ALLOW_LIST glob.
      redirectTo: `${await origin()}/private`,
    },
  })
  // signInWithOAuth has stored the PKCE code verifier in a cookie; /private needs it.

  if (error || !data.url) {
    redirect(`/error?message=${encodeURIComponent(error?.message ?? 'No authorization URL')}`)
  }
  // saoma's /auth/v1/authorize, which sends the browser on to WeChat's QR page.
  redirect(data.url)
}
