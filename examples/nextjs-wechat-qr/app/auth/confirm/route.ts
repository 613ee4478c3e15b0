import type { EmailOtpType } from '@supabase/supabase-js'
import { NextResponse, type NextRequest } from 'next/server'

import { safeNext } from '@/utils/email'
import { createClient } from '@/utils/supabase/server'

// Where the links in saoma's mails land (sign-in links, password resets), as in Supabase's
// Next.js guide. Two shapes arrive here:
// - /auth/confirm?token_hash=...&type=email|magiclink|recovery|...&next=/...: from a
//   Supabase-style template ({{ .SiteURL }}/auth/confirm?token_hash={{ .TokenHash }}&type=email).
//   verifyOtp({ type, token_hash }) on the server (POST /auth/v1/verify) signs in.
// - /auth/confirm?next=/...&code=...: from saoma's built-in templates, whose link is saoma's
//   /verify, which checks the token and comes back with a PKCE code for exchangeCodeForSession
//   (the code verifier is the cookie the action that asked for the mail set).
// Either way the session goes into the sb-<host>-auth-token cookies of this response.
// A dead link comes back as ?error=access_denied&error_code=otp_expired&error_description=...
export async function GET(request: NextRequest) {
  const { searchParams } = request.nextUrl
  const next = safeNext(searchParams.get('next'))
  const failure = (message: string, code?: string | null) => {
    const target = new URL('/error', request.url)
    target.searchParams.set('message', message)
    if (code) target.searchParams.set('code', code)
    return NextResponse.redirect(target)
  }

  const error = searchParams.get('error')
  if (error) {
    return failure(
      searchParams.get('error_description') ?? error,
      searchParams.get('error_code') ?? error,
    )
  }

  const supabase = await createClient()
  const tokenHash = searchParams.get('token_hash')
  const type = searchParams.get('type') as EmailOtpType | null
  const code = searchParams.get('code')
  if (tokenHash && type) {
    const { error: verifyError } = await supabase.auth.verifyOtp({ type, token_hash: tokenHash })
    if (verifyError) return failure(verifyError.message, verifyError.code)
  } else if (code) {
    const { error: exchangeError } = await supabase.auth.exchangeCodeForSession(code)
    if (exchangeError) return failure(exchangeError.message, exchangeError.code)
  } else {
    return failure('The link had no token', 'missing_token')
  }
  return NextResponse.redirect(new URL(next, request.url))
}
