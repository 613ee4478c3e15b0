import { createServerClient } from '@supabase/ssr'
import { cookies } from 'next/headers'

import { supabaseAnonKey, supabaseUrl } from './env'

// A Supabase client for server components, server actions and route handlers. Create one per
// request: it reads that request's cookies.
export async function createClient() {
  // cookies() is async since Next.js 15.
  const cookieStore = await cookies()

  return createServerClient(supabaseUrl(), supabaseAnonKey(), {
    cookies: {
      getAll() {
        return cookieStore.getAll()
      },
      setAll(cookiesToSet) {
        try {
          cookiesToSet.forEach(({ name, value, options }) => cookieStore.set(name, value, options))
        } catch {
          // Called from a server component, which cannot set cookies. That is fine: the proxy
          // (proxy.ts) has already refreshed the session and written the cookies for this
          // request. Server actions and route handlers can set them and do.
        }
      },
    },
  })
}
