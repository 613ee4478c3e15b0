import { NextResponse, type NextRequest } from 'next/server'

import { createClient } from '@/utils/supabase/server'

// saoma redirects here after the WeChat login: /private?code=... (PKCE), or
// /private?error=access_denied&error_code=...&error_description=... when it failed or the
// user cancelled on the phone.
export async function GET(request: NextRequest) {
  const { searchParams } = request.nextUrl
  const code = searchParams.get('code')
  // Only same-site paths: `next` must not turn this into an open redirect.
  const nextParam = searchParams.get('next') ?? '/'
  const next = nextParam.startsWith('/') && !nextParam.startsWith('//') ? nextParam : '/'

  const failure = (message: string, errorCode?: string | null) => {
    const target = new URL('/error', request.url)
    target.searchParams.set('message', message)
    if (errorCode) target.searchParams.set('code', errorCode)
    return NextResponse.redirect(target)
  }

  const error = searchParams.get('error')
  if (error) {
    return failure(
      searchParams.get('error_description') ?? error,
      searchParams.get('error_code') ?? error,
    )
  }
  if (!code) {
    return failure('The login callback had no code')
  }

  const supabase = await createClient()
  // POST /auth/v1/token?grant_type=pkce with the code verifier from the cookie; the session
  // is written to the sb-<host>-auth-token cookie(s) of this response.
  const { error: exchangeError } = await supabase.auth.exchangeCodeForSession(code)
  if (exchangeError) {
    return failure(exchangeError.message, exchangeError.code)
  }
  return NextResponse.redirect(new URL(next, request.url))
}
