import { createServerClient } from '@supabase/ssr'
import { NextResponse, type NextRequest } from 'next/server'

import { supabaseAnonKey, supabaseUrl } from './env'

// Runs before every matched request (see proxy.ts): refreshes an expired access token and
// writes the new session cookies twice, into the request (so the server components rendering
// this request see the fresh session instead of refreshing again) and into the response (so
// the browser replaces its old cookies).
export async function updateSession(request: NextRequest) {
  let response = NextResponse.next({ request })

  const supabase = createServerClient(supabaseUrl(), supabaseAnonKey(), {
    cookies: {
      getAll() {
        return request.cookies.getAll()
      },
      setAll(cookiesToSet, headers) {
        cookiesToSet.forEach(({ name, value }) => request.cookies.set(name, value))
        response = NextResponse.next({ request })
        cookiesToSet.forEach(({ name, value, options }) =>
          response.cookies.set(name, value, options),
        )
        // Cache-Control: private, no-store... so no CDN hands one user's cookies to another.
        Object.entries(headers ?? {}).forEach(([key, value]) => response.headers.set(key, value))
      },
    },
  })

  // Do not put code between createServerClient and getUser(). getUser() asks saoma
  // (GET /auth/v1/user), after refreshing the session (POST /auth/v1/token?grant_type=
  // refresh_token) when the access token expires within 90 s.
  await supabase.auth.getUser()

  return response
}
