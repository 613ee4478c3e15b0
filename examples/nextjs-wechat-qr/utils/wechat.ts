import type { Provider } from '@supabase/supabase-js'

import { siteUrl } from './supabase/env'

// supabase-js's `Provider` type lists Supabase's built-in providers; saoma adds its WeChat
// ones. The client sends any provider name as is (GET /auth/v1/authorize?provider=wechat_qr).
export const WECHAT_QR = 'wechat_qr' as unknown as Provider

// Scan logins for sites without a verified WeChat website app (网站应用): saoma's own page shows
// a mini-program code (the person confirms in your mini-program) or a 公众号 QR code (the person
// follows the account). Same redirect and PKCE flow as `wechat_qr`.
export const WECHAT_MINI_QR = 'wechat_mini_qr' as unknown as Provider
export const WECHAT_MP_QR = 'wechat_mp_qr' as unknown as Provider

/**
 * What wxLogin.js puts on the QR page's URL for its iframe. signInWithOAuth's `queryParams`
 * go to saoma's /auth/v1/authorize, which passes parameters it does not know on to WeChat.
 * - login_type=jssdk: the compact QR page meant for an iframe (no title, smaller code).
 * - self_redirect=false: once the phone confirms, the QR page navigates the top window (the
 *   whole app page) to the callback; `true` would navigate only the iframe.
 * - style=black|white: the page's colours.
 */
export const EMBEDDED_QR_PARAMS = {
  login_type: 'jssdk',
  self_redirect: 'false',
  style: 'black',
} as const

/** WeChat's own browser says so in its User-Agent; a QR code cannot be scanned there. */
export function isInWeChat(userAgent: string | null | undefined): boolean {
  return !!userAgent && userAgent.includes('MicroMessenger')
}

/** This app's origin: NEXT_PUBLIC_SITE_URL, else what the browser's request says. */
export function appOrigin(headers: Headers): string {
  const configured = siteUrl()
  if (configured) return configured
  const fromBrowser = headers.get('origin')
  if (fromBrowser && fromBrowser !== 'null') return fromBrowser
  const host = headers.get('x-forwarded-host') ?? headers.get('host') ?? 'localhost:3000'
  const proto = headers.get('x-forwarded-proto') ?? 'http'
  return `${proto}://${host}`
}
