import { NextResponse, type NextRequest } from 'next/server'

import { createClient } from '@/utils/supabase/server'
import { appOrigin, EMBEDDED_QR_PARAMS, WECHAT_QR } from '@/utils/wechat'

// The iframe on /login?embedded=1 loads this. Like the 微信登录 server action it starts the
// PKCE flow, but asks for WeChat's embedded QR page (what wxLogin.js shows in its iframe).
// It has to be a route handler (or a server action): signInWithOAuth stores the PKCE code
// verifier in a cookie, and a server component's render cannot set cookies.
export async function GET(request: NextRequest) {
  const supabase = await createClient()
  const { data, error } = await supabase.auth.signInWithOAuth({
    provider: WECHAT_QR,
    options: {
      redirectTo: `${appOrigin(request.headers)}/private`,
      queryParams: EMBEDDED_QR_PARAMS,
      // Only build the URL: this handler redirects to it, with the cookie on the response.
      skipBrowserRedirect: true,
    },
  })
  if (error || !data.url) {
    const target = new URL('/error', request.url)
    target.searchParams.set('message', error?.message ?? 'No authorization URL')
    return NextResponse.redirect(target)
  }
  // saoma's /auth/v1/authorize?provider=wechat_qr&...&login_type=jssdk..., which sends the
  // iframe on to WeChat's QR page.
  const response = NextResponse.redirect(data.url)
  // A fresh flow (and code verifier) every time the frame loads; never from a cache.
  response.headers.set('Cache-Control', 'private, no-store')
  return response
}
